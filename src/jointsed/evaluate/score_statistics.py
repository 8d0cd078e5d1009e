"""Counts behind the metrics computed from frame scores, built from ``sed_scores_eval``'s own
per-clip functions but only where a metric reads them.

``sed_scores_eval`` computes every metric from frame scores the same way: for each clip and
class, the detections at *every* distinct score of the clip (``onset_offset_curves``), their
counts there (``statistics_fn`` of the metric family), the change of the counts between
consecutive scores (the "deltas"); then the deltas of all clips are sorted and summed into counts
at every threshold of the data set. An F-score at one decision threshold reads one point of that
curve, and PSDS only the points whose false-positive rate is at most ``max_efpr``. This module
computes the same points from the same functions without the rest:

* F-scores at a threshold ``t`` (collar-based, intersection-based): the library's point for
  ``t`` counts, in every clip, the detections of the frames scoring above ``t`` (the curve point
  of the lowest change point above ``t``; no clip changes its counts in between). So the
  detections above ``t`` of all clips are taken at once (runs of frames above ``t``) and
  compared with the events of their clip pair by pair, with the library's criteria; clips
  without an event of the class count every detection as a false positive, the library's own
  shortcut for them. A collar-based clip where a detection or an event has two candidate
  matches goes to the library's ``statistics_fn`` (its bipartite matching).
* Segment-based F-scores: the library's segment maxima and segment labels, compared with ``t``.

The F-scores then come from ``sed_scores_eval``'s own ``single_fscore_from_intermediate_statistics``
applied to a two-point curve (the point for ``t`` and the empty point at +inf) that holds the
counts it would have read from the full curve. PSDS is :mod:`.psd_curves`.

Exactness: the collar-based and segment-based criteria are the library's float expressions,
element by element. The intersection-based ones compare sums of intersections, rounded to
1e-6 s (``time_decimals=6``), with rounded fractions of lengths: here the intersections are
summed as whole microseconds, the same decision whenever every time is a whole number of
microseconds (frame boundaries as ``write_frame_scores`` writes them, DESED tables);
``check_exact_inputs`` says so, else the callers use the plain library call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from jointsed.evaluate.io import Reference
from jointsed.evaluate.score_files import FrameScores

TIME_DECIMALS = 6  # sed_scores_eval's default, used by every call of jointsed


@dataclass
class ClassRows:
    """One class's scores of every clip in one array, clips separated by ``-inf`` (no detection
    spans two clips, and ``onset_deltas`` counts nothing there)."""

    row: np.ndarray     # (sum of (T_n + 1),) float64
    starts: np.ndarray  # (N + 1,) int64: clip n is row[starts[n]:starts[n + 1] - 1]
    onset_deltas: np.ndarray  # (same,) int8: sed_scores_eval's onset_deltas(row), +1 maxima, -1 minima
    slot_clip: np.ndarray     # (same,) int32: the clip of each position

    def clip(self, n: int) -> np.ndarray:
        return self.row[self.starts[n]:self.starts[n + 1] - 1]

    def clip_of(self, positions: np.ndarray) -> np.ndarray:
        """The clip index of positions of ``row``."""
        return self.slot_clip[positions]


def onset_deltas(row: np.ndarray) -> np.ndarray:
    """``sed_scores_eval.base_modules.detection.onset_deltas`` as int8, computed with one
    comparison of neighbours instead of two shifted copies (the library's formula:
    ``((x > previous) - (next > x)) * (x > -inf)``, with -inf before the first and after the last)."""
    rises = row[1:] > row[:-1]
    out = np.empty(len(row), dtype=np.int8)
    if len(row):
        out[0] = row[0] > -np.inf
        out[1:] = rises
        out[:-1] -= rises
        out[row == -np.inf] = 0
    return out


def class_rows(scores: FrameScores, c: int) -> ClassRows:
    lengths = np.array([v.shape[1] for v in scores.values], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths + 1)]).astype(np.int64)
    row = np.full(int(starts[-1]), -np.inf)
    for n, values in enumerate(scores.values):
        row[starts[n]:starts[n] + lengths[n]] = values[c]
    slot_clip = np.repeat(np.arange(len(lengths), dtype=np.int32), lengths + 1)
    return ClassRows(row, starts, onset_deltas(row), slot_clip)


@dataclass
class Truth:
    """The ground truth as ``sed_scores_eval``'s workers see it, per class and clip."""

    onsets: dict[str, list[np.ndarray]]   # class -> per clip, in FrameScores order
    offsets: dict[str, list[np.ndarray]]
    n_clips: int

    def target(self, name: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        return self.onsets[name][n], self.offsets[name][n]

    def others(self, name: str, n: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        return ({o: v[n] for o, v in self.onsets.items() if o != name},
                {o: v[n] for o, v in self.offsets.items() if o != name})

    def has_events(self, name: str) -> np.ndarray:
        return np.array([len(a) > 0 for a in self.onsets[name]], dtype=bool)


@dataclass
class GroundTruthViews:
    """The ground truth of the scored clips in the forms the metrics read, built once."""

    single: dict[str, dict[str, list]]  # sed_scores_eval's single-label ground truths
    truth: Truth
    n_ref: dict[str, int]


def ground_truth_views(reference: Reference, scores: FrameScores, classes: Sequence[str]) -> GroundTruthViews:
    """:class:`GroundTruthViews` of ``reference`` over the clips of ``scores``, cached on ``scores``
    (the F-scores and PSDS of one evaluation share them: building them is Python work per clip
    and class, seconds on 10,000 clips)."""
    from sed_scores_eval.base_modules.ground_truth import (
        event_counts_and_durations,
        multi_label_to_single_label_ground_truths,
    )

    key = ("ground_truth", tuple(classes), tuple(scores.ids))
    cached = scores.cache.get(key)
    if cached is not None and cached[0] is reference:
        return cached[1]
    events = {k: reference.events[k] for k in scores.ids}
    single = multi_label_to_single_label_ground_truths(events, list(classes))
    onsets: dict[str, list[np.ndarray]] = {}
    offsets: dict[str, list[np.ndarray]] = {}
    for name in classes:
        on_list, off_list = [], []
        for key_ in scores.ids:
            gt = single[name][key_]
            if gt:
                on, off = np.array(gt).T  # as the library's workers
            else:
                on = off = np.empty(0)
            on_list.append(on)
            off_list.append(off)
        onsets[name], offsets[name] = on_list, off_list
    n_ref, _ = event_counts_and_durations(events, list(classes))
    views = GroundTruthViews(single, Truth(onsets, offsets, len(scores.ids)), n_ref)
    scores.cache[key] = (reference, views)
    return views


def truth_of(reference: Reference, scores: FrameScores, classes: Sequence[str]) -> Truth:
    """Per class and clip the onset and offset arrays (``np.array(gt).T`` as in the library)."""
    return ground_truth_views(reference, scores, classes).truth


def check_exact_inputs(reference: Reference, scores: FrameScores, min_fraction: float) -> bool:
    """Whether the fast paths give the library's counts (see the module docstring): every frame
    boundary and ground-truth time a multiple of 1e-6 s (to float precision), and frames and events
    long enough that ``min_fraction`` of them rounds to a positive number of microseconds (else
    the library counts a detection without any intersection as a hit, which the fast paths skip)."""
    whole, shortest = _time_grid(reference, scores)
    return whole and bool(np.round(min_fraction * shortest, TIME_DECIMALS) > 0)


def _time_grid(reference: Reference, scores: FrameScores) -> tuple[bool, float]:
    """``(every time a whole number of microseconds, the shortest frame or event)``, all clips at
    once, cached on ``scores`` (every metric of an evaluation asks)."""
    key = ("time_grid",)
    cached = scores.cache.get(key)
    if cached is not None and cached[0] is reference:
        return cached[1]

    def whole_microseconds(values: np.ndarray) -> bool:  # to within 1 ns (float error of a 6-decimal time)
        scaled = values * 1e6
        return bool(np.all(np.abs(scaled - np.round(scaled)) <= 1e-3))

    stamps = np.concatenate(scores.timestamps) if len(scores) else np.empty(0)
    whole, shortest = whole_microseconds(stamps), np.inf
    if stamps.size:
        lengths = np.diff(stamps)
        last = np.cumsum([len(t) for t in scores.timestamps])[:-1] - 1  # diffs across two clips
        keep = np.ones(len(lengths), dtype=bool)
        keep[last] = False
        if keep.any():
            shortest = float(np.min(lengths[keep]))
    times = np.array([t for evs in reference.events.values() for on, off, _ in evs for t in (on, off)], dtype=np.float64)
    if times.size:
        whole = whole and whole_microseconds(times)
        shortest = min(shortest, float(np.min(times[1::2] - times[0::2])))
    scores.cache[key] = (reference, (whole, shortest))
    return whole, shortest


# ------------------------------------------------------------------------ F-scores at a threshold


def _two_point_curves(counts: Mapping[str, tuple[float, float, float]], threshold: float) -> dict[str, Any]:
    """``{class: (scores, stats)}`` holding only the curve point the library reads for
    ``threshold`` (``tps``, ``fps``, ``n_ref``) and the empty point at +inf."""
    above = np.nextafter(threshold, np.inf)
    return {
        name: (np.array([above, np.inf]), {"tps": np.array([tp, 0.0]), "fps": np.array([fp, 0.0]), "n_ref": n_ref})
        for name, (tp, fp, n_ref) in counts.items()
    }


def fscores_from_counts(counts: Mapping[str, tuple[float, float, float]], threshold: float) -> tuple[dict, dict, dict]:
    """``(f, p, r)`` dicts (per class, ``macro_average``, ``micro_average``) as
    ``sed_scores_eval``'s ``fscore`` functions return them, from ``{class: (TP, FP, N_ref)}``."""
    from sed_scores_eval.base_modules.precision_recall import single_fscore_from_intermediate_statistics

    f, p, r, _ = single_fscore_from_intermediate_statistics(_two_point_curves(counts, threshold), threshold)
    return f, p, r


@dataclass
class Detections:
    """The detections of one class at one threshold in every clip, flat, each paired with the
    events of the class in its clip (the rows and pairs ``statistics_fn`` would see)."""

    clip: np.ndarray      # (D,) clip index of each detection
    onset: np.ndarray     # (D,) seconds, the library's detection onset (a frame boundary)
    offset: np.ndarray    # (D,)
    pair_det: np.ndarray  # (P,) detection of each (detection, event) pair
    pair_event: np.ndarray  # (P,) index into the class's flat events
    events_on: np.ndarray   # (E,) the class's events of all clips, flat
    events_off: np.ndarray
    events_clip: np.ndarray


def detections_above(scores: FrameScores, rows: ClassRows, truth: Truth, name: str, threshold: float) -> Detections:
    """Runs of frames scoring above ``threshold`` (the library's detections at the lowest change
    point above it), with frame boundaries for times."""
    stamps = np.full(len(rows.row), np.nan)  # aligned with rows.row: clip n's T_n + 1 boundaries
    for n, ts in enumerate(scores.timestamps):
        stamps[rows.starts[n]:rows.starts[n] + len(ts)] = ts
    above = rows.row > threshold
    before = np.concatenate([[False], above[:-1]])
    starts = np.flatnonzero(above & ~before)
    stops = np.flatnonzero(~above & before)  # the slot after each run (a separator at worst)
    clip = rows.clip_of(starts)
    on_list = truth.onsets[name]
    counts = np.array([len(a) for a in on_list], dtype=np.int64)
    first = np.concatenate([[0], np.cumsum(counts)])
    per_det = counts[clip]
    pair_det = np.repeat(np.arange(len(starts)), per_det)
    pair_event = np.repeat(first[clip], per_det) + (np.arange(len(pair_det)) - np.repeat(np.cumsum(per_det) - per_det, per_det))
    return Detections(
        clip, stamps[starts], stamps[stops], pair_det, pair_event,
        np.concatenate(on_list) if on_list else np.empty(0),
        np.concatenate(truth.offsets[name]) if on_list else np.empty(0),
        np.repeat(np.arange(len(on_list)), counts),
    )


def intersection_counts_at_threshold(
    scores: FrameScores, reference: Reference, classes: Sequence[str], threshold: float,
    dtc_threshold: float, gtc_threshold: float,
) -> dict[str, tuple[float, float, float]]:
    """``{class: (TP, FP, N_ref)}`` of ``intersection_based.fscore`` at ``threshold`` (no
    cross-triggers), all clips at once: intersections in whole microseconds, as
    :mod:`.psd_sweep` (exact when :func:`check_exact_inputs` holds), lengths' side by the
    library's expression. Clips without an event of the class: every detection a false
    positive (the library's shortcut)."""
    from jointsed.evaluate.psd_sweep import rounded_us

    views = ground_truth_views(reference, scores, classes)
    truth, n_ref = views.truth, views.n_ref
    counts = {}
    for name in classes:
        rows = class_rows(scores, scores.class_index(name))
        d = detections_above(scores, rows, truth, name, threshold)
        pd_, pe = d.pair_det, d.pair_event
        inter = np.maximum(np.minimum(np.rint(d.offset[pd_] * 1e6), np.rint(d.events_off[pe] * 1e6))
                           - np.maximum(np.rint(d.onset[pd_] * 1e6), np.rint(d.events_on[pe] * 1e6)), 0)
        total = np.bincount(pd_, weights=inter, minlength=len(d.clip)).astype(np.int64)
        relevant = (total >= rounded_us(dtc_threshold, d.offset - d.onset)) & truth.has_events(name)[d.clip]
        covered = np.bincount(pe, weights=inter * relevant[pd_], minlength=len(d.events_on)).astype(np.int64)
        tp = int(np.sum(covered >= rounded_us(gtc_threshold, d.events_off - d.events_on)))
        counts[name] = (float(tp), float(len(d.clip) - relevant.sum()), n_ref[name])
    return counts


def collar_counts_at_threshold(
    scores: FrameScores, reference: Reference, classes: Sequence[str], threshold: float,
    onset_collar: float, offset_collar: float, offset_collar_rate: float,
) -> dict[str, tuple[float, float, float]]:
    """``{class: (TP, FP, N_ref)}`` of ``collar_based.fscore`` at ``threshold``: the library's
    hit criteria (its float expressions, pair by pair); a clip where a detection or an event has
    two hits goes to the library's ``statistics_fn`` (its bipartite matching)."""
    from sed_scores_eval.base_modules.cy_detection import onset_offset_curves
    from sed_scores_eval.collar_based.intermediate_statistics import statistics_fn

    views = ground_truth_views(reference, scores, classes)
    truth, n_ref = views.truth, views.n_ref
    counts = {}
    for name in classes:
        rows = class_rows(scores, scores.class_index(name))
        d = detections_above(scores, rows, truth, name, threshold)
        pd_, pe = d.pair_det, d.pair_event
        onset_crit = np.round(np.abs(d.onset[pd_] - d.events_on[pe]) - onset_collar, decimals=TIME_DECIMALS) <= 0.0
        collars = np.maximum(offset_collar, offset_collar_rate * (d.events_off - d.events_on))
        offset_crit = np.round(np.abs(d.offset[pd_] - d.events_off[pe]) - collars[pe], decimals=TIME_DECIMALS) <= 0.0
        hit = onset_crit & offset_crit
        per_det = np.bincount(pd_, weights=hit, minlength=len(d.clip))
        per_event = np.bincount(pe, weights=hit, minlength=len(d.events_on))
        ambiguous = np.zeros(len(scores.ids), dtype=bool)
        ambiguous[d.clip[per_det > 1]] = True
        ambiguous[d.events_clip[per_event > 1]] = True
        tp = float(np.sum(hit & ~ambiguous[d.clip[pd_]]))
        for n in np.flatnonzero(ambiguous):  # several candidate matches: the library's matching
            x = rows.clip(n)
            _, onsets, offsets = onset_offset_curves(x, scores.timestamps[n], np.array([x[x > threshold].min()]))
            target_on, target_off = truth.target(name, n)
            other_on, other_off = truth.others(name, n)
            stats = statistics_fn(
                detection_onset_times=onsets, detection_offset_times=offsets,
                target_onset_times=target_on, target_offset_times=target_off,
                other_onset_times=other_on, other_offset_times=other_off,
                onset_collar=onset_collar, offset_collar=offset_collar, offset_collar_rate=offset_collar_rate,
                time_decimals=TIME_DECIMALS,
            )
            tp += float(stats["tps"][0])
        counts[name] = (tp, float(len(d.clip)) - tp, n_ref[name])
    return counts


def _segment_layout(timestamps: np.ndarray, duration: float, segment_length: float):
    """The library's segments of a clip: onsets, offsets, and per segment the frames
    ``[idx_on, idx_off)`` whose maximum is its score (``segment_based.intermediate_statistics._worker``)."""
    from sed_scores_eval.utils.array_ops import get_first_index_where

    n_segments = int(np.ceil(duration / segment_length))
    bounds = np.round(np.arange(n_segments + 1) * segment_length, TIME_DECIMALS)
    idx_on = np.array([max(get_first_index_where(timestamps, "gt", b) - 1, 0) for b in bounds[:-1]], dtype=np.int64)
    idx_off = np.array([min(get_first_index_where(timestamps, "geq", b), len(timestamps) - 1) for b in bounds[1:]],
                       dtype=np.int64)
    return bounds[:-1], bounds[1:], idx_on, idx_off


#: clips whose segment maxima are taken in one array (a (clips, classes, frames) copy of their scores)
SEGMENT_CHUNK = 1000


def segment_counts_at_threshold(
    scores: FrameScores, reference: Reference, classes: Sequence[str], threshold: float, segment_length: float
) -> dict[str, tuple[float, float, float]]:
    """``{class: (TP, FP, N_ref)}`` of the segment-based F-score at ``threshold``: the library's
    segments of ``segment_length`` s over each clip's duration, a segment's score the highest
    frame score in it (0 for a segment without a frame), its label whether a ground-truth
    event of the class overlaps it (``segment_based.intermediate_statistics._worker``, its
    expressions). Clips with the same frame boundaries and duration share their segments, and
    their maxima are taken together."""
    columns = [scores.class_index(name) for name in classes]
    class_of = {name: i for i, name in enumerate(classes)}
    tp = np.zeros(len(classes))
    fp = np.zeros(len(classes))
    n_ref = np.zeros(len(classes))
    groups: dict[tuple[bytes, float], list[int]] = {}
    for n, key in enumerate(scores.ids):
        timestamps = np.round(scores.timestamps[n], TIME_DECIMALS)
        groups.setdefault((timestamps.tobytes(), reference.durations[key]), []).append(n)
    for (stamp_bytes, duration), members in groups.items():
        seg_on, seg_off, idx_on, idx_off = _segment_layout(np.frombuffer(stamp_bytes), duration, segment_length)
        for first in range(0, len(members), SEGMENT_CHUNK):
            chunk = members[first:first + SEGMENT_CHUNK]
            every = columns == list(range(len(scores.classes)))  # no column copy before the stack
            values = np.stack([scores.values[n] if every else scores.values[n][columns] for n in chunk])  # (G, C, T)
            maxima = np.zeros((len(chunk), len(columns), len(seg_on)))
            for s in np.flatnonzero(idx_off > idx_on):
                maxima[:, :, s] = values[:, :, idx_on[s]:idx_off[s]].max(axis=2)
            detected = maxima > threshold
            # labels: the segments each event of the chunk overlaps
            rows, labels, onsets, offsets = [], [], [], []
            for g, n in enumerate(chunk):
                for on, off, label in reference.events[scores.ids[n]]:
                    if label in class_of:
                        rows.append(g)
                        labels.append(class_of[label])
                        onsets.append(on)
                        offsets.append(off)
            active = np.zeros_like(detected)
            if rows:
                on_, off_ = np.array(onsets, dtype=np.float64)[:, None], np.array(offsets, dtype=np.float64)[:, None]
                overlap = (seg_on < off_) * (seg_off > on_) * (seg_off > seg_on)
                event, segment = np.nonzero(overlap)
                active[np.array(rows)[event], np.array(labels)[event], segment] = True
            tp += np.sum(detected & active, axis=(0, 2))
            fp += np.sum(detected & ~active, axis=(0, 2))
            n_ref += np.sum(active, axis=(0, 2))
    return {name: (float(tp[i]), float(fp[i]), float(n_ref[i])) for i, name in enumerate(classes)}


__all__ = [
    "TIME_DECIMALS",
    "ClassRows",
    "GroundTruthViews",
    "Truth",
    "check_exact_inputs",
    "onset_deltas",
    "class_rows",
    "Detections",
    "collar_counts_at_threshold",
    "detections_above",
    "intersection_counts_at_threshold",
    "fscores_from_counts",
    "ground_truth_views",
    "segment_counts_at_threshold",
    "truth_of",
]
