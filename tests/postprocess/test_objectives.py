"""Tuning objectives from the metric table (jointsed.evaluate.metric_table): names, Lin's tuner on
every PSDS scenario against sed_scores_eval, and the fast PSD-ROC combination of the searches."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from jointsed.evaluate.metric_table import METRICS, Metric, get_metric, metric_names
from jointsed.evaluate.settings import EVENT_COLLARS, PSDS1, PSDS2
from jointsed.postprocess import PostProcessingError, PostProcessingParams, TuningGrid, tune_event_specific
from jointsed.postprocess.apply import postprocess_frame_scores

from test_postprocess_tuning import HOP, _synthetic_set


def test_metric_table_names_and_errors():
    assert metric_names()[:3] == ["event_f1", "psds1", "psds2"]
    assert get_metric("psds2").settings is PSDS2 and get_metric("psds1").settings is PSDS1
    assert get_metric("event_f1").settings is EVENT_COLLARS and get_metric("event_f1").needs == "events"
    assert get_metric(METRICS["psds1"]) is METRICS["psds1"]
    with pytest.raises(ValueError, match="known: event_f1, psds1, psds2"):
        get_metric("f2")
    rng = np.random.default_rng(0)
    truth, clip, frame = _synthetic_set(rng, n_clips=5)
    base = PostProcessingParams.uniform(["a", "b"], median_window=3)
    with pytest.raises(PostProcessingError, match="tuning objective: unknown metric 'f2'"):
        tune_event_specific(clip, frame, truth, None, HOP, base, objective="f2", progress=False)
    odd = Metric("odd", "scores", lambda *a: 0.0, "odd", EVENT_COLLARS, ("odd", "value"))
    with pytest.raises(PostProcessingError, match="no tuning search for the objective 'odd'"):
        tune_event_specific(clip, frame, truth, {f: 6.0 for f in frame}, HOP, base, objective=odd, progress=False)


@pytest.mark.parametrize("name", ["psds1", "psds2"])
def test_lin_psds_tuning_matches_sed_scores_eval(name):
    from sed_scores_eval.base_modules.scores import create_score_dataframe
    from sed_scores_eval.intersection_based import psds

    rng = np.random.default_rng(11)
    truth, clip, frame = _synthetic_set(rng, n_clips=20, classes=("a", "b", "c"), scale=(0.3, 0.5, 0.4), noise=0.5)
    durations = {f: 150 * HOP for f in frame}
    base = PostProcessingParams.uniform(["a", "b", "c"], median_window=5)
    grid = TuningGrid(tag_thresholds=[0.3, 0.6], window_factors=[0.5, 2.0])
    result = tune_event_specific(clip, frame, truth, durations, HOP, base, grid, objective=name, progress=False)
    assert result.objective == name and result.tuned_score >= result.default_score
    s = METRICS[name].settings
    ground_truth = {f: [] for f in frame}
    for e in truth.events:
        ground_truth[e.filename].append((e.onset, e.offset, e.event_label))

    def direct(params):
        scores = {f: create_score_dataframe(postprocess_frame_scores(clip[f], frame[f], params),
                                            np.arange(151) * HOP, ["a", "b", "c"]) for f in frame}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return psds(scores, ground_truth, durations, dtc_threshold=s.dtc_threshold, gtc_threshold=s.gtc_threshold,
                        cttc_threshold=s.cttc_threshold if s.alpha_ct else None, alpha_ct=s.alpha_ct,
                        alpha_st=s.alpha_st, max_efpr=s.max_efpr)[0]

    assert result.default_score == pytest.approx(direct(base), abs=1e-12)
    assert result.tuned_score == pytest.approx(direct(result.params), abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_fast_combination_equals_the_librarys(seed):
    from jointsed.postprocess.tuning_psds_roc import ClassRocs

    rng = np.random.default_rng(seed)
    for scenario in (PSDS1, PSDS2):
        cache = ClassRocs(["x.wav"], {"a": [(0, 0.0, 1.0)], "b": [(0, 2.0, 3.0)], "c": [(0, 1.0, 2.0)]},
                          ["a", "b", "c"], {"x.wav": 10.0}, scenario)
        rocs = {}
        for name in "abc":
            n = int(rng.integers(1, 8))
            efpr = np.unique(np.round(rng.random(n) * 120, int(rng.integers(0, 3))))
            efpr = efpr[efpr <= 100]
            if efpr.size == 0:
                efpr = np.array([0.0])
            tpr = np.sort(rng.random(efpr.size))
            rocs[name] = (tpr, efpr, np.sort(rng.random(efpr.size))[::-1])
        assert cache.combined_fast(rocs) == pytest.approx(cache.combined(rocs), abs=1e-12)
