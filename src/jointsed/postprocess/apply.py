"""Turn clip and frame probabilities into sound events (Lin et al.'s pipeline, per-class values).

For each clip and class c (parameters from :class:`~jointsed.postprocess.params.PostProcessingParams`):

1. tag gating: if the clip probability of c is below τ_c, class c has no event in the clip
   (Lin et al. zero the frame probabilities; for θ_c > 0 the result is the same);
2. median filter of the frame probabilities over w_c frames (``scipy.ndimage.median_filter``,
   mode ``reflect``, as in Lin's code);
3. frame threshold: active where the filtered probability is ≥ θ_c;
4. median filter of the binary activity over w_c frames again;
5. gap filling: two events separated by fewer than ``max_gap`` seconds of inactivity are joined
   (gaps at the clip borders are not filled);
6. minimum duration: events shorter than ``min_duration`` seconds are dropped;
7. every run of active frames ``[start, end)`` becomes an event from ``start × hop`` to
   ``end × hop`` seconds.

"Shorter than" compares frame counts with ``seconds / hop`` minus a 1e-6 frame tolerance, so an
event of exactly ``min_duration`` seconds is kept. Lin, Wang, Liu, Yu, "Guided Learning
Convolution System for DCASE 2019 Task 4" (DCASE 2019); Liang et al., arXiv 2103.12388
(event-specific post-processing; our formulation, DESIGN §4).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from jointsed.data.annotations import Event
from jointsed.data.label_encoder import LabelEncoder
from jointsed.postprocess.base import PostProcessingError, check_score_dicts
from jointsed.postprocess.params import PostProcessingParams

# tolerance (in frames) of the "shorter than" comparisons of min_duration / max_gap
_FRAME_EPS = 1e-6


# -------------------------------------------------------------------------------- primitives
def median_filter_rows(scores: np.ndarray, window: int) -> np.ndarray:
    """Median filter of each row of ``scores`` over ``window`` frames.

    Args:
        scores: (R, T) float array, time on the last axis.
        window: filter length in frames (≥ 1; even lengths as in ``scipy.ndimage``).

    Returns:
        (R, T) filtered array (a copy; ``window == 1`` returns an unfiltered copy).
    """
    from scipy import ndimage  # imported here: ``jointsed predict`` starts ~0.2 s faster

    scores = np.asarray(scores)
    if window <= 1:
        return scores.copy()
    n_frames = scores.shape[-1]
    left = window // 2
    # Pad explicitly (numpy "symmetric" = scipy.ndimage "reflect") rather than letting scipy pad:
    # scipy 1.17's median_filter returns garbage when the window exceeds about twice the signal
    # length (short clips with long windows); on the padded row every window lies inside it.
    padded = np.pad(scores, ((0, 0), (left, window - 1 - left)), mode="symmetric")
    out = np.empty_like(scores)
    # one 1-D call per row: scipy's 1-D median path is ~10x faster than a (1, w) 2-D footprint
    for r in range(scores.shape[0]):
        out[r] = ndimage.median_filter(padded[r], size=window, mode="reflect")[left : left + n_frames]
    return out


def binary_median_filter_rows(active: np.ndarray, window: int) -> np.ndarray:
    """Median filter of binary rows by counting (equals ``scipy.ndimage.median_filter``, mode reflect).

    A frame is on when at least ``ceil(window / 2)`` frames of its window are on; the window
    covers frames ``t - window//2 … t + window - window//2 - 1``.

    Args:
        active: (R, T) bool array.
        window: filter length in frames (≥ 1).

    Returns:
        (R, T) bool array.
    """
    active = np.asarray(active, dtype=bool)
    if window <= 1 or active.shape[-1] == 0:
        return active.copy()
    left = window // 2
    right = window - 1 - left
    # numpy's "symmetric" padding is scipy.ndimage's "reflect" (d c b a | a b c d | d c b a)
    padded = np.pad(active, ((0, 0), (left, right)), mode="symmetric")
    counts = np.zeros((active.shape[0], padded.shape[1] + 1), dtype=np.int32)
    np.cumsum(padded, axis=1, out=counts[:, 1:])
    window_sums = counts[:, window:] - counts[:, :-window]
    return window_sums >= (window + 1) // 2


def frames_shorter_than(seconds: float, frame_hop: float) -> float:
    """Frame-count bound: a run of n frames is "shorter than ``seconds``" when n < this value."""
    return seconds / frame_hop - _FRAME_EPS


def active_runs(active: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of active frames of every row.

    Args:
        active: (R, T) bool array.

    Returns:
        ``(row, start, end)`` int arrays, one entry per run (frames ``start … end - 1`` active),
        sorted by row then start.
    """
    active = np.asarray(active, dtype=bool)
    rows = active.shape[0]
    padded = np.zeros((rows, active.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = active
    change = np.diff(padded, axis=1)
    row, start = np.nonzero(change == 1)
    _, end = np.nonzero(change == -1)
    return row, start, end


def fill_gaps(
    row: np.ndarray, start: np.ndarray, end: np.ndarray, max_gap_frames: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Join consecutive runs of the same row whose gap is shorter than ``max_gap_frames``.

    Runs must be sorted by row then start (as from :func:`active_runs`).
    """
    if len(start) < 2 or max_gap_frames <= 0:
        return row, start, end
    join = (row[1:] == row[:-1]) & ((start[1:] - end[:-1]) < max_gap_frames)
    if not join.any():
        return row, start, end
    first = np.flatnonzero(np.concatenate(([True], ~join)))
    last = np.concatenate((first[1:] - 1, [len(start) - 1]))
    return row[first], start[first], end[last]


def drop_short(
    row: np.ndarray, start: np.ndarray, end: np.ndarray, min_frames: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drop runs shorter than ``min_frames`` frames."""
    if min_frames <= 0 or len(start) == 0:
        return row, start, end
    keep = (end - start) >= min_frames
    return row[keep], start[keep], end[keep]


def check_clip(clip_probs: np.ndarray, frame_probs: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """One clip's ``(C,)`` clip and ``(T, C)`` frame probabilities as float64, shapes and values checked."""
    clip_probs = np.asarray(clip_probs, dtype=np.float64)
    frame_probs = np.asarray(frame_probs, dtype=np.float64)
    if clip_probs.shape != (n_classes,):
        raise PostProcessingError(
            f"clip probabilities must have shape ({n_classes},) (one per class), got {clip_probs.shape}"
        )
    if frame_probs.ndim != 2 or frame_probs.shape[1] != n_classes:
        raise PostProcessingError(
            f"frame probabilities must have shape (frames, {n_classes}), got {frame_probs.shape}"
        )
    if not (np.isfinite(clip_probs).all() and np.isfinite(frame_probs).all()):
        raise PostProcessingError("probabilities contain NaN or infinite values")
    return clip_probs, frame_probs


# -------------------------------------------------------------------------------- one clip
def postprocess_frame_scores(
    clip_probs: np.ndarray, frame_probs: np.ndarray, params: PostProcessingParams
) -> np.ndarray:
    """Score-level part of the pipeline (gating + first median filter), for threshold-free metrics.

    Args:
        clip_probs: (C,) clip probabilities.
        frame_probs: (T, C) frame probabilities.
        params: per-class parameters (θ, min_duration and max_gap are not used).

    Returns:
        (T, C) float64 scores: median-filtered frame probabilities, zero for gated classes.
    """
    clip_probs, frame_probs = check_clip(clip_probs, frame_probs, len(params.classes))
    out = np.zeros_like(frame_probs)
    for c in range(len(params.classes)):
        if clip_probs[c] >= params.tag_threshold[c]:
            out[:, c] = median_filter_rows(frame_probs[None, :, c], params.median_window[c])[0]
    return out


def binarize(
    clip_probs: np.ndarray,
    frame_probs: np.ndarray,
    params: PostProcessingParams,
    frame_hop: float = 0.02,
) -> np.ndarray:
    """Frame activity of one clip after the whole pipeline (steps 1-6 of the module docstring).

    Args:
        clip_probs: (C,) clip probabilities.
        frame_probs: (T, C) frame probabilities.
        params: per-class parameters, C = ``len(params.classes)``.
        frame_hop: frame hop in seconds (converts ``min_duration`` / ``max_gap`` to frames).

    Returns:
        (T, C) bool activity.
    """
    clip_probs, frame_probs = check_clip(clip_probs, frame_probs, len(params.classes))
    n_frames, n_classes = frame_probs.shape
    active = np.zeros((n_frames, n_classes), dtype=bool)
    kept = [c for c in range(n_classes) if clip_probs[c] >= params.tag_threshold[c]]
    # group classes that share a window so the binary filter runs once per window
    by_window: dict[int, list[int]] = {}
    for c in kept:
        by_window.setdefault(params.median_window[c], []).append(c)
    for window, cols in by_window.items():
        smooth = median_filter_rows(frame_probs[:, cols].T, window)  # (len(cols), T)
        thresholds = np.asarray([params.frame_threshold[c] for c in cols])[:, None]
        active[:, cols] = binary_median_filter_rows(smooth >= thresholds, window).T
    for c in kept:
        max_gap = frames_shorter_than(params.max_gap[c], frame_hop)
        min_len = frames_shorter_than(params.min_duration[c], frame_hop)
        if max_gap <= 0 and min_len <= 0:
            continue
        row, start, end = active_runs(active[None, :, c])
        row, start, end = fill_gaps(row, start, end, max_gap)
        row, start, end = drop_short(row, start, end, min_len)
        active[:, c] = False
        for s, e in zip(start, end):
            active[s:e, c] = True
    return active


def frame_times(frames: np.ndarray | int, frame_hop: float) -> np.ndarray:
    """Time in seconds of frame boundaries (``frame × hop``), the convention of every event time."""
    return np.asarray(frames, dtype=np.float64) * frame_hop


def frames_to_events(
    active: np.ndarray, filename: str, frame_hop: float, classes: Sequence[str]
) -> list[Event]:
    """Events of one clip from its (T, C) bool activity, via ``LabelEncoder.decode_strong``.

    A run of active frames ``[s, e)`` becomes an event from ``s × hop`` to ``e × hop`` seconds
    (the convention :func:`frame_times` and the tuning also use); events are sorted by onset,
    then class order.
    """
    active = np.asarray(active, dtype=bool)
    if active.ndim != 2 or active.shape[1] != len(classes):
        raise PostProcessingError(
            f"{filename}: activity must have shape (frames, {len(classes)}), got {active.shape}"
        )
    encoder = LabelEncoder(classes, frame_hop=frame_hop, n_frames=max(active.shape[0], 1))
    return encoder.decode_strong(active, filename)


# -------------------------------------------------------------------------------- many clips
def postprocess_scores(
    clip_probs: Mapping[str, np.ndarray],
    frame_probs: Mapping[str, np.ndarray],
    params: PostProcessingParams,
    frame_hop: float = 0.02,
) -> list[Event]:
    """Events of many clips.

    Args:
        clip_probs: filename → (C,) clip probabilities.
        frame_probs: filename → (T, C) frame probabilities (T may differ between clips).
        params: per-class parameters.
        frame_hop: frame hop in seconds.

    Returns:
        All events, clip by clip in ``frame_probs`` order (then onset, then class order): what
        :func:`jointsed.postprocess.base.detect_events` gives for ``params``.
    """
    events: list[Event] = []
    for filename in check_score_dicts(clip_probs, frame_probs):
        try:
            active = binarize(clip_probs[filename], frame_probs[filename], params, frame_hop)
        except PostProcessingError as exc:
            raise PostProcessingError(f"{filename}: {exc}") from None
        events.extend(frames_to_events(active, filename, frame_hop, params.classes))
    return events
