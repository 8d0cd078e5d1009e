"""Self-contained cross-check of ``jointsed evaluate`` against the official metric libraries.

Unlike tests/evaluate/test_evaluate_conformance.py (the DCASE 2021 baseline's stored outputs, which live
outside the repository in ../shared), this test needs nothing but the installed packages: it
takes 60 clips of the bundled DESED validation layout (clips without events and clips with
overlapping events among them), perturbs their ground truth (shifted onsets/offsets, dropped,
relabelled and inserted events), turns the result into noisy frame-score matrices and detection
tables at several operating points, evaluates the files as ``jointsed evaluate GT_TSV`` does
(``api.evaluate_files``, results through JSON like its ``--json``), and recomputes
every figure by calling sed_eval, psds_eval and sed_scores_eval directly, the way the DCASE
Task 4 baseline (DESED_task) calls them. Each figure must agree to 1e-6.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jointsed import api
from jointsed.data.classes import DESED_CLASSES

RESOURCES = Path(__file__).resolve().parents[2] / "src" / "jointsed" / "resources"
N_CLIPS = 60
HOP = 0.1  # seconds per frame of the made-up score matrices (coarse: keeps PSDS fast)
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
TOL = 1e-6


def _pick_clips(truth: pd.DataFrame, rng: np.random.Generator) -> list[str]:
    """60 clips: every clip without events (15 in the layout, capped at 6), 20 with overlapping
    events of different classes, the rest drawn at random."""
    empty = sorted(truth.loc[truth.event_label.isna(), "filename"].unique())[:6]
    events = truth.dropna()
    overlapping = []
    for name, group in events.groupby("filename"):
        rows = group.sort_values("onset").to_numpy()
        if any(rows[j][1] < rows[i][2] for i in range(len(rows)) for j in range(i + 1, len(rows))):
            overlapping.append(name)
    overlapping = list(rng.choice(sorted(overlapping), 20, replace=False))
    rest = sorted(set(events.filename) - set(overlapping))
    others = list(rng.choice(rest, N_CLIPS - len(empty) - len(overlapping), replace=False))
    return empty + overlapping + others


def _merge_same_class(events: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """A system's output never has two overlapping events of one class (post-processing makes
    runs of active frames): merge them, as such a system would."""
    out: list[tuple[float, float, str]] = []
    for label in sorted({e[2] for e in events}):
        spans = sorted((on, off) for on, off, lab in events if lab == label)
        merged = [list(spans[0])]
        for on, off in spans[1:]:
            if on <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], off)
            else:
                merged.append([on, off])
        out += [(on, off, label) for on, off in merged]
    return sorted(out)


def _perturb(truth: list[tuple[float, float, str]], duration: float, rng: np.random.Generator):
    """A plausible, imperfect system output for one clip."""
    out = []
    for on, off, label in truth:
        if rng.random() < 0.15:
            continue  # missed
        if rng.random() < 0.05:
            label = DESED_CLASSES[rng.integers(len(DESED_CLASSES))]  # confused
        on = float(np.clip(on + rng.normal(0, 0.3), 0, duration - 0.05))
        off = float(np.clip(off + rng.normal(0, 0.4), on + 0.05, duration))
        out.append((round(on, 3), round(off, 3), label))
    for _ in range(rng.poisson(0.4)):  # false alarms
        on = float(rng.uniform(0, duration - 0.5))
        out.append((round(on, 3), round(min(duration, on + rng.uniform(0.2, 3)), 3),
                    DESED_CLASSES[rng.integers(len(DESED_CLASSES))]))
    return _merge_same_class(out) if out else []


def _frame_scores(events, duration: float, rng: np.random.Generator) -> np.ndarray:
    n = int(round(duration / HOP))
    scores = rng.uniform(0, 0.3, size=(n, len(DESED_CLASSES)))
    for on, off, label in events:
        c = DESED_CLASSES.index(label)
        scores[int(on / HOP):max(int(on / HOP) + 1, int(np.ceil(off / HOP))), c] += rng.uniform(0.3, 0.65)
    return np.clip(scores + rng.normal(0, 0.05, scores.shape), 0, 1)


def _runs(scores: np.ndarray, threshold: float, name: str) -> list[dict]:
    """Runs of frames >= threshold as events (the operating point's detection table)."""
    rows = []
    for c, label in enumerate(DESED_CLASSES):
        active = np.concatenate([[False], scores[:, c] >= threshold, [False]])
        edges = np.flatnonzero(np.diff(active.astype(int)))
        for start, stop in zip(edges[::2], edges[1::2]):
            rows.append({"filename": name, "onset": round(start * HOP, 6), "offset": round(stop * HOP, 6),
                         "event_label": label})
    return rows


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    rng = np.random.default_rng(13)
    root = tmp_path_factory.mktemp("official")
    truth = pd.read_csv(RESOURCES / "validation.tsv", sep="\t")
    clips = _pick_clips(truth, rng)
    truth = truth[truth.filename.isin(clips)].reset_index(drop=True)
    gt_path, dur_path = root / "gt.tsv", root / "durations.tsv"
    truth.to_csv(gt_path, sep="\t", index=False, float_format="%.3f")
    durations = {c: max(10.0, float(truth.loc[truth.filename == c, "offset"].max(skipna=True) or 0)) for c in clips}
    pd.DataFrame({"filename": list(durations), "duration": list(durations.values())}).to_csv(
        dur_path, sep="\t", index=False)

    predictions, scores, ops = [], {}, {t: [] for t in THRESHOLDS}
    for clip in clips:
        rows = truth[(truth.filename == clip) & truth.event_label.notna()]
        events = _perturb(list(rows[["onset", "offset", "event_label"]].itertuples(index=False, name=None)),
                          durations[clip], rng)
        predictions += [{"filename": clip, "onset": on, "offset": off, "event_label": lab} for on, off, lab in events]
        scores[clip] = _frame_scores(events, durations[clip], rng)
        for t in THRESHOLDS:
            ops[t] += _runs(scores[clip], t, clip)
    columns = ["filename", "onset", "offset", "event_label"]
    pred_path = root / "predictions.tsv"
    pd.DataFrame(predictions, columns=columns).to_csv(pred_path, sep="\t", index=False)
    (root / "ops").mkdir()
    for t, rows in ops.items():
        pd.DataFrame(rows, columns=columns).to_csv(root / "ops" / f"predictions_th_{t:.2f}.tsv", sep="\t", index=False)
    from sed_scores_eval.base_modules.io import write_sed_scores

    (root / "scores").mkdir()
    for clip, array in scores.items():
        write_sed_scores(array, root / "scores" / f"{Path(clip).stem}.tsv",
                         timestamps=np.round(np.arange(len(array) + 1) * HOP, 6), event_classes=list(DESED_CLASSES))

    # jointsed evaluate's files mode (api.evaluate_files), once on detections + operating points and
    # once on frame scores alone (the F-scores then come from sed_scores_eval at 0.5); through JSON
    # as ``jointsed evaluate --json`` writes them
    tables = api.evaluate_files(gt_path, dur_path, predictions=pred_path, operating_points=root / "ops")
    from_scores = api.evaluate_files(gt_path, dur_path, scores=root / "scores")
    (root / "tables.json").write_text(json.dumps(tables, default=float))
    (root / "scores.json").write_text(json.dumps(from_scores, default=float))
    return {
        "root": root, "gt": gt_path, "durations": dur_path, "clips": clips,
        "tables": json.loads((root / "tables.json").read_text()),
        "from_scores": json.loads((root / "scores.json").read_text()),
    }


def test_made_up_set_covers_the_hard_cases(case):
    truth = pd.read_csv(case["gt"], sep="\t")
    assert truth.filename.nunique() == N_CLIPS == case["tables"]["n_clips"]
    assert truth.event_label.isna().sum() == 6  # clips without events
    assert set(truth.event_label.dropna()) == set(DESED_CLASSES)  # every class has ground truth
    predicted = pd.read_csv(case["root"] / "predictions.tsv", sep="\t")
    assert set(predicted.event_label) == set(DESED_CLASSES)  # sed_eval's NaN handling stays out
    assert 0.2 < case["tables"]["event_based"]["macro_f1"] < 0.9  # neither trivial nor perfect


def _baseline_event_list(df: pd.DataFrame, name: str) -> list[dict]:
    """DESED_task's get_event_list_current_file."""
    rows = df[df.filename == name]
    if len(rows) == 1 and pd.isna(rows.event_label.iloc[0]):
        return [{"filename": name}]
    return rows.to_dict("records")


def _sed_eval(metric, gt: pd.DataFrame, est: pd.DataFrame):
    for name in gt.filename.unique():
        metric.evaluate(reference_event_list=_baseline_event_list(gt, name),
                        estimated_event_list=_baseline_event_list(est, name))
    return metric


def test_event_and_segment_f1_equal_sed_eval(case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import sed_eval

    gt = pd.read_csv(case["gt"], sep="\t")
    est = pd.read_csv(case["root"] / "predictions.tsv", sep="\t")
    classes = sorted(set(gt.event_label.dropna()) | set(est.event_label.dropna()))
    event = _sed_eval(sed_eval.sound_event.EventBasedMetrics(
        event_label_list=classes, t_collar=0.2, percentage_of_length=0.2,
        empty_system_output_handling="zero_score"), gt, est)
    segment = _sed_eval(sed_eval.sound_event.SegmentBasedMetrics(event_label_list=classes, time_resolution=1.0),
                        gt, est)
    for ours, theirs in ((case["tables"]["event_based"], event), (case["tables"]["segment_based"], segment)):
        macro = theirs.results_class_wise_average_metrics()["f_measure"]["f_measure"]
        micro = theirs.results_overall_metrics()["f_measure"]["f_measure"]
        assert ours["macro_f1"] == pytest.approx(macro, abs=TOL)
        assert ours["micro_f1"] == pytest.approx(micro, abs=TOL)
        per_class = theirs.results_class_wise_metrics()
        for label in classes:
            assert ours["per_class"][label]["f1"] == pytest.approx(per_class[label]["f_measure"]["f_measure"], abs=TOL)
            assert ours["per_class"][label]["n_ref"] == per_class[label]["count"]["Nref"]


def _psds_eval(case, dtc, gtc, cttc):
    from psds_eval import PSDSEval

    return PSDSEval(dtc_threshold=dtc, gtc_threshold=gtc, cttc_threshold=cttc,
                    ground_truth=pd.read_csv(case["gt"], sep="\t"),
                    metadata=pd.read_csv(case["durations"], sep="\t"))


def test_psds_over_operating_points_equals_psds_eval(case):
    expected = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, (dtc, gtc, cttc, alpha_ct) in {"psds1": (0.7, 0.7, 0.3, 0.0), "psds2": (0.1, 0.1, 0.3, 0.5)}.items():
            evaluator = _psds_eval(case, dtc, gtc, cttc)
            for i, t in enumerate(THRESHOLDS):
                det = pd.read_csv(case["root"] / "ops" / f"predictions_th_{t:.2f}.tsv", sep="\t")
                det.index = range(1, len(det) + 1)
                evaluator.add_operating_point(det, info={"name": f"Op {i + 1:02d}", "threshold": t})
            expected[name] = evaluator.psds(alpha_ct=alpha_ct, alpha_st=1.0, max_efpr=100).value
    assert case["tables"]["psds1"]["n_operating_points"] == len(THRESHOLDS)
    assert 0 < expected["psds1"] < 1
    for name in ("psds1", "psds2"):
        assert case["tables"][name]["value"] == pytest.approx(expected[name], abs=TOL)


def test_intersection_f1_equals_psds_eval(case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        macro, _ = _psds_eval(case, 0.5, 0.5, 0.3).compute_macro_f_score(
            pd.read_csv(case["root"] / "predictions.tsv", sep="\t"))
    assert case["tables"]["intersection"]["macro_f1"] == pytest.approx(macro, abs=TOL)


def test_score_based_metrics_equal_sed_scores_eval(case):
    from sed_scores_eval import collar_based, intersection_based, io, segment_based

    scores = io.read_sed_scores(str(case["root"] / "scores"))
    truth = io.read_ground_truth_events(str(case["gt"]))
    durations = io.read_audio_durations(str(case["durations"]))
    ours = case["from_scores"]
    assert ours["psds_classes"] == list(DESED_CLASSES)
    f, *_ = collar_based.fscore(scores, truth, 0.5, onset_collar=0.2, offset_collar=0.2, offset_collar_rate=0.2)
    assert ours["event_based"]["macro_f1"] == pytest.approx(f["macro_average"], abs=TOL)
    f, *_ = segment_based.fscore(scores, truth, durations, 0.5, segment_length=1.0)
    assert ours["segment_based"]["macro_f1"] == pytest.approx(f["macro_average"], abs=TOL)
    f, *_ = intersection_based.fscore(scores, truth, 0.5, dtc_threshold=0.5, gtc_threshold=0.5)
    assert ours["intersection"]["macro_f1"] == pytest.approx(f["macro_average"], abs=TOL)
    for name, kwargs in {
        "psds1": dict(dtc_threshold=0.7, gtc_threshold=0.7, cttc_threshold=None, alpha_ct=0.0),
        "psds2": dict(dtc_threshold=0.1, gtc_threshold=0.1, cttc_threshold=0.3, alpha_ct=0.5),
    }.items():
        value, *_ = intersection_based.psds(scores, truth, durations, alpha_st=1.0, max_efpr=100.0, **kwargs)
        assert ours[name]["value"] == pytest.approx(value, abs=TOL)
        assert 0 < value < 1
