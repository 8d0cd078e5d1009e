"""Clip-level audio tagging (AT) F-scores: a class is tagged in a clip when any event of it is
detected there, or when its clip score reaches the tag threshold. Plain counting per class
(F1 = 2 TP / (2 TP + FP + FN), :func:`jointsed.evaluate.counts.f1_from_counts`); the macro
average of :func:`tagging_fscores` runs over the classes present in the reference or the
predictions, that of :func:`clip_f1` (the validation metric of training) over the classes of
the reference.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from numpy.typing import ArrayLike

from jointsed.evaluate.counts import f1_from_counts
from jointsed.evaluate.event_based import Detections
from jointsed.evaluate.score_files import ScoreInput, as_frame_scores
from jointsed.evaluate.settings import DECISION_THRESHOLD

Tags = Mapping[str, set[str]]


def tags_from_detections(detections: Detections) -> dict[str, set[str]]:
    """``{audio id: classes with at least one detected event}``."""
    return {key: {label for _, _, label in evs} for key, evs in detections.items()}


def tags_from_scores(scores: ScoreInput, threshold: float = DECISION_THRESHOLD) -> dict[str, set[str]]:
    """``{audio id: classes whose maximum frame score is >= threshold}``."""
    frame_scores = as_frame_scores(scores)
    maxima = frame_scores.clip_maxima()
    return {key: {c for c, s in zip(frame_scores.classes, maxima[n]) if s >= threshold}
            for n, key in enumerate(frame_scores.ids)}


def tags_from_clip_probabilities(
    probabilities: Mapping[str, np.ndarray],
    classes: list[str],
    threshold: float = DECISION_THRESHOLD,
) -> dict[str, set[str]]:
    """``{audio id: classes with clip probability >= threshold}`` from ``(C,)`` vectors."""
    return {
        key: {c for c, p in zip(classes, np.asarray(prob)) if p >= threshold}
        for key, prob in probabilities.items()
    }


def tagging_fscores(reference: Tags, predicted: Tags, classes: list[str]) -> dict[str, Any]:
    """Per-class, macro and micro tagging F-scores over the clips of ``reference``.

    Args:
        reference: ``{audio id: true classes}`` (every evaluated clip).
        predicted: ``{audio id: predicted classes}``; clips absent = nothing predicted.
        classes: class order of the report.
    """
    per_class: dict[str, dict[str, float]] = {}
    totals = np.zeros(3, dtype=np.int64)
    for c in classes:
        tp = sum(1 for k, t in reference.items() if c in t and c in predicted.get(k, ()))
        fp = sum(1 for k, t in reference.items() if c not in t and c in predicted.get(k, ()))
        fn = sum(1 for k, t in reference.items() if c in t and c not in predicted.get(k, ()))
        if tp + fp + fn == 0:
            continue  # class absent from both: not part of the average
        f1, precision, recall = f1_from_counts(tp, fp, fn)
        per_class[c] = {
            "f1": f1, "precision": precision, "recall": recall, "n_ref": tp + fn, "n_sys": tp + fp
        }
        totals += (tp, fp, fn)
    micro = f1_from_counts(*totals.tolist())
    values = list(per_class.values())
    mean = (lambda key: float(np.mean([v[key] for v in values]))) if values else (lambda key: 0.0)
    return {
        "macro_f1": mean("f1"),
        "macro_precision": mean("precision"),
        "macro_recall": mean("recall"),
        "micro_f1": micro[0],
        "micro_precision": micro[1],
        "micro_recall": micro[2],
        "per_class": per_class,
    }


def clip_f1(
    scores: ArrayLike, targets: ArrayLike, threshold: float | ArrayLike = DECISION_THRESHOLD
) -> tuple[float, np.ndarray]:
    """Clip-level (AT) macro F1 of a score matrix, as training's validation computes it.

    A class is predicted in a clip when its score is >= ``threshold`` (one value, or one per
    class), and is in the reference when its target is > 0.5. Per class F1 =
    2 TP / (2 TP + FP + FN) (0 without a true positive); NaN for a class with neither reference
    nor prediction. The macro F1 is the mean over the classes with a positive target sum (NaN
    counted as 0), and 0 when no class has one.

    Args:
        scores: ``(N, C)`` clip probabilities (or 0/1 decisions with ``threshold`` in (0, 1]).
        targets: ``(N, C)`` 0/1 clip labels.
        threshold: tag threshold, a scalar or ``(C,)``.

    Returns:
        ``(macro F1, per-class F1 (C,))``.
    """
    scores = np.asarray(scores)
    targets = np.asarray(targets)
    if scores.ndim != 2 or scores.shape != targets.shape:
        raise ValueError(
            f"clip_f1: scores {scores.shape} and targets {targets.shape} must both be (clips, classes)"
        )
    predicted = scores >= np.asarray(threshold)
    reference = targets > 0.5
    tp = (predicted & reference).sum(0)
    fp = (predicted & ~reference).sum(0)
    fn = (~predicted & reference).sum(0)
    f1, _, _ = f1_from_counts(tp, fp, fn)
    per_class = np.where(tp + fp + fn > 0, f1, np.nan)
    present = targets.sum(0) > 0
    values = np.nan_to_num(per_class[present], nan=0.0)
    return (float(values.mean()) if values.size else 0.0), per_class
