"""The evaluation folder (jointsed.report.eval_folder): round trip and errors."""

from __future__ import annotations

import numpy as np
import pytest

from jointsed.audio.features import FeatureConfig
from jointsed.data.annotations import Event
from jointsed.evaluate.io import audio_id
from jointsed.report import ReportError, read_eval_folder, write_eval_folder


def test_eval_folder_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    classes = ["Cat", "Dog", "Speech"]
    frame_scores = {"a.wav": rng.random((500, 3)), "b.wav": rng.random((320, 3))}
    clip_scores = {k: v.max(axis=0) for k, v in frame_scores.items()}
    predictions = [Event("a.wav", 0.5, 2.25, "Dog"), Event("a.wav", 3.0, 4.0, "Cat")]
    metrics = {"psds1": {"value": 0.25, "per_class": {"Cat": float("nan")}}, "n_clips": 2}
    info = {"ground_truth": tmp_path / "gt.tsv", "durations": "d.tsv", "audio_dir": tmp_path,
            "checkpoint": None, "postprocess": None, "split": "validation", "classes": classes,
            "frame_hop": 0.02, "features": FeatureConfig().to_dict()}
    folder = write_eval_folder(tmp_path / "eval" / "validation", predictions=predictions,
                               frame_scores=frame_scores, clip_scores=clip_scores, metrics=metrics,
                               info=info)
    back = read_eval_folder(folder)
    assert back.classes == classes and back.frame_hop == 0.02 and back.split == "validation"
    assert back.predictions == predictions
    assert sorted(back.prediction_files) == ["a.wav", "b.wav"]  # b.wav kept as a clip without events
    assert set(back.frame_scores) == {"a", "b"} == set(back.clip_scores)
    for name, array in frame_scores.items():
        np.testing.assert_allclose(back.frame_scores[audio_id(name)], array, atol=1e-6)
        np.testing.assert_allclose(back.clip_scores[audio_id(name)], clip_scores[name], rtol=1e-8)
    assert back.metrics["psds1"]["per_class"]["Cat"] is None  # NaN written as null
    assert back.info["ground_truth"] == str(tmp_path / "gt.tsv")
    assert back.info_path("ground_truth") == tmp_path / "gt.tsv"
    assert back.predictions_by_id()["b"] == []
    # rewriting replaces the folder as a whole
    write_eval_folder(folder, predictions=[], frame_scores=frame_scores, clip_scores=clip_scores,
                      metrics=metrics, info=info)
    assert read_eval_folder(folder).predictions == []


def test_eval_folder_errors(tmp_path):
    info = {"ground_truth": "gt.tsv", "durations": "d.tsv", "audio_dir": ".", "split": "validation",
            "classes": ["Cat"], "frame_hop": 0.02}
    folder = tmp_path / "ev"
    write_eval_folder(folder, predictions=[], frame_scores={"a.wav": np.zeros((10, 1))},
                      clip_scores={"a.wav": np.zeros(1)}, metrics={}, info=info)
    (folder / "clip_scores.tsv").write_text("filename\tDog\na.wav\t0.5\n")
    with pytest.raises(ReportError, match=r"clip_scores\.tsv: columns"):
        read_eval_folder(folder)
    (folder / "clip_scores.tsv").write_text("filename\tCat\na.wav\tabc\n")
    with pytest.raises(ReportError, match=r"clip_scores\.tsv, line 2"):
        read_eval_folder(folder)
    (folder / "info.json").unlink()
    with pytest.raises(ReportError, match=r"info\.json: file not found"):
        read_eval_folder(folder)
    with pytest.raises(ReportError, match="missing key"):
        write_eval_folder(tmp_path / "other", predictions=[], frame_scores={}, clip_scores={},
                          metrics={}, info={"classes": ["Cat"]})
    assert not (tmp_path / "other").exists()
