"""Clip-level audio tagging (AT) F-scores: a class is tagged in a clip when any event of it is
detected there, or when its clip score reaches the tag threshold. Plain counting per class
(F1 = 2 TP / (2 TP + FP + FN)); the macro average runs over the classes present in the
reference or the predictions.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from jointsed.evaluate.event_based import Detections
from jointsed.evaluate.results import f1_from_counts

Tags = Mapping[str, set[str]]


def tags_from_detections(detections: Detections) -> dict[str, set[str]]:
    """``{audio id: classes with at least one detected event}``."""
    return {key: {label for _, _, label in evs} for key, evs in detections.items()}


def tags_from_scores(
    scores: Mapping[str, pd.DataFrame], threshold: float = 0.5
) -> dict[str, set[str]]:
    """``{audio id: classes whose maximum frame score is >= threshold}``."""
    tags = {}
    for key, frame in scores.items():
        classes = list(frame.columns[2:])
        clip = frame[classes].to_numpy().max(axis=0)
        tags[key] = {c for c, s in zip(classes, clip) if s >= threshold}
    return tags


def tags_from_clip_probabilities(
    probabilities: Mapping[str, np.ndarray], classes: list[str], threshold: float = 0.5
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
