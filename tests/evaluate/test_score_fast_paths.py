"""The metrics computed from frame scores (``jointsed.evaluate.psd_curves``, ``psd_sweep``,
``score_statistics``) equal the plain ``sed_scores_eval`` calls on random inputs: clips without
events, events of different classes overlapping, events running past the scores' end, scores
with ties (few distinct values), plateaus and smooth scores, and a ``max_efpr`` small enough
that most thresholds are skipped by the false-positive bound."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from jointsed.evaluate.event_based import event_based_fscores_from_scores
from jointsed.evaluate.intersection import (
    _library_psds,
    intersection_fscores_from_scores,
    sed_scores_psds_all,
)
from jointsed.evaluate.io import Reference, merge_overlaps_per_clip
from jointsed.evaluate.psd_curves import (
    accumulate,
    false_positive_bound,
    lowest_needed_threshold,
    psds_of_scenarios,
    _event_frames,
)
from jointsed.evaluate.psd_sweep import Criteria, sweep_deltas
from jointsed.evaluate.score_files import FrameScores
from jointsed.evaluate.score_statistics import check_exact_inputs, class_rows, truth_of
from jointsed.evaluate.segment_based import segment_based_fscores_from_scores
from jointsed.evaluate.settings import PSDS1, PSDS2

CLASSES = ("Cat", "Dog", "Speech", "Blender")
TIGHT = dataclasses.replace(PSDS1, max_efpr=20.0)  # few thresholds needed: the bound skips most


def _case(seed: int, *, hop: float, ties: int | None, smooth: bool, n_clips: int = 14):
    """A reference and frame scores of ``n_clips`` clips of 4 s."""
    rng = np.random.default_rng(seed)
    n_frames = int(round(4.0 / hop))
    events, durations, arrays, stamps = {}, {}, {}, {}
    for n in range(n_clips):
        key = f"clip{n:02d}"
        evs = []
        if n % 5 != 0:  # every fifth clip has no event
            for _ in range(rng.integers(1, 4)):
                on = round(float(rng.uniform(0, 3.6)), 3)
                off = round(min(on + float(rng.uniform(0.1, 2.5)), 4.05 if n % 7 == 3 else 4.0), 3)
                evs.append((on, off, CLASSES[rng.integers(len(CLASSES))]))
        events[key] = evs
        durations[key] = 4.0
        x = rng.uniform(0, 0.4, (n_frames, len(CLASSES)))
        if smooth:
            x = np.cumsum(rng.normal(0, 0.3, (n_frames, len(CLASSES))), axis=0)
            x = 0.4 / (1 + np.exp(-(x - x.mean())))
        for on, off, label in evs:
            x[int(on / hop):int(np.ceil(off / hop)), CLASSES.index(label)] += rng.uniform(0.25, 0.8)
        x = np.clip(x, 0, 1)
        if ties:
            x = np.round(x * ties) / ties  # plateaus and equal scores across clips
        arrays[key] = x
        stamps[key] = np.round(np.arange(n_frames + 1) * hop, 6)
    merged, _ = merge_overlaps_per_clip(events)
    present = sorted({lab for evs in merged.values() for _, _, lab in evs}, key=CLASSES.index)
    reference = Reference(events={k: [e for e in v if e[2] in present] for k, v in merged.items()},
                          durations=durations, classes=tuple(present))
    return reference, FrameScores.from_arrays(arrays, stamps, CLASSES)


GRID = [
    dict(seed=1, hop=0.1, ties=None, smooth=False),
    dict(seed=2, hop=0.1, ties=4, smooth=False),
    dict(seed=3, hop=0.05, ties=None, smooth=True),
    dict(seed=4, hop=0.02, ties=10, smooth=True),
    dict(seed=5, hop=0.1, ties=2, smooth=True),
]


@pytest.fixture(scope="module", params=range(len(GRID)), ids=lambda i: "-".join(f"{k}{v}" for k, v in GRID[i].items()))
def case(request):
    return _case(**GRID[request.param])


def _assert_same_psds(ours, theirs):
    value, per_class, (tpr, efpr), rocs = ours
    assert value == theirs[0]
    assert per_class == theirs[1]
    np.testing.assert_array_equal(tpr, theirs[2][0])
    np.testing.assert_array_equal(efpr, theirs[2][1])
    assert rocs.keys() == theirs[3].keys()
    for name in rocs:
        for a, b in zip(rocs[name], theirs[3][name]):
            np.testing.assert_array_equal(a, b)


def test_psds_equals_sed_scores_eval(case):
    reference, scores = case
    assert check_exact_inputs(reference, scores, PSDS2.dtc_threshold)
    scenarios = [PSDS1, PSDS2, TIGHT]
    ours = psds_of_scenarios(scores, reference, list(reference.classes), scenarios)
    for result, scenario in zip(ours, scenarios):
        expected = _library_psds(reference, scores, scenario)
        _assert_same_psds(result, expected)
    assert 0 < ours[0][0] < 1 and ours[1][0] > 0  # neither trivially 0 nor perfect


def test_the_bound_skips_thresholds_and_only_those_it_may(case):
    """``s_cut`` is above the lowest score for some class (so the skipping is exercised) and no
    ROC point of the library at or below ``s_cut`` has a rate within ``max_efpr``."""
    from sed_scores_eval.intersection_based.intermediate_statistics import accumulated_intermediate_statistics

    reference, scores = case
    classes = list(reference.classes)
    truth = truth_of(reference, scores, classes)
    duration = sum(reference.durations.values())
    frames = {k: f[["onset", "offset", *classes]] for k, f in scores.to_dataframes().items()}
    stats, _ = accumulated_intermediate_statistics(frames, reference.events, dtc_threshold=TIGHT.dtc_threshold,
                                                   gtc_threshold=TIGHT.gtc_threshold)
    skipped = 0
    for name in classes:
        rows = class_rows(scores, scores.class_index(name))
        s_cut = lowest_needed_threshold(*false_positive_bound(rows, _event_frames(rows, scores, truth, name),
                                                              truth.has_events(name)),
                                        duration, TIGHT.max_efpr)
        points, class_stats = stats[name]
        efpr = class_stats["fps"] / duration * 3600
        assert not np.any((points <= s_cut) & (efpr <= TIGHT.max_efpr))
        skipped += int(np.sum(points <= s_cut))
    assert skipped > 0


@pytest.mark.parametrize("cttc", [None, 0.3])
def test_sweep_gives_the_library_deltas_of_every_clip(case, cttc):
    from sed_scores_eval.intersection_based.intermediate_statistics import intermediate_statistics_deltas

    reference, scores = case
    classes = list(reference.classes)
    frames = {k: f[["onset", "offset", *classes]] for k, f in scores.to_dataframes().items()}
    expected = intermediate_statistics_deltas(frames, reference.events, dtc_threshold=0.1, gtc_threshold=0.1,
                                              cttc_threshold=cttc)
    truth = truth_of(reference, scores, classes)
    for c, name in enumerate(classes):
        rows = class_rows(scores, scores.class_index(name))
        for n, key in enumerate(scores.ids[:8]):  # a sweep per clip is slow; 8 clips cover the cases
            if cttc is None and not truth.has_events(name)[n]:
                continue  # the library's shortcut, not the sweep (psd_curves applies it too)
            on = [truth.onsets[o][n] for o in classes]
            events = (np.concatenate(on), np.concatenate([truth.offsets[o][n] for o in classes]),
                      np.concatenate([np.full(len(a), i) for i, a in enumerate(on)]).astype(np.int64))
            (points, deltas), = sweep_deltas([rows.clip(n)], [scores.timestamps[n]], [events], c, len(classes),
                                             [Criteria(0.1, 0.1, cttc)], -np.inf, [None])
            order = np.lexsort((deltas["fps"], deltas["tps"], points))
            lib_points, lib = expected[key][name]
            np.testing.assert_array_equal(points[order], lib_points)
            np.testing.assert_array_equal(deltas["tps"][order], lib["tps"])
            np.testing.assert_array_equal(deltas["fps"][order], lib["fps"])
            if cttc is not None:
                for o in classes:
                    if o != name:
                        np.testing.assert_array_equal(deltas["cts"][order, classes.index(o)], lib[f"cts\\{o}"])


def test_accumulate_equals_the_library():
    from sed_scores_eval.base_modules.statistics import _intermediate_statistics_from_deltas

    rng = np.random.default_rng(0)
    points = np.round(rng.uniform(0, 1, 500), 2)  # many equal points
    deltas = {"tps": rng.integers(-2, 3, 500), "fps": rng.integers(-2, 3, 500), "cts\\Dog": rng.integers(0, 2, 500)}
    ours, stats = accumulate(points, deltas)
    theirs, expected = _intermediate_statistics_from_deltas(points, deltas)
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(stats["tps"], expected["tps"])
    np.testing.assert_array_equal(stats["cts\\Dog"], expected["cts"]["Dog"])


@pytest.mark.parametrize("threshold", [0.3, 0.5])
def test_fscores_at_a_threshold_equal_sed_scores_eval(case, threshold):
    from sed_scores_eval import collar_based, intersection_based, segment_based

    reference, scores = case
    classes = list(reference.classes)
    frames = {k: f[["onset", "offset", *classes]] for k, f in scores.to_dataframes().items()}
    checks = [
        (event_based_fscores_from_scores(reference, scores, threshold),
         collar_based.fscore(frames, reference.events, threshold, onset_collar=0.2, offset_collar=0.2,
                             offset_collar_rate=0.2)),
        (segment_based_fscores_from_scores(reference, scores, threshold),
         segment_based.fscore(frames, reference.events, reference.durations, threshold, segment_length=1.0)),
        (intersection_fscores_from_scores(reference, scores, threshold),
         intersection_based.fscore(frames, reference.events, threshold, dtc_threshold=0.5, gtc_threshold=0.5)),
    ]
    for ours, (f, p, r, _) in checks:
        assert ours["macro_f1"] == f["macro_average"] and ours["micro_f1"] == f["micro_average"]
        assert ours["macro_precision"] == p["macro_average"] and ours["micro_recall"] == r["micro_average"]
        for name in classes:
            assert ours["per_class"][name] == {"f1": f[name], "precision": p[name], "recall": r[name]}


def test_times_not_in_whole_microseconds_use_the_library():
    reference, scores = _case(7, hop=0.1, ties=None, smooth=False, n_clips=6)
    odd = FrameScores(scores.classes, scores.ids, scores.values,
                      [np.arange(len(t)) / 30.0 for t in scores.timestamps])  # 33.333... ms frames
    assert check_exact_inputs(reference, scores, 0.7)
    assert not check_exact_inputs(reference, odd, 0.7)
    for result, scenario in zip(sed_scores_psds_all(reference, odd, [PSDS1, PSDS2]), [PSDS1, PSDS2]):
        _assert_same_psds(result, _library_psds(reference, odd, scenario))


def test_onset_deltas_equal_the_library():
    from sed_scores_eval.base_modules.detection import onset_deltas as library_onset_deltas

    from jointsed.evaluate.score_statistics import onset_deltas

    rng = np.random.default_rng(1)
    row = np.round(rng.uniform(0, 1, 2000), 1)  # plateaus
    row[rng.integers(0, 2000, 50)] = -np.inf  # clip separators
    row[:3] = -np.inf
    np.testing.assert_array_equal(onset_deltas(row), library_onset_deltas(row))
    np.testing.assert_array_equal(onset_deltas(row[5:6]), library_onset_deltas(row[5:6]))


def test_segment_counts_of_mixed_clip_layouts_equal_sed_scores_eval():
    """Clips of different durations and frame hops (grouped by layout), a clip whose frames stop
    before its duration (segments without a frame score 0) and one whose frames run past it."""
    from sed_scores_eval import segment_based

    reference, scores = _case(8, hop=0.1, ties=None, smooth=False, n_clips=12)
    durations = dict(reference.durations)
    values, stamps = list(scores.values), list(scores.timestamps)
    for n, key in enumerate(scores.ids):
        if n % 3 == 1:  # another hop, same 4 s
            values[n] = np.repeat(values[n], 2, axis=1)
            stamps[n] = np.round(np.arange(values[n].shape[1] + 1) * 0.05, 6)
        elif n % 3 == 2:  # frames to 4 s, clip longer (5.5 s) or shorter (3.2 s)
            durations[key] = 5.5 if n % 2 else 3.2
    mixed = FrameScores(scores.classes, scores.ids, values, stamps)
    reference = Reference(events={k: [e for e in v if e[0] < durations[k]] for k, v in reference.events.items()},
                          durations=durations, classes=reference.classes)
    frames = {k: f[["onset", "offset", *reference.classes]] for k, f in mixed.to_dataframes().items()}
    for threshold in (0.3, 0.6):
        ours = segment_based_fscores_from_scores(reference, mixed, threshold)
        f, p, r, _ = segment_based.fscore(frames, reference.events, durations, threshold, segment_length=1.0)
        assert ours["macro_f1"] == f["macro_average"] and ours["micro_f1"] == f["micro_average"]
        for name in reference.classes:
            assert ours["per_class"][name] == {"f1": f[name], "precision": p[name], "recall": r[name]}


def test_psds_of_one_class_has_no_cross_trigger_term():
    """With one class there is no other class to cross-trigger: PSDS2's alpha_ct term is taken
    as 0 (the library fails on the empty mean), the library's value without it."""
    reference, scores = _case(9, hop=0.1, ties=None, smooth=False, n_clips=10)
    name = reference.classes[0]
    one = Reference(events={k: [e for e in v if e[2] == name] for k, v in reference.events.items()},
                    durations=reference.durations, classes=(name,))
    with pytest.raises((TypeError, IndexError, ValueError)):
        _library_psds(one, scores, PSDS2)
    (ours,) = sed_scores_psds_all(one, scores, [PSDS2])
    _assert_same_psds(ours, _library_psds(one, scores, dataclasses.replace(PSDS2, alpha_ct=0.0)))
    assert ours[0] > 0
