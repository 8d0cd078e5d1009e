"""Fast collar-based event F1 per class, equal to sed_eval's ``EventBasedMetrics``.

sed_eval (Mesaros, Heittola, Virtanen, "Metrics for polyphonic sound event detection", 2016)
counts an estimated event as a true positive when it has the reference event's label, its onset
is within ``t_collar`` of the reference onset and its offset within
``max(t_collar, percentage_of_length × reference length)`` of the reference offset. Each event
is used at most once; sed_eval's default ``event_matching_type="optimal"`` (used by the DCASE
evaluation) takes a maximum bipartite matching between reference and estimated events of a class
in a file, which is what :func:`count_matches` computes: clips whose hit graph is a set of
isolated pairs are counted vectorised, the few others by augmenting paths (Kuhn's algorithm).
The comparisons use the same float64 expressions as sed_eval, so borderline events are decided
identically. Per class, F1 = 2·TP / (N_ref + N_sys), and 0 when TP = 0 (sed_eval with
``empty_system_output_handling="zero_score"``; :func:`jointsed.evaluate.counts.f1_from_counts`).
The collars are an :class:`~jointsed.evaluate.settings.EventCollars`, the evaluator's own
(DCASE: :data:`~jointsed.evaluate.settings.EVENT_COLLARS`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np

from jointsed.evaluate.counts import f1_from_counts
from jointsed.evaluate.settings import EVENT_COLLARS, EventCollars

if TYPE_CHECKING:
    from jointsed.data.annotations import Event


def _max_matching(edges_est: np.ndarray, edges_ref: np.ndarray) -> int:
    """Size of a maximum bipartite matching (augmenting paths; graphs here have a few nodes)."""
    adjacency: dict[int, list[int]] = {}
    for e, r in zip(edges_est.tolist(), edges_ref.tolist()):
        adjacency.setdefault(e, []).append(r)
    ref_owner: dict[int, int] = {}

    def augment(e: int, seen: set[int]) -> bool:
        for r in adjacency[e]:
            if r in seen:
                continue
            seen.add(r)
            if r not in ref_owner or augment(ref_owner[r], seen):
                ref_owner[r] = e
                return True
        return False

    return sum(augment(e, set()) for e in adjacency)


def count_matches(
    ref_clip: np.ndarray,
    ref_onset: np.ndarray,
    ref_offset: np.ndarray,
    est_clip: np.ndarray,
    est_onset: np.ndarray,
    est_offset: np.ndarray,
    n_clips: int,
    *,
    collars: EventCollars,
) -> np.ndarray:
    """True positives per clip for the events of ONE class.

    Args:
        ref_clip, ref_onset, ref_offset: (N_ref,) clip index (0 … n_clips-1) and times (s) of the
            reference events, sorted by clip index.
        est_clip, est_onset, est_offset: (N_sys,) the same for the estimated events, sorted by clip.
        n_clips: number of clips.
        collars: onset collar ``t_collar`` (s, also the minimum offset collar) and offset
            collar ``percentage_of_length`` of the reference event length.

    Returns:
        (n_clips,) int64: size of the maximum matching of each clip.
    """
    tp = np.zeros(n_clips, dtype=np.int64)
    if len(ref_clip) == 0 or len(est_clip) == 0:
        return tp
    ref_ptr = np.searchsorted(ref_clip, np.arange(n_clips + 1))
    first_ref = ref_ptr[est_clip]
    n_cand = ref_ptr[est_clip + 1] - first_ref  # reference events in the clip of each estimate
    total = int(n_cand.sum())
    if total == 0:
        return tp
    pair_est = np.repeat(np.arange(len(est_clip)), n_cand)
    pair_ref = np.repeat(first_ref - (np.cumsum(n_cand) - n_cand), n_cand) + np.arange(total)
    ref_on, ref_off = ref_onset[pair_ref], ref_offset[pair_ref]
    # the same float expressions as sed_eval's validate_onset / validate_offset
    t_collar, percentage_of_length = collars.t_collar, collars.percentage_of_length
    hit = (np.abs(ref_on - est_onset[pair_est]) <= t_collar) & (
        np.abs(ref_off - est_offset[pair_est])
        <= np.maximum(t_collar, percentage_of_length * (ref_off - ref_on))
    )
    hit_est, hit_ref = pair_est[hit], pair_ref[hit]
    if len(hit_est) == 0:
        return tp
    est_degree = np.bincount(hit_est, minlength=len(est_clip))
    ref_degree = np.bincount(hit_ref, minlength=len(ref_clip))
    isolated = (est_degree[hit_est] == 1) & (ref_degree[hit_ref] == 1)
    hit_clip = est_clip[hit_est]
    tp += np.bincount(hit_clip[isolated], minlength=n_clips)
    for clip in np.unique(hit_clip[~isolated]):
        in_clip = hit_clip == clip
        tp[clip] = _max_matching(hit_est[in_clip], hit_ref[in_clip])
    return tp


def event_counts_per_class(
    reference: Iterable["Event"],
    estimated: Iterable["Event"],
    classes: Sequence[str],
    *,
    collars: EventCollars = EVENT_COLLARS,
) -> dict[str, tuple[int, int, int]]:
    """``class → (TP, N_ref, N_sys)`` over all clips (events of other classes are ignored)."""
    reference, estimated = list(reference), list(estimated)
    clip_index: dict[str, int] = {}
    for event in reference + estimated:
        clip_index.setdefault(event.filename, len(clip_index))
    out = {}
    for label in classes:
        arrays = []
        for events in (reference, estimated):
            rows = sorted(
                (clip_index[e.filename], e.onset, e.offset) for e in events if e.event_label == label
            )
            clip = np.asarray([r[0] for r in rows], dtype=np.int64)
            onset = np.asarray([r[1] for r in rows], dtype=np.float64)
            offset = np.asarray([r[2] for r in rows], dtype=np.float64)
            arrays.append((clip, onset, offset))
        tp = count_matches(*arrays[0], *arrays[1], len(clip_index), collars=collars)
        out[label] = (int(tp.sum()), len(arrays[0][0]), len(arrays[1][0]))
    return out


def event_f1_per_class(
    reference: Iterable["Event"],
    estimated: Iterable["Event"],
    classes: Sequence[str],
    *,
    collars: EventCollars = EVENT_COLLARS,
) -> dict[str, float]:
    """Collar-based event F1 of every class (equals sed_eval's class-wise F-measure)."""
    counts = event_counts_per_class(reference, estimated, classes, collars=collars)
    f1 = {}
    for label in classes:
        tp, n_ref, n_sys = counts[label]
        f1[label] = f1_from_counts(tp, n_sys - tp, n_ref - tp)[0]
    return f1
