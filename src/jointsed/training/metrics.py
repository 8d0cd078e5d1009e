"""Validation metrics computed at every epoch end.

- clip (audio tagging) macro F1 at a 0.5 threshold on the clip probabilities;
- event-based macro F1 (collar 0.2 s on onsets, offsets within max(0.2 s, 20 % of the length)),
  after post-processing (Lin's by default), with :mod:`jointsed.postprocess.fast_f1`, which counts
  exactly like sed_eval's ``EventBasedMetrics`` but takes milliseconds instead of seconds on the
  DESED validation set (1,168 clips), so it can run every epoch.

The macro averages are over the classes that occur in the reference (a class absent from the
validation set has no defined F1).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from jointsed.data.annotations import Event
from jointsed.evaluate.counts import f1_from_counts
from jointsed.postprocess.base import PostProcessor, detect_events
from jointsed.postprocess.fast_f1 import event_counts_per_class


def macro(values: np.ndarray, present: np.ndarray) -> float:
    """Mean of ``values`` over the classes where ``present`` is true (0 if none)."""
    v = np.asarray(values, dtype=np.float64)[np.asarray(present, dtype=bool)]
    v = np.nan_to_num(v, nan=0.0)
    return float(v.mean()) if v.size else 0.0


def crop_to_durations(frame_scores: np.ndarray, durations: Sequence[float], frame_hop: float) -> list[np.ndarray]:
    """Per-clip frame scores cropped to the clip's real length (the rest is zero padding)."""
    out = []
    for scores, duration in zip(frame_scores, durations):
        n = max(1, min(scores.shape[0], int(round(duration / frame_hop))))
        out.append(scores[:n])
    return out


def event_f1_per_class(
    reference: Sequence[Event],
    clip_scores: np.ndarray,
    frame_scores: Sequence[np.ndarray],
    filenames: Sequence[str],
    params: PostProcessor,
    frame_hop: float,
) -> tuple[np.ndarray, np.ndarray, list[Event]]:
    """Post-process (any method of :mod:`jointsed.postprocess.base`; Lin's by default) and score.

    Returns:
        ``(f1 (C,), present (C,) bool, estimated events)``.
    """
    clip = {name: clip_scores[i] for i, name in enumerate(filenames)}
    frame = {name: frame_scores[i] for i, name in enumerate(filenames)}
    estimated = detect_events(params, clip, frame, frame_hop)
    counts = event_counts_per_class(reference, estimated, params.classes)
    # counts are (TP, N_ref, N_sys): FP = N_sys - TP, FN = N_ref - TP
    f1 = np.array([f1_from_counts(tp, n_sys - tp, n_ref - tp)[0]
                   for tp, n_ref, n_sys in (counts[c] for c in params.classes)])
    present = np.array([counts[c][1] > 0 for c in params.classes])
    return f1, present, estimated


# ----- threshold-free scores (checkpoint selection, adaptive focal loss) -----------------------------
def average_precision(scores: np.ndarray, targets: np.ndarray) -> float:
    """Average precision of one class: ``sum_n (R_n - R_{n-1}) P_n`` over the distinct score
    thresholds, highest first (tied scores form one operating point, as in scikit-learn's
    ``average_precision_score``).

    Args:
        scores: ``(N,)`` scores (higher = more likely positive).
        targets: ``(N,)`` 0/1 labels.
    Returns:
        AP in [0, 1]; NaN when there is no positive (undefined).
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    positive = np.asarray(targets).reshape(-1) > 0.5
    n_pos = int(positive.sum())
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], positive[order]
    tp = np.cumsum(y)
    # the last index of every run of equal scores is an operating point
    last = np.r_[np.flatnonzero(np.diff(s) != 0), s.size - 1]
    tp_at, n_at = tp[last].astype(np.float64), (last + 1).astype(np.float64)
    recall_gain = np.diff(np.r_[0.0, tp_at]) / n_pos
    return float(np.sum(recall_gain * tp_at / n_at))


def average_precision_per_class(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """``(C,)`` :func:`average_precision` of each column of ``(N, C)`` scores / targets."""
    scores, targets = np.asarray(scores), np.asarray(targets)
    return np.array([average_precision(scores[:, c], targets[:, c]) for c in range(scores.shape[1])])


def frame_average_precision_per_class(frame_scores: Sequence[np.ndarray], frame_targets: Sequence[np.ndarray]) -> np.ndarray:
    """Per-class AP over every frame of every clip (``(T_i, C)`` scores and 0/1 targets per
    clip, already cropped to the clips' real lengths)."""
    return average_precision_per_class(np.concatenate(list(frame_scores)),
                                       np.concatenate([t[: s.shape[0]] for s, t in zip(frame_scores, frame_targets)]))
