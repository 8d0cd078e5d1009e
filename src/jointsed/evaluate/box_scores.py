"""Scored segments (sound event bounding boxes) as ``sed_scores_eval`` score DataFrames.

A segment-based post-processor (e.g. SEBB, :mod:`jointsed.postprocess.methods.sebb`) describes a
clip by boxes ``(onset, offset, class, confidence)`` rather than by frame scores. For the
threshold-free metrics (PSDS) a box contributes its confidence over its span and 0 elsewhere:
the score of class c at time t is the largest confidence of the c-boxes covering t. Thresholding
that piecewise-constant curve at λ gives exactly the boxes whose confidence is >= λ (boxes of one
class that touch or overlap would join into one detection), so ``sed_scores_eval``'s exact PSD-ROC
over these DataFrames is the PSD-ROC of the boxes over all operating points (Ebbers, Germain,
Wichern, Le Roux, "Sound event bounding boxes", Interspeech 2024, section 2).

This module imports only numpy at import time (``jointsed predict`` loads it); pandas and
``sed_scores_eval`` load when a DataFrame is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from jointsed.evaluate.io import Reference

#: one box: (onset s, offset s, class name, confidence)
Box = tuple[float, float, str, float]


@dataclass(frozen=True)
class ScoredSegments:
    """The scores form of one clip for a segment method: its boxes and the time they cover.

    Attributes:
        boxes: ``(onset, offset, label, confidence)`` tuples, times in seconds within
            ``[0, end]``, onset < offset.
        end: seconds covered by the clip's scores (``T × frame hop`` for a model's output).
    """

    boxes: tuple[Box, ...]
    end: float

    def timestamps_and_values(self, classes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The piecewise-constant scores: ``(timestamps (K+1,), values (K, C))``.

        The timestamps are 0, ``end`` and every box boundary (sorted, unique); row k is the
        score of each class over ``[timestamps[k], timestamps[k+1])``.
        """
        classes = list(classes)
        index = {c: i for i, c in enumerate(classes)}
        end = float(self.end)
        cuts = {0.0, end}
        for onset, offset, _, _ in self.boxes:
            cuts.update((min(max(float(onset), 0.0), end), min(max(float(offset), 0.0), end)))
        timestamps = np.asarray(sorted(cuts), dtype=np.float64)
        values = np.zeros((max(len(timestamps) - 1, 0), len(classes)), dtype=np.float64)
        for onset, offset, label, confidence in self.boxes:
            if label not in index:
                raise ValueError(f"box of class {label!r}, which is not one of {classes}")
            first = int(np.searchsorted(timestamps, min(max(float(onset), 0.0), end)))
            last = int(np.searchsorted(timestamps, min(max(float(offset), 0.0), end)))
            column = values[first:last, index[label]]
            np.maximum(column, float(confidence), out=column)
        return timestamps, values

    def to_dataframe(self, classes: Sequence[str]) -> "pd.DataFrame":
        """``sed_scores_eval`` score DataFrame (columns ``onset offset <classes>``)."""
        from sed_scores_eval.base_modules.scores import create_score_dataframe

        timestamps, values = self.timestamps_and_values(classes)
        return create_score_dataframe(values, timestamps, list(classes))

    def to_frames(self, frame_hop: float, n_frames: int, classes: Sequence[str]) -> np.ndarray:
        """The same scores on a frame grid: ``(n_frames, C)``, frame t covering
        ``[t, t + 1) × frame_hop``; a frame takes the largest confidence of the boxes of its
        class that overlap it. Exact (same PSD-ROC as :meth:`to_dataframe`) when every box
        boundary is a frame boundary, which is the case for boxes cut at frame-level change
        points."""
        classes = list(classes)
        index = {c: i for i, c in enumerate(classes)}
        out = np.zeros((int(n_frames), len(classes)), dtype=np.float64)
        for onset, offset, label, confidence in self.boxes:
            first = max(0, int(np.floor(float(onset) / frame_hop + 1e-6)))
            last = min(int(n_frames), int(np.ceil(float(offset) / frame_hop - 1e-6)))
            column = out[first:last, index[label]]
            np.maximum(column, float(confidence), out=column)
        return out


def segments_to_score_dataframes(
    segments: Mapping[str, ScoredSegments], reference: "Reference"
) -> dict[str, "pd.DataFrame"]:
    """``{filename: ScoredSegments}`` -> ``sed_scores_eval`` DataFrames keyed by audio id, for
    every reference clip (each must have segments; other clips are ignored).

    Raises:
        EvaluationError: a reference clip without segments (named).
    """
    from jointsed.evaluate.io import EvaluationError, audio_id

    by_id = {audio_id(name): value for name, value in segments.items()}
    missing = [key for key in reference.events if key not in by_id]
    if missing:
        raise EvaluationError(
            f"no scored segments for {len(missing)} of {len(reference.events)} clip(s) of "
            f"{reference.path}, e.g. {missing[0]}"
        )
    classes = list(reference.classes)
    try:
        return {key: by_id[key].to_dataframe(classes) for key in reference.events}
    except ValueError as exc:
        raise EvaluationError(f"scored segments: {exc}") from None
