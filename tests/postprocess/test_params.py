"""Post-processing parameters and their JSON file (jointsed.postprocess.params)."""

from __future__ import annotations

import json

import pytest

from jointsed.config import ConfigError, from_dict
from jointsed.postprocess import PostProcessingError, PostProcessingParams


# ----------------------------------------------------------------------------- params
def test_params_json_round_trip(tmp_path):
    params = PostProcessingParams(
        classes=["a", "b", "c"],
        tag_threshold=[0.5, 0.3, 0.0],
        frame_threshold=[0.5, 0.25, 1.0],
        median_window=[17, 4, 1],
        min_duration=[0.0, 0.1, 0.25],
        max_gap=[0.2, 0.0, 0.0],
    )
    path = tmp_path / "pp.json"
    params.save_json(path, info={"objective": "event_f1"})
    assert json.loads(path.read_text())["info"] == {"objective": "event_f1"}
    assert PostProcessingParams.load_json(path) == params
    assert PostProcessingParams.load_json(path, expected_classes=["a", "b", "c"]) == params
    # the same classes in another order: values follow their class
    reordered = PostProcessingParams.load_json(path, expected_classes=["c", "a", "b"])
    assert reordered.classes == ["c", "a", "b"]
    assert reordered.median_window == [1, 17, 4]
    assert reordered.class_params("b") == params.class_params("b")
    assert not list(tmp_path.glob(".*tmp"))  # atomic write left no temporary behind


def test_params_load_errors(tmp_path):
    params = PostProcessingParams.uniform(["a", "b"], median_window=3)
    path = tmp_path / "pp.json"
    params.save_json(path)
    with pytest.raises(PostProcessingError) as info:
        PostProcessingParams.load_json(path, expected_classes=["a", "b", "Dog"])
    assert "[a, b]" in str(info.value) and "[a, b, Dog]" in str(info.value) and str(path) in str(info.value)

    with pytest.raises(PostProcessingError, match="not found"):
        PostProcessingParams.load_json(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(PostProcessingError, match="line 1: not valid JSON"):
        PostProcessingParams.load_json(bad)
    data = json.loads(path.read_text())
    data["median_window"] = [3, 0]
    bad.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="median_window of class b"):
        PostProcessingParams.load_json(bad)
    data["median_window"] = [3]
    bad.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="median_window: expected one value per class"):
        PostProcessingParams.load_json(bad)
    data = json.loads(path.read_text())
    data["format"] = "something else"
    bad.write_text(json.dumps(data))
    with pytest.raises(PostProcessingError, match="format"):
        PostProcessingParams.load_json(bad)


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("tag_threshold", [0.5, 1.5], "tag_threshold of class b"),
        ("frame_threshold", [0.0, 0.5], "frame_threshold of class a"),
        ("min_duration", [-0.1, 0.0], "min_duration of class a"),
        # NaN: config.from_dict names the list element (max_gap[1]) before validate() names the class
            ("max_gap", [0.0, float("nan")], r"max_gap( of class b|\[1\])"),
    ],
)
def test_params_validate(field, value, match):
    data = PostProcessingParams.uniform(["a", "b"]).to_dict()
    data[field] = value
    with pytest.raises(ConfigError, match=match):
        from_dict(PostProcessingParams, data)
