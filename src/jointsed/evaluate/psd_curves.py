"""PSDS from frame scores, exactly as ``sed_scores_eval.intersection_based.psds`` computes it,
with memory and time bounded by the part of the PSD-ROC that PSDS reads.

``sed_scores_eval`` builds each class's ROC at every distinct score of the data set: for every
clip and class the detections and counts at each of the clip's scores (a scores x detections
table per clip and class), kept in memory for all clips and classes at once, then concatenated,
summed per distinct score and sorted in Python (``curves.xsort``) before the points above
``max_efpr`` are dropped. That is what grows with the data set (10,000 clips of 500 frames: ~5
million points per class and scenario, 4.5 GB and 10 min for PSDS1 + PSDS2). PSDS only
integrates the ROC up to ``max_efpr``, and the point of threshold ``s`` (the counts of the frames
scoring at least ``s``) has an effective false-positive rate of at least ``FP(s) / duration``.
This module uses that, one class at a time:

1. A lower bound of the false positives of every threshold, cheap for all thresholds at once: a
   detection (a run of frames >= s) that overlaps no event of the class is a false positive, and
   there are at least ``runs of x >= s`` minus ``runs of x >= s within the frames that overlap an
   event`` of those (both counted with the library's ``onset_deltas`` formula). Where the bound exceeds
   ``max_efpr`` the library's point is cut whatever its exact counts. ``s_cut`` is a score below
   which every point is cut that way (found on 4,096 score bins, with the bound's minimum over
   each bin).
2. The exact counts at every distinct score above ``s_cut``: :mod:`.psd_sweep` (every clip at
   once, frames from the highest score down); the clips without an event of the class get the
   library's own shortcut where the library takes it (no cross-triggers: a change of one false
   positive at each local extremum of the scores, ``acceleration_fn``).
3. The counts summed per distinct score (as ``_intermediate_statistics_from_deltas``), the points
   whose rate is above ``max_efpr`` dropped (they sort after all the others in the library's
   ``_unique_cummax_sort`` and are cut there), then the library's own
   ``_single_class_roc_from_intermediate_statistics``, multi-class ROC and area.

PSDS1 and PSDS2 share steps 1 and 2 (same thresholds; the bound does not depend on the
scenario). The result equals the library's PSDS, per-class PSDS and ROCs (the tests compare
them on random inputs); :func:`.score_statistics.check_exact_inputs` says when the inputs allow
it, else the callers use the plain library call.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from jointsed.evaluate.io import Reference
from jointsed.evaluate.psd_sweep import Criteria, sweep_deltas
from jointsed.evaluate.score_files import FrameScores
from jointsed.evaluate.score_statistics import ClassRows, Truth, class_rows, onset_deltas, truth_of
from jointsed.evaluate.settings import PSDSScenario

SECONDS_PER_HOUR = 3600.0  # sed_scores_eval's unit_of_time="hour", the DCASE rate unit
BOUND_BINS = 4096
PSDSResult = tuple[float, dict[str, float], tuple[np.ndarray, np.ndarray], dict[str, tuple[np.ndarray, ...]]]


def _event_frames(rows: ClassRows, scores: FrameScores, truth: Truth, name: str) -> np.ndarray:
    """Positions of ``rows.row`` whose frame overlaps an event of class ``name`` (a superset: frames
    within 1 µs of an event count too, which only loosens the bound)."""
    mask = np.zeros(len(rows.row), dtype=bool)
    for n in np.flatnonzero(truth.has_events(name)):
        stamps = scores.timestamps[n]
        frames = len(stamps) - 1
        for on, off in zip(*truth.target(name, n)):
            first = max(int(np.searchsorted(stamps, on - 1e-6, side="right")) - 1, 0)
            stop = min(int(np.searchsorted(stamps, off + 1e-6, side="left")), frames)
            mask[rows.starts[n] + first:rows.starts[n] + stop] = True
    return mask


def false_positive_bound(
    rows: ClassRows, event_frames: np.ndarray, with_events: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(scores, deltas, of_event_clip)``: the lower bound of step 1 at threshold ``s`` is the
    sum of the deltas at scores >= ``s`` of the clips without an event of the class (each run
    a false positive), plus that sum over the clips with events where it is positive (runs
    minus runs within event frames: one run covering several events is subtracted for each,
    so this part alone can be negative, and a false-positive count is not).
    ``with_events``: per clip, whether it has an event of the class."""
    inside = np.where(event_frames, rows.row, -np.inf)
    inside_deltas = onset_deltas(inside)
    all_nz, in_nz = np.flatnonzero(rows.onset_deltas), np.flatnonzero(inside_deltas)
    values = np.concatenate([rows.row[all_nz], inside[in_nz]])
    deltas = np.concatenate([rows.onset_deltas[all_nz], -inside_deltas[in_nz]]).astype(np.float64)
    of_event_clip = with_events[rows.slot_clip[np.concatenate([all_nz, in_nz])]]
    return values, deltas, of_event_clip


def lowest_needed_threshold(
    values: np.ndarray, deltas: np.ndarray, of_event_clip: np.ndarray, duration: float, max_efpr: float
) -> float:
    """``s_cut`` of step 1: every curve point at a score <= it has more than ``max_efpr`` false
    positives per hour (``-inf``: none can be skipped). The arguments but the last two:
    :func:`false_positive_bound`."""
    if values.size == 0:
        return -np.inf
    low, high = float(values.min()), float(values.max())
    if not low < high:
        return -np.inf
    edges = np.linspace(low, high, BOUND_BINS + 1)
    # bin b holds [edges[b], edges[b + 1]) (the last one also holds `high`): the arithmetic guess,
    # corrected against the edges themselves (as numpy's histogram does)
    bins = np.clip(((values - low) * (BOUND_BINS / (high - low))).astype(np.int64), 0, BOUND_BINS - 1)
    bins -= values < edges[bins]
    bins += (values >= edges[bins + 1]) & (bins < BOUND_BINS - 1)

    def part_bound(mask: np.ndarray) -> np.ndarray:
        gains = np.bincount(bins[mask], weights=np.maximum(deltas[mask], 0), minlength=BOUND_BINS)
        losses = np.bincount(bins[mask], weights=np.minimum(deltas[mask], 0), minlength=BOUND_BINS)
        above = np.concatenate([np.cumsum((gains + losses)[::-1])[::-1][1:], [0.0]])
        # within a bin the sum at a threshold is at least (all bins above) + (the bin's negative deltas)
        return above + losses

    bound = part_bound(~of_event_clip) + np.maximum(part_bound(of_event_clip), 0.0)
    # the library's rate, (fps / duration) * 3600 (+ a cross-trigger term >= 0), is at least
    # this, float operations being monotonic
    cut = (bound / duration) * SECONDS_PER_HOUR > max_efpr
    if not cut[0]:
        return -np.inf
    first_needed = int(np.argmin(cut)) if not cut.all() else BOUND_BINS
    if first_needed == BOUND_BINS:
        return high  # only thresholds above every score (no detection) are needed
    return float(np.nextafter(edges[first_needed], -np.inf))  # keep the scores >= that edge


def accumulate(points: np.ndarray, deltas: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``sed_scores_eval.base_modules.statistics._intermediate_statistics_from_deltas`` for
    integer deltas, without its (points x statistics) float table and ``np.add.at``: the distinct
    points plus +inf, and per statistic the sum of the deltas at and above each (float64)."""
    order = np.argsort(points, kind="stable")
    sorted_points = points[order]
    first = np.flatnonzero(np.concatenate([[True], sorted_points[1:] != sorted_points[:-1]])) if len(points) else \
        np.empty(0, dtype=np.int64)
    unique = np.concatenate([sorted_points[first], [np.inf]])
    stats = {}
    for key, values in deltas.items():
        sums = np.add.reduceat(np.asarray(values, dtype=np.int64)[order], first) if len(first) else np.empty(0, np.int64)
        stats[key] = np.concatenate([np.cumsum(sums[::-1])[::-1], [0]]).astype(np.float64)
    return unique, stats


def _efpr(stats: dict[str, Any], duration: float, alpha_ct: float) -> np.ndarray:
    """The effective false-positive rate per hour of every point (the library's formula)."""
    rate = stats["fps"] / duration
    if alpha_ct:
        ct_rates = [stats["cts"][o] / max(stats["t_ref_other"][o], 1e-12) for o in stats["cts"]]
        rate = rate + alpha_ct * np.mean(ct_rates, axis=0)
    return rate * SECONDS_PER_HOUR


def _select(stats: Any, keep: np.ndarray) -> Any:
    if isinstance(stats, dict):
        return {k: _select(v, keep) for k, v in stats.items()}
    if isinstance(stats, np.ndarray) and stats.ndim == 1 and len(stats) == len(keep):
        return stats[keep]
    return stats


def _class_curve(
    points: np.ndarray, deltas: dict[str, np.ndarray], name: str, classes: Sequence[str],
    n_ref: dict[str, int], t_ref: dict[str, float], duration: float, scenario: PSDSScenario,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Step 3 for one class: its summed statistics (the library's layout, with ``n_ref`` ... as
    ``accumulated_intermediate_statistics_from_deltas`` adds them), the points PSDS reads."""
    unique, sums = accumulate(points, deltas)
    stats: dict[str, Any] = {"tps": sums["tps"], "fps": sums["fps"]}
    if scenario.alpha_ct:
        stats["cts"] = {o: sums[f"cts\\{o}"] for o in classes if o != name}
    else:
        stats["cts"] = sums["cts"]
    stats.update({
        "n_ref": n_ref[name], "t_ref": t_ref[name],
        "n_ref_other": {o: n_ref[o] for o in classes if o != name},
        "t_ref_other": {o: t_ref[o] for o in classes if o != name},
    })
    # 1e-9 of slack: a point the library keeps is never dropped here (it drops the rest itself)
    keep = _efpr(stats, duration, scenario.alpha_ct) <= scenario.max_efpr * (1 + 1e-9)
    return unique[keep], _select(stats, keep)


def psd_intermediate_statistics(
    scores: FrameScores, reference: Reference, classes: Sequence[str], scenarios: Sequence[PSDSScenario]
) -> tuple[list[dict[str, Any]], float]:
    """Steps 1-3 for every scenario: ``([{class: (points, stats)} per scenario], duration)``, the
    library's accumulated intermediate statistics at the points PSDS reads."""
    from sed_scores_eval.base_modules.ground_truth import event_counts_and_durations
    from sed_scores_eval.base_modules.io import parse_ground_truth

    if set(scores.ids) != set(reference.durations):
        raise ValueError("the frame scores must cover exactly the reference clips")
    ground_truth = parse_ground_truth({k: reference.events[k] for k in scores.ids})  # the library's checks
    n_ref, t_ref = event_counts_and_durations(ground_truth, event_classes=list(classes))
    duration = sum(reference.durations.values())  # the library's sum, in the order given
    truth = truth_of(reference, scores, classes)
    column_of = {name: i for i, name in enumerate(classes)}
    events = []  # per clip all its events, (onsets, offsets, class indices)
    for n in range(len(scores.ids)):
        on = [truth.onsets[c][n] for c in classes]
        events.append((np.concatenate(on), np.concatenate([truth.offsets[c][n] for c in classes]),
                       np.concatenate([np.full(len(a), column_of[c], dtype=np.int64) for c, a in zip(classes, on)])))
    cttcs = [s.cttc_threshold if s.alpha_ct else None for s in scenarios]
    curves: list[dict[str, Any]] = [{} for _ in scenarios]
    for name in classes:
        rows = class_rows(scores, scores.class_index(name))
        with_events = truth.has_events(name)
        bound = false_positive_bound(rows, _event_frames(rows, scores, truth, name), with_events)
        s_cut = min(lowest_needed_threshold(*bound, duration, rate) for rate in {s.max_efpr for s in scenarios})
        del bound
        # clips without an event of the class, scenarios without cross-triggers: the library's
        # shortcut (acceleration_fn), one false positive more or less at each local extremum
        positions = np.flatnonzero((rows.onset_deltas != 0) & (rows.row > s_cut) & ~with_events[rows.slot_clip])
        lone_points, lone_fps = rows.row[positions], rows.onset_deltas[positions].astype(np.int64)
        # every other clip swept once for all scenarios
        needed = with_events | any(cttc is not None for cttc in cttcs)
        swept = sweep_deltas(
            [rows.clip(n) if needed[n] else rows.clip(n)[:0] for n in range(len(scores.ids))],
            scores.timestamps, events, column_of[name], len(classes),
            [Criteria(s.dtc_threshold, s.gtc_threshold, cttc) for s, cttc in zip(scenarios, cttcs)], s_cut,
            [None if cttc is not None else with_events for cttc in cttcs],
        )
        del rows
        for k, (points, sweep) in enumerate(swept):
            if cttcs[k] is None:
                points = np.concatenate([lone_points, points])
                found = {"tps": np.concatenate([np.zeros(len(lone_points), np.int64), sweep["tps"]]),
                         "fps": np.concatenate([lone_fps, sweep["fps"]]),
                         "cts": np.zeros(len(points), dtype=np.int64)}
            else:
                found = {"tps": sweep["tps"], "fps": sweep["fps"],
                         **{f"cts\\{o}": sweep["cts"][:, column_of[o]] for o in classes if o != name}}
            curves[k][name] = _class_curve(points, found, name, classes, n_ref, t_ref, duration, scenarios[k])
    return curves, duration


def psds_from_curves(curves: dict[str, Any], duration: float, scenario: PSDSScenario) -> PSDSResult:
    """``(psds, per-class psds, (tpr, efpr), per-class rocs)`` as ``intersection_based.psds``."""
    from sed_scores_eval.intersection_based.psds import (
        _single_class_roc_from_intermediate_statistics,
        multi_class_psd_roc_from_single_class_psd_rocs,
        psds_from_psd_roc,
    )

    rocs = _single_class_roc_from_intermediate_statistics(
        curves, dataset_duration=duration, alpha_ct=scenario.alpha_ct, unit_of_time="hour", max_efpr=scenario.max_efpr
    )
    tpr, efpr = multi_class_psd_roc_from_single_class_psd_rocs(rocs, alpha_st=scenario.alpha_st,
                                                               max_efpr=scenario.max_efpr)
    per_class = {name: psds_from_psd_roc(t, e, scenario.max_efpr) for name, (t, e, _) in rocs.items()}
    return psds_from_psd_roc(tpr, efpr, scenario.max_efpr), per_class, (tpr, efpr), rocs


def psds_of_scenarios(
    scores: FrameScores, reference: Reference, classes: Sequence[str], scenarios: Sequence[PSDSScenario]
) -> list[PSDSResult]:
    """PSDS of every scenario over ``classes`` (each must have a ground-truth event, as the library
    requires), sharing the detections between the scenarios."""
    curves, duration = psd_intermediate_statistics(scores, reference, classes, scenarios)
    return [psds_from_curves(c, duration, s) for c, s in zip(curves, scenarios)]


__all__ = ["PSDSResult", "accumulate", "false_positive_bound", "lowest_needed_threshold",
           "psd_intermediate_statistics", "psds_from_curves", "psds_of_scenarios"]
