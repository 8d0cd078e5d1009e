"""Change-detection sound event bounding boxes: one class's score curve -> boxes (our implementation).

Ebbers, Germain, Wichern, Le Roux, "Sound event bounding boxes", Interspeech 2024 (arXiv
2406.04212) decouple an event's extent from its confidence: a detection is a box (onset, offset,
class, confidence), its extent found where the score *changes*, its confidence one number per
box, so that raising the decision threshold drops whole boxes instead of shrinking them. They
convert frame-level scores into boxes by change detection (their "cSEBBs"). This module is OUR
implementation of that idea from the paper's description (not the authors' ``sebbs`` package,
whose AGPL code we neither import nor copy); the rules below are our formulation.

For one class's score curve y (T frames, already gated and median-filtered):

1. **step filter** of length L (frames; ``h_l = L // 2`` before and ``h_r = L - h_l`` after):
   at every frame boundary b = 1 … T-1, ``d_b = mean(y[b : b + h_r]) - mean(y[b - h_l : b])``
   (windows cut at the clip's ends): the score difference between neighbouring windows;
2. **change points**: a boundary is a *rise* where ``d_b`` is a local maximum with
   ``d_b >= δ`` and a *fall* where it is a local minimum with ``d_b <= -δ`` (δ: the change
   threshold). A flat extremum (equal values, up to 1e-9) counts once, at its middle, so a ramp
   rises at its centre;
3. **boxes**: consecutive changes of one direction are one change of the event (a staircase);
   a box spans from the first rise of a run of rises to the last fall of the following run of
   falls. A clip that starts with a fall has a box from 0; one that ends with a rise, a box to
   the end; a clip without any change point is one box over the whole clip;
4. **merge gap**: boxes separated by fewer than ``merge_gap`` seconds of background are joined;
5. **confidence**: the ``max`` (or ``mean``) of y over the box; boxes of confidence 0 (a gated
   class) are dropped.

Box times are frame boundaries (``frame × hop``), the convention of every event time in jointsed.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from jointsed.postprocess.apply import frames_shorter_than

Confidence = Literal["max", "mean"]
CONFIDENCES: tuple[str, ...] = ("max", "mean")
# flat extrema of the step filter are found on values rounded to this many decimals (float noise
# of the running means must not split a plateau into many tiny extrema)
_PLATEAU_DECIMALS = 9


def step_filter(scores: np.ndarray, length: int) -> np.ndarray:
    """Step-filter output at the interior frame boundaries of every row.

    Args:
        scores: (R, T) float array, time on the last axis.
        length: filter length L ≥ 2 frames (``L // 2`` frames before the boundary, the rest after).

    Returns:
        (R, T - 1) float64: column i is boundary b = i + 1 (between frames i and i + 1),
        ``mean(after) - mean(before)``; windows are cut at the clip's ends.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if length < 2:
        raise ValueError(f"step filter length must be >= 2 frames, got {length}")
    n_frames = scores.shape[-1]
    if n_frames < 2:
        return np.zeros((scores.shape[0], 0))
    before, after = length // 2, length - length // 2
    cumulative = np.zeros((scores.shape[0], n_frames + 1))
    np.cumsum(scores, axis=1, out=cumulative[:, 1:])
    b = np.arange(1, n_frames)
    lo, hi = np.maximum(b - before, 0), np.minimum(b + after, n_frames)
    left = (cumulative[:, b] - cumulative[:, lo]) / (b - lo)
    right = (cumulative[:, hi] - cumulative[:, b]) / (hi - b)
    return right - left


def _extremum_centres(values: np.ndarray, maximum: bool) -> np.ndarray:
    """Indices of the strict local maxima (or minima) of a 1-D array, a flat one at its middle."""
    if values.size == 0:
        return np.zeros(0, dtype=np.int64)
    v = np.round(values if maximum else -values, _PLATEAU_DECIMALS)
    change = np.empty(v.size, dtype=bool)
    change[0] = True
    np.not_equal(v[1:], v[:-1], out=change[1:])
    starts = np.flatnonzero(change)
    ends = np.append(starts[1:], v.size)
    level = v[starts]
    before = np.concatenate(([-np.inf], level[:-1]))
    after = np.append(level[1:], -np.inf)
    peak = (level > before) & (level > after)
    return (starts + (ends - starts - 1) // 2)[peak]


def change_points(step: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Rises and falls of one row of :func:`step_filter` output.

    Args:
        step: (T - 1,) step-filter output (index i = boundary i + 1).
        threshold: δ > 0, the smallest score difference that is a change.

    Returns:
        ``(rises, falls)``: sorted frame-boundary indices in 1 … T-1.
    """
    step = np.asarray(step, dtype=np.float64)
    maxima = _extremum_centres(step, maximum=True)
    minima = _extremum_centres(step, maximum=False)
    # compare on the rounded values too, so that a step of exactly δ counts whatever the float noise
    rounded = np.round(step, _PLATEAU_DECIMALS)
    rises = maxima[rounded[maxima] >= round(threshold, _PLATEAU_DECIMALS)] + 1
    falls = minima[rounded[minima] <= -round(threshold, _PLATEAU_DECIMALS)] + 1
    return rises, falls


def boxes_from_changes(rises: np.ndarray, falls: np.ndarray, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Box extents ``[start, end)`` (frames) from the change points (rule 3 of the module docstring)."""
    if len(rises) == 0 and len(falls) == 0:
        return np.array([0]), np.array([n_frames])
    points = np.concatenate([rises, falls])
    kinds = np.concatenate([np.ones(len(rises), dtype=np.int8), -np.ones(len(falls), dtype=np.int8)])
    order = np.argsort(points, kind="stable")
    points, kinds = points[order], kinds[order]
    differs = kinds[1:] != kinds[:-1]
    first_of_run = np.concatenate(([True], differs))
    last_of_run = np.append(differs, True)
    run_starts = points[first_of_run & (kinds == 1)]  # first rise of each run of rises
    run_ends = points[last_of_run & (kinds == -1)]  # last fall of each run of falls
    if kinds[0] == -1:  # the clip starts inside a box
        run_starts = np.concatenate(([0], run_starts))
    if kinds[-1] == 1:  # the clip ends inside a box
        run_ends = np.append(run_ends, n_frames)
    return run_starts.astype(np.int64), run_ends.astype(np.int64)


def merge_close(starts: np.ndarray, ends: np.ndarray, max_gap_frames: float) -> tuple[np.ndarray, np.ndarray]:
    """Join consecutive boxes whose gap is shorter than ``max_gap_frames`` (boxes sorted, disjoint)."""
    if len(starts) < 2 or max_gap_frames <= 0:
        return starts, ends
    join = (starts[1:] - ends[:-1]) < max_gap_frames
    if not join.any():
        return starts, ends
    first = np.flatnonzero(np.concatenate(([True], ~join)))
    last = np.append(first[1:] - 1, len(starts) - 1)
    return starts[first], ends[last]


def box_confidences(curve: np.ndarray, starts: np.ndarray, ends: np.ndarray, confidence: str) -> np.ndarray:
    """The ``max`` or ``mean`` of ``curve`` over each box ``[start, end)``."""
    if confidence == "max":
        return np.array([curve[s:e].max() for s, e in zip(starts.tolist(), ends.tolist())], dtype=np.float64)
    if confidence == "mean":
        cumulative = np.concatenate(([0.0], np.cumsum(curve, dtype=np.float64)))
        return (cumulative[ends] - cumulative[starts]) / (ends - starts)
    raise ValueError(f"confidence must be one of {', '.join(CONFIDENCES)}, got {confidence!r}")


def curve_boxes(
    curve: np.ndarray,
    step_length: int,
    change_threshold: float,
    merge_gap: float,
    confidence: str,
    frame_hop: float,
    step: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The boxes of one score curve (rules 1-5 of the module docstring).

    Args:
        curve: (T,) scores of one class in one clip (gated, median-filtered).
        step_length: step-filter length L (frames, ≥ 2).
        change_threshold: δ, the smallest step-filter magnitude that is a change point.
        merge_gap: join boxes separated by less than this many seconds (0: off).
        confidence: ``"max"`` or ``"mean"`` of the curve over the box.
        frame_hop: seconds per frame (converts ``merge_gap``).
        step: the curve's :func:`step_filter` output when already computed.

    Returns:
        ``(start, end, confidence)``: (K,) int64 frames ``[start, end)`` and (K,) float64, sorted,
        disjoint, confidence > 0.
    """
    curve = np.asarray(curve, dtype=np.float64)
    n_frames = curve.shape[0]
    if n_frames == 0 or not curve.any():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    if step is None:
        step = step_filter(curve[None], step_length)[0]
    starts, ends = boxes_from_changes(*change_points(step, change_threshold), n_frames)
    starts, ends = merge_close(starts, ends, frames_shorter_than(merge_gap, frame_hop))
    conf = box_confidences(curve, starts, ends, confidence)
    keep = conf > 0
    return starts[keep], ends[keep], conf[keep]
