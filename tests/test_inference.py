"""Inference (jointsed.inference): the Detector on files of any length, rate and channel count."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from jointsed.inference import Detector, resolve_checkpoint
from jointsed.systems import load_system
from jointsed.postprocess.params import PostProcessingParams
from jointsed.training.config import load_recipe
from jointsed.training.data import load_validation_set
from jointsed.training.phases import train
from helpers import GL_RECIPE, MT_RECIPE, TINY_MT, tone_file

#: samples per frame of the CPU recipes (40 ms at 16 kHz)
CPU_HOP = load_recipe(GL_RECIPE).features.hop_length


def test_long_stereo_44k_file(gl_model, tmp_path):
    audio = tone_file(tmp_path / "long.wav", 35.0, 44100, 2, [(300.0, 2.0, 6.0), (580.0, 20.0, 34.9)])
    detector = Detector.from_checkpoint(gl_model)
    pred = detector.predict(audio)
    assert pred.frame_scores.shape == (35 * 16000 // CPU_HOP, 4)
    assert pred.clip_scores.shape == (4,)
    assert np.isfinite(pred.frame_scores).all() and (pred.frame_scores >= 0).all() and (pred.frame_scores <= 1).all()
    assert pred.duration == pytest.approx(35.0)
    for e in pred.events:
        assert 0.0 <= e.onset < e.offset <= 35.0 + 1e-9
        assert e.filename == "long.wav"
    assert pred.frame_hop == pytest.approx(CPU_HOP / 16000)


def test_windows_are_joined_by_averaging_frames_and_taking_the_clip_maximum(gl_model):
    """Long files are scored in overlapping windows: a frame covered by several windows gets the
    mean of their scores, a class's clip score is its maximum over the windows (a mean would hide
    an event heard in one window only)."""
    detector = Detector.from_checkpoint(gl_model)
    window, hop = detector.window, detector.window_hop
    assert hop == window // 2
    starts = [0, hop, 2 * hop]
    n_frames = 2 * hop + window
    rng = np.random.default_rng(0)
    clip = rng.random((3, 4))
    frame = np.stack([np.full((window, 4), value) for value in (0.2, 0.6, 0.9)])
    joined_clip, joined = detector._stitch(starts, n_frames, n_frames, clip, frame)
    np.testing.assert_allclose(joined_clip, clip.max(axis=0))
    # each frame: the mean of the windows that cover it (a 5-s window of 40 ms frames is odd: 125)
    values = (0.2, 0.6, 0.9)
    expected = [np.mean([v for s, v in zip(starts, values) if s <= t < s + window]) for t in range(n_frames)]
    np.testing.assert_allclose(joined[:, 0], expected, rtol=1e-6)
    assert joined[0, 0] == pytest.approx(0.2) and joined[-1, 0] == pytest.approx(0.9)
    assert joined[hop, 0] == pytest.approx(0.4)  # windows 0 and 1


def test_short_file_is_padded_like_training(gl_model, tmp_path):
    audio = tone_file(tmp_path / "short.flac", 3.0, 22050, 1, [(417.0, 0.5, 2.5)])
    pred = Detector.from_checkpoint(gl_model).predict(audio)
    assert pred.frame_scores.shape == (3 * 16000 // CPU_HOP, 4)
    assert all(e.offset <= 3.0 + 1e-9 for e in pred.events)


def test_reloaded_best_checkpoint_reproduces_validation(gl_model, learnable_dataset):
    metrics = json.loads((gl_model / "metrics.json").read_text())
    config = load_recipe(gl_model / "config.yaml")
    val = load_validation_set(config, learnable_dataset, progress=False)
    detector = Detector.from_checkpoint(gl_model, batch_size=config.batch.validation_batch_size)
    assert resolve_checkpoint(gl_model).name == "best.ckpt"
    folder = learnable_dataset / config.data.validation_audio
    preds = detector.predict_many([folder / name for name in val.filenames], progress=False)
    clip = np.stack([p.clip_scores for p in preds])
    frame = np.stack([p.frame_scores for p in preds])
    # the Detector's scores (plain-torch Predictor), scored by the Lightning system's validation code
    again = load_system(gl_model).compute_validation_metrics(clip, frame, val)
    best = metrics["best"]
    assert again["clip_f1"] == best["clip_f1"]
    assert again["event_f1"] == best["event_f1"]
    assert again["clip_scores_sum"] == pytest.approx(best["clip_scores_sum"], rel=1e-9, abs=1e-9)
    assert again["frame_scores_sum"] == pytest.approx(best["frame_scores_sum"], rel=1e-9, abs=1e-9)


def test_score_sources_are_configurable(gl_model, tmp_path):
    audio = tone_file(tmp_path / "a.wav", 5.0, 16000, 1, [(300.0, 1.0, 3.0)])
    default = Detector.from_checkpoint(gl_model).predict(audio)
    swapped = Detector.from_checkpoint(gl_model, clip_scores_from="student", frame_scores_from="teacher").predict(audio)
    assert not np.allclose(default.clip_scores, swapped.clip_scores)
    # the PT pools time by 100 frames: its frame scores are piecewise constant
    assert len(np.unique(swapped.frame_scores[:, 0])) <= 3


def test_postprocess_json_beside_the_model_is_used(gl_model, tmp_path):
    audio = tone_file(tmp_path / "a.wav", 5.0, 16000, 1, [(300.0, 0.5, 4.5)])
    classes = load_recipe(gl_model / "config.yaml").data.classes
    never = PostProcessingParams.uniform(classes, tag_threshold=0.0, frame_threshold=1.0, median_window=1)
    path = tmp_path / "never.json"
    never.save_json(path)
    # a frame threshold of 1 is never reached by a sigmoid in float32 (< 1 - 6e-8 for |z| < 16)
    pred = Detector.from_checkpoint(gl_model, postprocess=path).predict(audio)
    assert pred.events == []
    beside = gl_model / "postprocess.json"
    never.save_json(beside)
    try:
        detector = Detector.from_checkpoint(gl_model)
        assert detector.postprocess_source == str(beside)
        assert detector.predict(audio).events == []
    finally:
        beside.unlink()
    always = PostProcessingParams.uniform(classes, tag_threshold=0.0, frame_threshold=1e-6, median_window=1)
    pred = Detector.from_checkpoint(gl_model, postprocess=always).predict(audio)
    # every class active over the whole clip -> one event per class spanning [0, 5 s]
    assert sorted(e.event_label for e in pred.events) == sorted(classes)
    assert all(e.onset == 0.0 and e.offset == pytest.approx(5.0) for e in pred.events)


def test_mean_teacher_checkpoint_predicts(learnable_dataset, tmp_path):
    run = tmp_path / "mt"
    train(load_recipe(MT_RECIPE, TINY_MT + ["trainer.max_epochs=1", "data.max_clips_per_set=8"]),
          learnable_dataset, run, progress=False)
    audio = tone_file(tmp_path / "a.wav", 11.0, 16000, 1, [(300.0, 1.0, 3.0)])
    student = Detector.from_checkpoint(run).predict(audio)
    teacher = Detector.from_checkpoint(run, predict_with="teacher").predict(audio)
    assert student.frame_scores.shape == teacher.frame_scores.shape == (11 * 16000 // CPU_HOP, 4)
    assert not np.array_equal(student.frame_scores, teacher.frame_scores)


def test_not_a_checkpoint(tmp_path):
    from jointsed.inference import CheckpointError

    bad = tmp_path / "x.ckpt"
    torch.save({"state_dict": {}}, bad)
    with pytest.raises(CheckpointError, match="not a jointsed checkpoint"):
        Detector.from_checkpoint(bad)
    with pytest.raises(CheckpointError, match="not found"):
        Detector.from_checkpoint(tmp_path / "missing")


def test_predict_many_batch_size_is_for_that_call_only(gl_model, tmp_path):
    files = [tone_file(tmp_path / f"{i}.wav", 4.0 + 3 * i, 16000, 1, [(300.0 + 200 * i, 0.5, 3.0)]) for i in range(3)]
    detector = Detector.from_checkpoint(gl_model, batch_size=16)
    once = detector.predict_many(files, batch_size=1, progress=False)
    assert detector.batch_size == 16
    again = detector.predict_many(files, progress=False)
    for a, b in zip(once, again):
        assert np.allclose(a.frame_scores, b.frame_scores, atol=1e-5) and a.events == b.events


def test_sebb_postprocessor_through_the_detector(gl_model, tmp_path):
    from jointsed.postprocess import SebbPostProcessor
    from jointsed.postprocess.base import detect_events, load_postprocessor

    audio = tone_file(tmp_path / "a.wav", 10.0, 16000, 1, [(300.0, 2.0, 6.0)])
    default = Detector.from_checkpoint(gl_model).params
    sebb = SebbPostProcessor.from_default(default)
    sebb.tag_threshold = [0.0] * len(sebb.classes)
    sebb.detection_threshold = [1e-6] * len(sebb.classes)
    path = tmp_path / "sebb.json"
    from jointsed.postprocess.base import save_postprocessor

    save_postprocessor(sebb, path)
    detector = Detector.from_checkpoint(gl_model, postprocess=path)
    assert detector.params == load_postprocessor(path) and detector.params.method == "sebb"
    pred = detector.predict(audio)
    expected = detect_events(sebb, {"a.wav": pred.clip_scores}, {"a.wav": pred.frame_scores}, pred.frame_hop)
    assert pred.events == expected and pred.events  # every class has at least one box above 1e-6
    # the boxes do not overlap within a class, and lie within the clip
    for c in sebb.classes:
        spans = sorted((e.onset, e.offset) for e in pred.events if e.event_label == c)
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
        assert all(0.0 <= on < off <= 10.0 + 1e-9 for on, off in spans)

