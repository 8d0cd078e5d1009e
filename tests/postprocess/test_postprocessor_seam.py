"""The post-processor seam (jointsed.postprocess.base): the registry, the JSON form of both
methods, files in the format written before methods existed, and Lin's method through the seam
giving exactly what Lin's pipeline gives."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jointsed.config import ConfigError
from jointsed.postprocess import PostProcessingParams, SebbPostProcessor
from jointsed.postprocess.apply import postprocess_frame_scores, postprocess_scores
from jointsed.postprocess.base import (
    PostProcessingError,
    PostProcessor,
    detect_events,
    frame_forms,
    load_postprocessor,
    postprocessor_class,
    postprocessor_from_dict,
    register_postprocessor,
    registered_postprocessors,
    save_postprocessor,
)

CLASSES = ["Speech", "Dog", "Cat"]


def _lin() -> PostProcessingParams:
    return PostProcessingParams(classes=list(CLASSES), tag_threshold=[0.3, 0.5, 0.7], frame_threshold=[0.4, 0.5, 0.6],
                                median_window=[3, 1, 8], min_duration=[0.0, 0.1, 0.0], max_gap=[0.2, 0.0, 0.0])


def _sebb() -> SebbPostProcessor:
    return SebbPostProcessor(classes=list(CLASSES), tag_threshold=[0.3, 0.5, 0.7], median_window=[3, 1, 8],
                             step_length=[4, 2, 9], change_threshold=[0.1, 0.2, 0.3], merge_gap=[0.0, 0.5, 0.1],
                             detection_threshold=[0.4, 0.5, 0.6], confidence=["max", "mean", "max"])


# ----- registry -----------------------------------------------------------------------------------
def test_registry_lists_the_builtin_methods_default_first():
    names = registered_postprocessors()
    assert names[0] == "lin" and "sebb" in names
    assert postprocessor_class("lin") is PostProcessingParams
    assert postprocessor_class("sebb") is SebbPostProcessor
    assert isinstance(_lin(), PostProcessor) and isinstance(_sebb(), PostProcessor)


def test_unknown_method_names_the_registered_ones(tmp_path):
    with pytest.raises(PostProcessingError, match=r"unknown post-processing method 'nope'.*lin.*sebb"):
        postprocessor_class("nope")
    path = tmp_path / "pp.json"
    path.write_text(json.dumps({"format": "jointsed.postprocess.params/1", "method": "nope", "classes": ["a"]}))
    with pytest.raises(PostProcessingError, match="registered: lin, sebb"):
        load_postprocessor(path)


def test_a_name_cannot_be_taken_twice():
    class Other:
        pass

    with pytest.raises(ValueError, match="already registered"):
        register_postprocessor("sebb")(Other)
    with pytest.raises(ValueError, match="letters, digits"):
        register_postprocessor("a b")


# ----- JSON -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [_lin, _sebb], ids=["lin", "sebb"])
def test_json_round_trip_with_method_key(make, tmp_path):
    pp = make()
    path = tmp_path / "pp.json"
    save_postprocessor(pp, path, info={"note": 1})
    data = json.loads(path.read_text())
    assert data["method"] == pp.method and data["info"] == {"note": 1}
    assert load_postprocessor(path) == pp
    reordered = load_postprocessor(path, ["Cat", "Speech", "Dog"])
    assert reordered.classes == ["Cat", "Speech", "Dog"]
    assert reordered.class_params("Cat") == pp.class_params("Cat")
    with pytest.raises(PostProcessingError, match="tune the post-processing again"):
        load_postprocessor(path, ["Cat", "Speech", "Bird"])


def test_file_in_the_format_before_methods_loads_as_lin(tmp_path):
    # exactly what jointsed tune wrote before post-processing methods existed: no "method" key
    old = {
        "format": "jointsed.postprocess.params/1",
        "classes": ["Speech", "Dog"],
        "tag_threshold": [0.5, 0.4],
        "frame_threshold": [0.5, 0.3],
        "median_window": [18, 16],
        "min_duration": [0.0, 0.0],
        "max_gap": [0.0, 0.1],
        "info": {"objective": "event_f1", "tuned_on": {"split": "validation"}},
    }
    path = tmp_path / "postprocess.json"
    path.write_text(json.dumps(old, indent=2))
    for loaded in (load_postprocessor(path), PostProcessingParams.load_json(path)):
        assert type(loaded) is PostProcessingParams
        assert loaded.median_window == [18, 16] and loaded.max_gap == [0.0, 0.1]


def test_lin_reader_refuses_a_file_of_another_method(tmp_path):
    path = tmp_path / "pp.json"
    save_postprocessor(_sebb(), path)
    with pytest.raises(PostProcessingError, match="'sebb' post-processing"):
        PostProcessingParams.load_json(path)


def test_bad_sebb_values_are_named():
    data = {"method": "sebb", **_sebb().to_dict()}
    data["step_length"] = [4, 1, 9]
    with pytest.raises(ConfigError, match="step_length of class Dog"):
        postprocessor_from_dict(data)
    data = {"method": "sebb", **_sebb().to_dict(), "confidence": ["max", "median", "max"]}
    with pytest.raises(ConfigError, match="confidence of class Dog"):
        postprocessor_from_dict(data)


# ----- Lin through the seam: bit-identical to the pipeline's own functions --------------------------
LIN_CASES = [
    # (n_frames, tag, frame threshold, window, min duration, max gap)
    (250, 0.5, 0.5, 1, 0.0, 0.0),
    (250, 0.5, 0.5, 7, 0.0, 0.0),
    (250, 0.2, 0.3, 8, 0.0, 0.0),
    (500, 0.7, 0.6, 17, 0.2, 0.0),
    (500, 0.0, 0.4, 4, 0.0, 0.3),
    (73, 0.5, 0.5, 150, 0.1, 0.1),  # window longer than the clip
    (1, 0.5, 0.5, 3, 0.0, 0.0),  # a one-frame clip
]


@pytest.mark.parametrize("case", LIN_CASES)
def test_lin_through_the_seam_is_bit_identical(case):
    n_frames, tag, theta, window, min_duration, max_gap = case
    rng = np.random.default_rng(n_frames + window)
    classes = ["a", "b", "c", "d"]
    params = PostProcessingParams.uniform(classes, tag, theta, window, min_duration, max_gap)
    frame = {f"clip{i}.wav": rng.random((n_frames, 4)).astype(np.float32) for i in range(6)}
    clip = {name: rng.random(4).astype(np.float32) for name in frame}
    assert detect_events(params, clip, frame, 0.04) == postprocess_scores(clip, frame, params, 0.04)
    forms = frame_forms(params, clip, frame, 0.04)
    for name in frame:
        expected = postprocess_frame_scores(clip[name], frame[name], params).astype(np.float32)
        assert forms[name].dtype == np.float32 and np.array_equal(forms[name], expected)
