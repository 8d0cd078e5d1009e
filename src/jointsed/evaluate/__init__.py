"""Evaluation with the official DCASE Task 4 metric libraries.

One module per metric family (``event_based``, ``segment_based``, ``tagging``,
``intersection`` for intersection-F1 and PSDS), their DCASE settings (collars, segment length,
PSDS scenarios) in ``settings``, the F1 of match counts in ``counts``, input handling in ``io``
and the combined report in ``summary``. The libraries are ``sed_eval`` (event/segment-based
F-scores of detections), ``psds_eval`` (PSDS over operating points, intersection F1) and
``sed_scores_eval`` (threshold-free PSDS and F-scores from frame-score files).
"""

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
from jointsed.evaluate.settings import (
    EVENT_COLLARS,
    INTERSECTION_F1,
    PSDS1,
    PSDS2,
    SEGMENT_LENGTH,
    EventCollars,
    IntersectionCriteria,
    PSDSScenario,
)
from jointsed.evaluate.summary import evaluate_run, format_table
from jointsed.evaluate.tagging import clip_f1

__all__ = [
    "EVENT_COLLARS",
    "INTERSECTION_F1",
    "PSDS1",
    "PSDS2",
    "SEGMENT_LENGTH",
    "EvaluationError",
    "EventCollars",
    "IntersectionCriteria",
    "PSDSScenario",
    "Reference",
    "audio_id",
    "clip_f1",
    "evaluate_run",
    "format_table",
    "load_reference",
    "read_detections",
    "read_frame_scores",
    "read_operating_points",
    "write_frame_scores",
]
