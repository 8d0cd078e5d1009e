"""Issue 22: the run's data fingerprint (``RUN_DIR/data.json``, :mod:`jointsed.runs.fingerprint`)
and what its comparison names."""

from __future__ import annotations

from pathlib import Path

from jointsed.runs.fingerprint import data_fingerprint, fingerprint_differences, read_fingerprint, write_fingerprint


def _files(tmp_path: Path, sizes: dict[str, int]) -> tuple[list[str], list[Path]]:
    paths = []
    for name, size in sizes.items():
        paths.append(tmp_path / name)
        paths[-1].write_bytes(b"x" * size)
    return list(sizes), paths


def test_the_same_data_has_no_difference_and_round_trips(tmp_path):
    fp = data_fingerprint({"weak": _files(tmp_path, {"a.wav": 3, "b.wav": 4})})
    assert fp["sets"]["weak"]["clips"] == 2 and fp["sets"]["weak"]["bytes"] == 7
    write_fingerprint(tmp_path, fp)
    assert fingerprint_differences(read_fingerprint(tmp_path), fp) == []


def test_differences_name_the_set_and_the_clips(tmp_path):
    old = data_fingerprint({"weak": _files(tmp_path, {"a.wav": 3, "b.wav": 4}), "synthetic": (["s.wav"], [])})
    new = data_fingerprint({"weak": _files(tmp_path, {"a.wav": 5, "c.wav": 4})})
    lines = fingerprint_differences(old, new)
    weak = next(line for line in lines if line.startswith("weak"))
    assert "b.wav" in weak and "gone" in weak and "c.wav" in weak and "new" in weak and "a.wav" in weak
    assert any(line.startswith("synthetic: not used now") for line in lines)


def test_unknown_sizes_are_not_a_difference(tmp_path):
    names, paths = _files(tmp_path, {"a.wav": 3})
    assert fingerprint_differences(data_fingerprint({"weak": (names, paths)}),
                                   data_fingerprint({"weak": (names, [])})) == []
