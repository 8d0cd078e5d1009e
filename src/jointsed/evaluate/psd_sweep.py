"""The intersection-based counts of ``sed_scores_eval`` at every threshold of every clip, for one
class, in one pass over the frames from the highest score down, all clips at once.

``sed_scores_eval`` evaluates each clip at each of its distinct scores separately
(``onset_offset_curves`` builds a (scores x detections) table, ``statistics_fn`` intersects it
with the ground truth): O(frames x detections x events) numpy work and two Python calls per clip
and class. Lowering the threshold through a clip's scores adds one frame at a time, and adding a
frame only creates a detection, extends one or merges two. So this module keeps, per clip, the
detections of the current threshold (as runs of frames), and per scenario:

* the number of detections and of *relevant* ones (DTC: intersection with the class's events
  >= ``dtc_threshold`` x length);
* per event of the class, its intersection with the relevant detections (GTC: >=
  ``gtc_threshold`` x the event's length makes it a true positive);
* per other class (cross-triggers, when ``cttc_threshold`` is set), the detections that are not
  relevant and overlap that class's events by >= ``cttc_threshold`` x their length;

and updates them with the contributions of the (at most three) detections that a new frame
touches. After the last frame of each distinct score it emits the change of the counts, as
``statistics._deltas_from_intermediate_statistics`` does: the same change points and deltas.
Each step works on the clips that still have frames (a prefix: clips are sorted by their number
of frames above the cut) and on their (clip, event) pairs, kept flat (no padding to the clip with
the most events).

The library's decisions are comparisons of intersections and lengths rounded to 1e-6 s
(``time_decimals=6``). Here the intersections are sums of integers of microseconds, which is the
same decision whenever every time is a whole number of microseconds (checked by
:func:`.score_statistics.check_exact_inputs`); the lengths' side is computed with the library's
own float expression ``round(threshold * length, 6)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Criteria:
    dtc: float
    gtc: float
    cttc: float | None


def rounded_us(fraction: float, lengths: np.ndarray) -> np.ndarray:
    """``np.round(fraction * lengths, 6)`` in whole microseconds (the library's float expression;
    numpy rounds by ``rint(x * 1e6) / 1e6``, so comparing the integers is comparing the floats)."""
    return np.rint(fraction * lengths * 1e6).astype(np.int64)


def _sum_by(index: np.ndarray, weights: np.ndarray, size: int) -> np.ndarray:
    """Sums of integer ``weights`` per ``index``, as float64 (exact below 2**53: the counts and
    microsecond sums here are far below)."""
    return np.bincount(index, weights=weights, minlength=size)


def sweep_deltas(
    rows: Sequence[np.ndarray],
    stamps: Sequence[np.ndarray],
    events: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    target: int,
    n_classes: int,
    criteria: Sequence[Criteria],
    s_cut: float,
    emit: Sequence[np.ndarray | None],
) -> list[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """Change points and deltas of every clip above ``s_cut``, per criteria.

    Args:
        rows: per clip the class's frame scores (T_n,).
        stamps: per clip the frame boundaries (T_n + 1,).
        events: per clip ``(onsets, offsets, class indices)`` of all its ground-truth events.
        target: the class index the scores belong to.
        n_classes: number of classes (indices of ``events``).
        criteria: the scenarios to count.
        s_cut: only thresholds above it.
        emit: per criteria, which clips' change points to return (None: all; a bool per clip).

    Returns:
        per criteria ``(change-point scores, {"tps", "fps", "cts": (K, n_classes)})``, the change
        points of all clips concatenated (``cts`` per class index; zero without cross-triggers).
    """
    keep = [np.flatnonzero(r > s_cut) for r in rows]
    counts = np.array([len(k) for k in keep], dtype=np.int64)
    order = np.argsort(-counts, kind="stable")
    order = order[counts[order] > 0]
    n_clips = len(order)
    if n_clips == 0:
        empty = np.empty(0)
        return [(empty, {"tps": empty, "fps": empty, "cts": np.empty((0, n_classes))}) for _ in criteria]
    counts = counts[order]
    k_max = int(counts[0])
    emitted = [np.ones(n_clips, dtype=bool) if e is None else np.asarray(e, dtype=bool)[order] for e in emit]

    # frames: per clip the frames above the cut, highest score first (ties in any order: a
    # snapshot is taken only after the last frame of a score), flat: clip i's k-th frame at
    # row_at[i] + k (no padding to the clip with the most frames: one long recording among short
    # clips would make a (clips x its frames) table)
    row_at = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    frames = np.zeros(int(counts.sum()), dtype=np.int64)
    values = np.empty(int(counts.sum()))
    # flat per-clip slots: clip i owns [base[i], base[i] + T_i + 2): frame f at base + f + 1
    # (slots base and base + T_i + 1 stay inactive), its start time at ts[base + f]
    lengths = np.array([len(rows[n]) for n in order], dtype=np.int64)
    base = np.concatenate([[0], np.cumsum(lengths + 2)[:-1]]).astype(np.int64)
    ts = np.zeros(int(base[-1] + lengths[-1] + 2))
    pair_start = np.zeros(n_clips + 1, dtype=np.int64)
    on_list, off_list, cls_list = [], [], []
    for i, n in enumerate(order):
        x = rows[n]
        idx = keep[n][np.argsort(-x[keep[n]], kind="stable")]
        frames[row_at[i]:row_at[i] + len(idx)] = idx
        values[row_at[i]:row_at[i] + len(idx)] = x[idx]
        ts[base[i]:base[i] + len(stamps[n])] = stamps[n]
        on, off, cls = events[n]
        on_list.append(on)
        off_list.append(off)
        cls_list.append(cls)
        pair_start[i + 1] = pair_start[i] + len(on)
    ts_us = np.rint(ts * 1e6).astype(np.int64)
    g_on_f = np.concatenate(on_list) if on_list else np.empty(0)
    g_off_f = np.concatenate(off_list) if off_list else np.empty(0)
    g_on, g_off = np.rint(g_on_f * 1e6).astype(np.int64), np.rint(g_off_f * 1e6).astype(np.int64)
    g_cls = np.concatenate(cls_list).astype(np.int64) if cls_list else np.empty(0, dtype=np.int64)
    pair_clip = np.repeat(np.arange(n_clips), np.diff(pair_start))
    is_target = g_cls == target
    pair_class = pair_clip * n_classes + g_cls
    has_class = np.zeros((n_clips, n_classes), dtype=bool)
    has_class[pair_clip, g_cls] = True
    has_class[:, target] = False  # cross-triggers are counted for the other classes
    last = np.ones(len(values), dtype=bool)
    last[:-1] = values[:-1] != values[1:]
    last[row_at + counts - 1] = True  # a clip's last frame above the cut

    # runs of active slots: start[right end] and end[left end] hold the run's other end
    active = np.zeros(len(ts), dtype=bool)
    start = np.zeros(len(ts), dtype=np.int64)
    end = np.zeros(len(ts), dtype=np.int64)
    # counts kept as float64 (integers, exact) so that bincount's sums need no conversion
    n_runs = np.zeros(n_clips)
    state = [{
        "relevant": np.zeros(n_clips),
        "covered": np.zeros(len(g_cls)),  # per event: its intersection with the relevant runs (µs)
        "cross": np.zeros((n_clips, n_classes)),
        "gtc_us": rounded_us(c.gtc, g_off_f - g_on_f),  # the library's gt_lengths
        "prev": np.zeros((n_clips, 2 + n_classes)),
        "out_scores": [], "out": [],
    } for c in criteria]
    active_clips = np.searchsorted(-counts, -np.arange(k_max), side="left")  # clips with more than k frames

    def contributions(a: int, n_pairs: int, lo: np.ndarray, hi: np.ndarray):
        """Per criteria (relevant (a,), per-pair covered (n_pairs,), cross (a, C) or None) of the
        runs from slot lo to hi (inclusive) of the first ``a`` clips."""
        on_us, off_us = ts_us[lo - 1], ts_us[hi]
        length = ts[hi] - ts[lo - 1]  # the library's detection_lengths
        pc = pair_clip[:n_pairs]
        inter = np.maximum(np.minimum(off_us[pc], g_off[:n_pairs]) - np.maximum(on_us[pc], g_on[:n_pairs]), 0)
        target_inter = inter * is_target[:n_pairs]
        total = _sum_by(pc, target_inter, a)
        out = []
        for c in criteria:
            relevant = total >= rounded_us(c.dtc, length)
            covered = target_inter * relevant[pc]
            cross = None
            if c.cttc is not None:
                other = _sum_by(pair_class[:n_pairs], inter * ~relevant[pc], a * n_classes).reshape(a, n_classes)
                cross = has_class[:a] & (other >= rounded_us(c.cttc, length)[:, None])
            out.append((relevant, covered, cross))
        return out

    for k in range(k_max):
        a = int(active_clips[k])  # they come first
        n_pairs = int(pair_start[a])
        pc = pair_clip[:n_pairs]
        at = row_at[:a] + k
        slot = base[:a] + frames[at] + 1
        left_on, right_on = active[slot - 1], active[slot + 1]
        lo = np.where(left_on, start[slot - 1], slot)
        hi = np.where(right_on, end[slot + 1], slot)
        parts = [(contributions(a, n_pairs, lo, hi), None)]
        if left_on.any():  # the run that ended just before the new frame
            parts.append((contributions(a, n_pairs, lo, slot - 1), left_on))
        if right_on.any():  # the run that started just after it
            parts.append((contributions(a, n_pairs, slot + 1, hi), right_on))
        active[slot] = True
        start[hi] = lo
        end[lo] = hi
        n_runs[:a] += 1.0 - left_on - right_on
        snap = np.flatnonzero(last[at])
        for j, c in enumerate(criteria):
            st = state[j]
            for part, mask in parts:
                relevant, covered, cross = part[j]
                if mask is None:
                    st["relevant"][:a] += relevant
                    st["covered"][:n_pairs] += covered
                    if cross is not None:
                        st["cross"][:a] += cross
                else:
                    st["relevant"][:a] -= relevant & mask
                    st["covered"][:n_pairs] -= covered * mask[pc]
                    if cross is not None:
                        st["cross"][:a] -= cross & mask[:, None]
            if snap.size == 0:
                continue
            hits = (st["covered"][:n_pairs] >= st["gtc_us"][:n_pairs]) & is_target[:n_pairs]
            tps = _sum_by(pc, hits, a)[snap]
            fps = n_runs[snap] - st["relevant"][snap]
            now = np.concatenate([tps[:, None], fps[:, None], st["cross"][snap]], axis=1)
            delta = now - st["prev"][snap]
            st["prev"][snap] = now
            changed = np.flatnonzero((np.abs(delta).sum(axis=1) > 0) & emitted[j][snap])
            if changed.size:
                st["out_scores"].append(values[at[snap[changed]]])
                st["out"].append(delta[changed])
    results = []
    for st in state:
        scores = np.concatenate(st["out_scores"]) if st["out_scores"] else np.empty(0)
        deltas = (np.concatenate(st["out"]) if st["out"] else np.empty((0, 2 + n_classes))).astype(np.int64)
        results.append((scores, {"tps": deltas[:, 0], "fps": deltas[:, 1], "cts": deltas[:, 2:]}))
    return results


__all__ = ["Criteria", "rounded_us", "sweep_deltas"]
