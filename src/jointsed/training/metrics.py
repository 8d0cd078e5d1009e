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
from jointsed.postprocess.apply import postprocess_scores
from jointsed.postprocess.fast_f1 import event_counts_per_class, f1_from_counts
from jointsed.postprocess.params import PostProcessingParams


def clip_f1_per_class(scores: np.ndarray, targets: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Per-class F1 of thresholded clip scores.

    Args:
        scores: ``(N, C)`` clip probabilities.
        targets: ``(N, C)`` 0/1 clip labels.
    Returns:
        ``(C,)`` F1 (0 when the class has no true positive), NaN for classes with neither
        reference nor prediction.
    """
    pred = scores >= threshold
    ref = targets > 0.5
    tp = (pred & ref).sum(0).astype(np.float64)
    n_ref = ref.sum(0)
    n_sys = pred.sum(0)
    denom = (n_ref + n_sys).astype(np.float64)
    f1 = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), np.nan)
    return f1


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
    params: PostProcessingParams,
    frame_hop: float,
) -> tuple[np.ndarray, np.ndarray, list[Event]]:
    """Post-process and score.

    Returns:
        ``(f1 (C,), present (C,) bool, estimated events)``.
    """
    clip = {name: clip_scores[i] for i, name in enumerate(filenames)}
    frame = {name: frame_scores[i] for i, name in enumerate(filenames)}
    estimated = postprocess_scores(clip, frame, params, frame_hop)
    counts = event_counts_per_class(reference, estimated, params.classes)
    f1 = np.array([f1_from_counts(*counts[c]) for c in params.classes])
    present = np.array([counts[c][1] > 0 for c in params.classes])
    return f1, present, estimated
