from __future__ import annotations

import dataclasses
from typing import Literal, Optional

import pytest

from jointsed.config import ConfigError, from_dict, load_yaml, merge, parse_override, to_dict


@dataclasses.dataclass
class Inner:
    channels: list[int] = dataclasses.field(default_factory=lambda: [16, 32])
    dropout: float = 0.3


@dataclasses.dataclass
class Outer:
    name: str
    inner: Inner = dataclasses.field(default_factory=Inner)
    mode: Literal["target", "all", "none"] = "target"
    weight: Optional[float] = None
    pools: tuple[tuple[int, int], ...] = ((5, 4), (5, 2))


def test_round_trip_and_int_to_float():
    cfg = from_dict(Outer, {"name": "x", "inner": {"dropout": 1}, "weight": 2})
    assert cfg.inner.dropout == 1.0 and isinstance(cfg.inner.dropout, float)
    assert cfg.weight == 2.0
    assert from_dict(Outer, to_dict(cfg)) == cfg


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match=r"unknown key 'inner\.dropuot'"):
        from_dict(Outer, {"name": "x", "inner": {"dropuot": 0.1}})


def test_wrong_type_is_named():
    with pytest.raises(ConfigError, match=r"inner\.channels\[1\]: expected an integer"):
        from_dict(Outer, {"name": "x", "inner": {"channels": [1, "a"]}})
    with pytest.raises(ConfigError, match=r"mode: must be one of"):
        from_dict(Outer, {"name": "x", "mode": "frames"})
    with pytest.raises(ConfigError, match=r"missing required key 'name'"):
        from_dict(Outer, {})
    with pytest.raises(ConfigError, match=r"pools\[0\]: expected 2 items"):
        from_dict(Outer, {"name": "x", "pools": [[1, 2, 3]]})


def test_yaml_errors_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: 1\nb: [1, 2\nc: 3\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml, line \d+: not valid YAML"):
        load_yaml(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_yaml(tmp_path / "missing.yaml")


def test_merge_and_override():
    base = {"a": {"b": 1, "c": 2}, "d": 3}
    assert merge(base, {"a": {"b": 5}}) == {"a": {"b": 5, "c": 2}, "d": 3}
    assert parse_override("training.max_epochs=3") == {"training": {"max_epochs": 3}}
    assert parse_override("x.y=[1, 2]") == {"x": {"y": [1, 2]}}
