"""Evaluation with the official DCASE Task 4 metric libraries.

One module per metric family (``event_based``, ``segment_based``, ``tagging``,
``intersection`` for intersection-F1 and PSDS), input handling in ``io`` and the combined report
in ``summary``. The libraries are ``sed_eval`` (event/segment-based F-scores of detections),
``psds_eval`` (PSDS over operating points, intersection F1) and ``sed_scores_eval``
(threshold-free PSDS and F-scores from frame-score files).
"""

from jointsed.evaluate.intersection import PSDS1, PSDS2, PSDSSettings
from jointsed.evaluate.io import (
    EvaluationError,
    Reference,
    audio_id,
    load_reference,
    read_detections,
    read_frame_scores,
    read_operating_points,
    write_frame_scores,
)
from jointsed.evaluate.summary import evaluate_run, format_table

__all__ = [
    "PSDS1",
    "PSDS2",
    "EvaluationError",
    "PSDSSettings",
    "Reference",
    "audio_id",
    "evaluate_run",
    "format_table",
    "load_reference",
    "read_detections",
    "read_frame_scores",
    "read_operating_points",
    "write_frame_scores",
]
