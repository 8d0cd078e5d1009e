"""Event-specific tuning: fast event F1 against sed_eval, per-class search, PSDS1 search."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import sed_eval_class_f1
from jointsed.config import ConfigError, from_dict
from jointsed.data.annotations import Event, StrongAnnotations
from jointsed.evaluate.event_based import event_based_fscores, event_based_fscores_from_scores
from jointsed.evaluate.io import Reference
from jointsed.evaluate.settings import EVENT_COLLARS, EventCollars
from jointsed.postprocess import (
    PostProcessingError,
    PostProcessingParams,
    TuningGrid,
    event_f1_per_class,
    postprocess_frame_scores,
    postprocess_scores,
    tune_event_specific,
)


HOP = 0.02


# --------------------------------------------------- one collar setting for tuner and evaluator
COLLAR_HOP = 0.01  # 10 ms frames: onsets 0.19 s and 0.21 s off lie on the frame grid


@pytest.mark.parametrize("shift,collars,hit", [
    (0.19, None, True),   # the defaults: DCASE's 200 ms onset collar
    (0.21, None, False),
    (0.21, EventCollars(t_collar=0.25, percentage_of_length=0.2), True),
    (0.19, EventCollars(t_collar=0.15, percentage_of_length=0.2), False),
])
def test_tuner_and_evaluator_apply_the_same_collars(shift, collars, hit):
    """One reference event (3.0-6.5 s) and one detection whose onset is ``shift`` late: the
    tuner's fast F1, the tuner itself and both evaluator paths (sed_eval on detections,
    sed_scores_eval on frame scores) agree, with the default collars and with others given by
    keyword."""
    from sed_scores_eval.base_modules.scores import create_score_dataframe

    kwargs = {} if collars is None else {"collars": collars}
    expected = 1.0 if hit else 0.0
    onset = round(3.0 / COLLAR_HOP) + round(shift / COLLAR_HOP)
    frames = np.zeros((1000, 1))
    frames[onset : round(6.5 / COLLAR_HOP), 0] = 1.0
    detection = Event("x.wav", onset * COLLAR_HOP, 6.5, "Speech")
    truth = StrongAnnotations(path=None, events=[Event("x.wav", 3.0, 6.5, "Speech")], filenames=["x.wav"])

    fast = event_f1_per_class(truth.events, [detection], ["Speech"], **kwargs)["Speech"]
    base = PostProcessingParams.uniform(["Speech"], median_window=1)
    grid = TuningGrid(tag_thresholds=[0.5], frame_thresholds=[0.5], window_factors=[1.0], add_window_one=False)
    tuned = tune_event_specific({"x.wav": np.ones(1)}, {"x.wav": frames}, truth, None, COLLAR_HOP, base, grid,
                                progress=False, **kwargs)
    reference = Reference(events={"x": [(3.0, 6.5, "Speech")]}, durations={"x": 10.0}, classes=("Speech",))
    from_detections = event_based_fscores(reference, {"x": [(detection.onset, 6.5, "Speech")]}, **kwargs)
    scores = {"x": create_score_dataframe(frames, np.arange(1001) * COLLAR_HOP, ["Speech"])}
    from_scores = event_based_fscores_from_scores(reference, scores, 0.5, **kwargs)

    assert fast == expected
    assert tuned.default_score == expected
    assert from_detections["macro_f1"] == pytest.approx(expected)
    assert from_scores["macro_f1"] == pytest.approx(expected)


def test_tuner_and_evaluator_default_to_the_settings_collars():
    import inspect

    from jointsed.postprocess import event_counts_per_class

    for fn in (event_f1_per_class, event_counts_per_class, tune_event_specific, event_based_fscores,
               event_based_fscores_from_scores):
        parameter = inspect.signature(fn).parameters["collars"]
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
        assert parameter.default is EVENT_COLLARS, fn.__name__


# ----------------------------------------------------------------------------- tuning
def _synthetic_set(rng, n_clips=40, n_frames=150, classes=("a", "b"), scale=(0.4, 0.9), noise=0.15):
    """Clips with 0-2 events per class; scores = truth * scale_c + uniform noise."""
    events, clip_probs, frame_probs, names = [], {}, {}, []
    for i in range(n_clips):
        f = f"clip{i:03d}.wav"
        names.append(f)
        truth = np.zeros((n_frames, len(classes)))
        for c, label in enumerate(classes):
            for _ in range(int(rng.integers(0, 3))):
                length = int(rng.integers(10, 50))
                start = int(rng.integers(0, n_frames - length))
                if truth[max(0, start - 5) : start + length + 5, c].any():
                    continue  # keep events of a class apart
                truth[start : start + length, c] = 1
                events.append(Event(f, start * HOP, (start + length) * HOP, label))
        frame_probs[f] = truth * np.asarray(scale) + noise * rng.random(truth.shape)
        clip_probs[f] = np.clip(truth.max(0) * 0.7 + 0.25 * rng.random(len(classes)), 0, 1)
    return StrongAnnotations(path=None, events=events, filenames=names), clip_probs, frame_probs


def test_tuning_finds_low_threshold_for_weak_scores():
    rng = np.random.default_rng(1)
    truth, clip, frame = _synthetic_set(rng)
    base = PostProcessingParams.uniform(["a", "b"], median_window=5)
    result = tune_event_specific(clip, frame, truth, None, HOP, base, TuningGrid(), progress=False)
    a = result.params.class_params("a")
    # class a: 0.4 * truth + U(0, 0.15), so only thresholds in (0.15, 0.4] separate event and background
    assert 0.2 <= a["frame_threshold"] <= 0.4
    by_class = {ct.class_name: ct for ct in result.per_class}
    assert by_class["a"].default_value < 0.5 < 0.9 < by_class["a"].tuned_value
    assert all(ct.tuned_value >= ct.default_value for ct in result.per_class)
    assert result.tuned_score >= result.default_score
    # the reported values are what the tuned parameters really give (checked with sed_eval too)
    events = postprocess_scores(clip, frame, result.params, HOP)
    measured = sed_eval_class_f1(truth.events, events, ["a", "b"])
    for ct in result.per_class:
        assert ct.tuned_value == pytest.approx(measured[ct.class_name], abs=1e-12)
    default_events = postprocess_scores(clip, frame, base, HOP)
    default_f1 = event_f1_per_class(truth.events, default_events, ["a", "b"])["a"]
    assert by_class["a"].default_value == pytest.approx(default_f1)
    assert "macro event F1" in result.table()


def test_tuning_gap_and_min_duration_grid(tmp_path):
    rng = np.random.default_rng(2)
    truth, clip, frame = _synthetic_set(rng, n_clips=30, scale=(0.8, 0.8))
    for f in frame:  # punch 4-frame holes into every event and add short false spikes
        frame[f][::12] = 0.0
        frame[f][1::12] = 0.0
        frame[f][2::12] = 0.0
        frame[f][3::12] = 0.0
        frame[f][rng.integers(0, len(frame[f]), 3)] = 0.9
    base = PostProcessingParams.uniform(["a", "b"], median_window=1)
    grid = TuningGrid(window_factors=[1.0], add_window_one=True, max_gaps=[0.0, 0.1], min_durations=[0.0, 0.1])
    result = tune_event_specific(clip, frame, truth, None, HOP, base, grid, progress=False)
    for name in ("a", "b"):
        tuned = result.params.class_params(name)
        assert tuned["max_gap"] == 0.1 and tuned["min_duration"] == 0.1
    events = postprocess_scores(clip, frame, result.params, HOP)
    measured = event_f1_per_class(truth.events, events, ["a", "b"])
    assert result.tuned_score == pytest.approx(np.mean(list(measured.values())))
    assert result.tuned_score > result.default_score
    # the saved file is a loadable parameter file
    path = tmp_path / "pp.json"
    result.save_json(path)
    assert PostProcessingParams.load_json(path, expected_classes=["a", "b"]) == result.params


def test_tuning_psds1_matches_sed_scores_eval():
    from sed_scores_eval.base_modules.scores import create_score_dataframe
    from sed_scores_eval.intersection_based import psds

    rng = np.random.default_rng(3)
    truth, clip, frame = _synthetic_set(rng, n_clips=20, n_frames=100, scale=(0.3, 0.5), noise=0.7)
    for f in clip:  # unreliable tags: gating also removes true events
        clip[f] = np.clip(clip[f] - 0.3 + 0.5 * rng.random(2), 0, 1)
    durations = {f: 100 * HOP for f in frame}
    base = PostProcessingParams.uniform(["a", "b"], median_window=3)
    grid = TuningGrid(tag_thresholds=[0.3, 0.5, 0.7], window_factors=[1.0, 3.0])
    result = tune_event_specific(clip, frame, truth, durations, HOP, base, grid, objective="psds1", progress=False)
    assert result.tuned_score > result.default_score
    assert result.params != base

    def direct_psds(params):
        ground_truth = {f: [] for f in frame}
        for e in truth.events:
            ground_truth[e.filename].append((e.onset, e.offset, e.event_label))
        scores = {
            f: create_score_dataframe(
                postprocess_frame_scores(clip[f], frame[f], params), np.arange(101) * HOP, ["a", "b"]
            )
            for f in frame
        }
        value, *_ = psds(scores, ground_truth, durations, dtc_threshold=0.7, gtc_threshold=0.7,
                         alpha_ct=0.0, alpha_st=1.0, max_efpr=100.0)
        return value

    assert result.default_score == pytest.approx(direct_psds(base), abs=1e-12)
    assert result.tuned_score == pytest.approx(direct_psds(result.params), abs=1e-12)
    # psds1 only tunes windows and tag thresholds
    assert result.params.frame_threshold == base.frame_threshold


def test_tuning_input_errors():
    rng = np.random.default_rng(4)
    truth, clip, frame = _synthetic_set(rng, n_clips=5)
    base = PostProcessingParams.uniform(["a", "b"], median_window=3)
    extra = {**frame, "other.wav": frame["clip000.wav"]}
    with pytest.raises(PostProcessingError, match="other.wav"):
        tune_event_specific({**clip, "other.wav": clip["clip000.wav"]}, extra, truth, None, HOP, base, progress=False)
    with pytest.raises(PostProcessingError, match="durations"):
        tune_event_specific(clip, frame, truth, None, HOP, base, objective="psds1", progress=False)
    wrong_classes = PostProcessingParams.uniform(["a", "c"])
    with pytest.raises(PostProcessingError, match="'b'"):
        tune_event_specific(clip, frame, truth, None, HOP, wrong_classes, progress=False)


def test_tuning_grid_config():
    grid = from_dict(TuningGrid, {"tag_thresholds": [0.3, 0.5], "max_gaps": [0, 0.1], "window_factors": [0.5, 2]})
    assert grid.max_gaps == [0.0, 0.1] and grid.frame_thresholds[0] == 0.1
    assert grid.windows_for(17) == [1, 9, 17, 34]
    with pytest.raises(ConfigError, match=r"frame_thresholds\[1\]"):
        from_dict(TuningGrid, {"frame_thresholds": [0.5, 0.0]})
    with pytest.raises(ConfigError, match="unknown key 'windows'"):
        from_dict(TuningGrid, {"windows": [3]})
