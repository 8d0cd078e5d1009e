"""SEBB (jointsed.postprocess.methods.sebb, our implementation of Ebbers et al., Interspeech 2024):
boxes of constructed score curves with known change points, events at an operating point, PSDS
over boxes against sed_scores_eval, and the tuner's values against the evaluator's."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from jointsed.data.annotations import Event, StrongAnnotations
from jointsed.evaluate.box_scores import ScoredSegments, segments_to_score_dataframes
from jointsed.evaluate.io import Reference
from jointsed.evaluate.metric_table import METRICS
from jointsed.postprocess import PostProcessingParams, SebbGrid, SebbPostProcessor
from jointsed.postprocess.base import detect_events, frame_form, score_forms
from jointsed.postprocess.sebb_boxes import step_filter

HOP = 0.1
T = 100


def _sebb(window=1, step=4, delta=0.2, gap=0.0, lam=0.5, confidence="max", tau=0.5) -> SebbPostProcessor:
    return SebbPostProcessor(classes=["a"], tag_threshold=[tau], median_window=[window], step_length=[step],
                             change_threshold=[delta], merge_gap=[gap], detection_threshold=[lam],
                             confidence=[confidence])


def _curve(*spans, base=0.1, n=T):
    y = np.full(n, base)
    for start, end, level in spans:
        y[start:end] = level
    return y


def _ramp():
    y = _curve((40, 70, 0.9))
    y[20:40] = np.linspace(0.1, 0.9, 20, endpoint=False)
    return y


def _noise(seed=0, plateau=False):
    y = 0.05 + 0.05 * np.random.default_rng(seed).random(T)
    if plateau:
        y[30:60] += 0.8
    return y


# (name, curve, processor, expected boxes [(onset s, offset s, confidence)] with a time tolerance in frames)
CASES = [
    ("single plateau", _curve((30, 60, 0.9)), _sebb(), [(3.0, 6.0, 0.9)], 0),
    ("two plateaus apart", _curve((10, 30, 0.6), (50, 80, 0.9)), _sebb(), [(1.0, 3.0, 0.6), (5.0, 8.0, 0.9)], 0),
    # a staircase is one event: from its first rise to its last fall
    ("staircase, max", _curve((20, 40, 0.5), (40, 70, 0.9)), _sebb(), [(2.0, 7.0, 0.9)], 0),
    ("staircase, mean", _curve((20, 40, 0.5), (40, 70, 0.9)), _sebb(confidence="mean"),
     [(2.0, 7.0, (20 * 0.5 + 30 * 0.9) / 50)], 0),
    # a ramp of 0.04 per frame: a 12-frame step filter sees 0.24 >= δ over the ramp, centred on it
    ("ramp: onset at its centre", _ramp(), _sebb(step=12), [(3.0, 7.0, 0.9)], 1),
    # a 4-frame filter sees 0.08 < δ: no rise, the box starts with the clip
    ("ramp too slow for a short step filter", _ramp(), _sebb(step=4), [(0.0, 7.0, 0.9)], 0),
    ("noise: one box over the clip", _noise(), _sebb(), [(0.0, 10.0, None)], 0),
    ("noise + plateau", _noise(1, plateau=True), _sebb(), [(3.0, 6.0, None)], 1),
    ("boxes touching both clip edges", _curve((0, 20, 0.9), (80, 100, 0.8)), _sebb(),
     [(0.0, 2.0, 0.9), (8.0, 10.0, 0.8)], 0),
    ("merge gap joins", _curve((20, 40, 0.9), (43, 60, 0.8)), _sebb(gap=0.5), [(2.0, 6.0, 0.9)], 0),
    ("no merge without gap", _curve((20, 40, 0.9), (43, 60, 0.8)), _sebb(), [(2.0, 4.0, 0.9), (4.3, 6.0, 0.8)], 0),
    ("step below the change threshold", _curve((30, 60, 0.25)), _sebb(delta=0.2), [(0.0, 10.0, 0.25)], 0),
    ("constant curve", np.full(T, 0.7), _sebb(), [(0.0, 10.0, 0.7)], 0),
]


@pytest.mark.parametrize("name, curve, pp, expected, tolerance", CASES, ids=[c[0] for c in CASES])
def test_boxes_of_constructed_curves(name, curve, pp, expected, tolerance):
    boxes = pp.boxes(np.array([0.9]), curve[:, None], HOP)
    assert len(boxes) == len(expected), boxes
    for (onset, offset, label, conf), (e_on, e_off, e_conf) in zip(boxes, expected):
        assert label == "a"
        assert abs(onset - e_on) <= tolerance * HOP + 1e-9 and abs(offset - e_off) <= tolerance * HOP + 1e-9
        if e_conf is None:  # noise: a low confidence
            assert conf < 0.2 or name == "noise + plateau"
        else:
            assert conf == pytest.approx(e_conf, abs=1e-12)


def test_events_are_the_boxes_above_the_decision_threshold():
    curve = _curve((10, 30, 0.6), (50, 80, 0.9))
    assert _sebb(lam=0.7).events(np.array([0.9]), curve[:, None], HOP) == [(5.0, 8.0, "a")]
    assert _sebb(lam=0.5).events(np.array([0.9]), curve[:, None], HOP) == [(1.0, 3.0, "a"), (5.0, 8.0, "a")]
    # the extent does not depend on the threshold (the point of bounding boxes)
    assert _sebb(lam=0.85).events(np.array([0.9]), curve[:, None], HOP) == [(5.0, 8.0, "a")]
    # tag gating: no box when the clip probability is below tau
    assert _sebb(tau=0.95).boxes(np.array([0.9]), curve[:, None], HOP) == []
    assert _sebb().events(np.array([0.9]), _noise()[:, None], HOP) == []


def test_step_filter_is_the_difference_of_neighbouring_means():
    rng = np.random.default_rng(3)
    y = rng.random((2, 30))
    for length in (2, 3, 4, 7):
        d = step_filter(y, length)
        before, after = length // 2, length - length // 2
        for b in range(1, 30):
            expected = y[:, b:b + after].mean(1) - y[:, max(0, b - before):b].mean(1)
            assert np.allclose(d[:, b - 1], expected, atol=1e-12)


def _random_set(seed, n_clips=12, classes=("a", "b", "c"), n_frames=60):
    rng = np.random.default_rng(seed)
    events, clip, frame, names = [], {}, {}, []
    for i in range(n_clips):
        name = f"clip{i:02d}.wav"
        names.append(name)
        f = 0.15 * rng.random((n_frames, len(classes)))
        for c, label in enumerate(classes):
            if rng.random() < 0.6:
                s = int(rng.integers(0, n_frames - 15))
                e = s + int(rng.integers(5, 15))
                f[s:e, c] += 0.3 + 0.5 * rng.random()
                events.append(Event(name, s * HOP, e * HOP, label))
        frame[name] = np.clip(f, 0, 1)
        clip[name] = np.clip(f.max(0) + 0.2 * rng.random(len(classes)) - 0.1, 0, 1)
    truth = StrongAnnotations(path=None, events=events, filenames=names)
    reference = Reference(
        events={n[:-4]: [(e.onset, e.offset, e.event_label) for e in events if e.filename == n] for n in names},
        durations={n[:-4]: n_frames * HOP for n in names}, classes=tuple(classes))
    return truth, clip, frame, reference


@pytest.mark.parametrize("seed", range(3))
def test_psds_over_boxes_equals_sed_scores_eval_on_the_equivalent_dataframes(seed):
    from sed_scores_eval.base_modules.scores import create_score_dataframe
    from sed_scores_eval.intersection_based import psds

    _, clip, frame, reference = _random_set(seed)
    pp = SebbPostProcessor.from_default(PostProcessingParams.uniform(["a", "b", "c"], median_window=3))
    forms = score_forms(pp, clip, frame, HOP)
    # the boxes as DataFrames: each box's confidence over its span, 0 elsewhere, built by hand here
    by_hand = {}
    for name, form in forms.items():
        cuts = sorted({0.0, form.end, *[t for b in form.boxes for t in b[:2]]})
        values = np.zeros((len(cuts) - 1, 3))
        for onset, offset, label, conf in form.boxes:
            for k in range(len(cuts) - 1):
                if onset <= cuts[k] and cuts[k + 1] <= offset:
                    values[k, "abc".index(label)] = max(values[k, "abc".index(label)], conf)
        by_hand[name[:-4]] = create_score_dataframe(values, np.asarray(cuts), ["a", "b", "c"])
    ours = segments_to_score_dataframes(forms, reference)
    rendered = {name[:-4]: create_score_dataframe(frame_form(f, HOP, 60, ["a", "b", "c"]).astype(np.float64),
                                                  np.round(np.arange(61) * HOP, 6), ["a", "b", "c"])
                for name, f in forms.items()}
    for metric in (METRICS["psds1"], METRICS["psds2"]):
        s = metric.settings
        kwargs = dict(dtc_threshold=s.dtc_threshold, gtc_threshold=s.gtc_threshold, alpha_ct=s.alpha_ct,
                      alpha_st=s.alpha_st, max_efpr=s.max_efpr,
                      cttc_threshold=s.cttc_threshold if s.alpha_ct else None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = psds(by_hand, reference.events, reference.durations, **kwargs)[0]
            assert metric.compute(reference, ours) == pytest.approx(expected, abs=1e-12)
            # and the frame-grid rendering that score files and the evaluation use
            assert psds(rendered, reference.events, reference.durations, **kwargs)[0] == pytest.approx(expected, abs=1e-9)


def test_scored_segments_off_the_frame_grid_are_not_rendered():
    from jointsed.postprocess.base import PostProcessingError

    with pytest.raises(PostProcessingError, match="frame grid"):
        frame_form(ScoredSegments(((0.05, 0.3, "a", 0.5),), 1.0), HOP, 10, ["a"])


@pytest.mark.parametrize("objective", ["event_f1", "psds1", "psds2"])
@pytest.mark.parametrize("per_class", [True, False])
def test_tuned_values_are_the_evaluators(objective, per_class):
    truth, clip, frame, reference = _random_set(7)
    base = SebbPostProcessor.from_default(PostProcessingParams.uniform(["a", "b", "c"], median_window=3))
    grid = SebbGrid(tag_thresholds=[0.3, 0.6], step_factors=[1.0, 2.0], change_thresholds=[0.1, 0.3],
                    merge_gaps=[0.0, 0.3], confidences=["max", "mean"], detection_thresholds=[0.3, 0.6],
                    per_class=per_class)
    durations = {n: 6.0 for n in frame}
    result = SebbPostProcessor.tune(clip, frame, truth, durations, HOP, base, grid, objective=objective,
                                    progress=False)
    assert result.params.method == "sebb" and result.objective == objective
    assert result.tuned_score >= result.default_score
    if not per_class:
        for name in ("step_length", "change_threshold", "merge_gap", "confidence", "tag_threshold"):
            assert len(set(getattr(result.params, name))) == 1, name
    metric = METRICS[objective]

    def direct(pp):
        if metric.needs == "scores":
            return metric.compute(reference, segments_to_score_dataframes(score_forms(pp, clip, frame, HOP), reference))
        # the tuner's macro F1 averages every class (the evaluator's, the classes present): per class
        from jointsed.postprocess.fast_f1 import event_f1_per_class

        f1 = event_f1_per_class(truth.events, detect_events(pp, clip, frame, HOP), ["a", "b", "c"])
        return float(np.mean(list(f1.values())))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert result.default_score == pytest.approx(direct(base), abs=1e-12)
        assert result.tuned_score == pytest.approx(direct(result.params), abs=1e-12)
