"""Segment-based F-scores on 1 s segments (DCASE Task 4; :data:`.settings.SEGMENT_LENGTH`).

* from detections: ``sed_eval.sound_event.SegmentBasedMetrics`` [1], clip by clip like the DCASE
  2021 baseline (a clip's evaluated length is its last reference or detected offset), with
  ``empty_system_output_handling="zero_score"`` like the event-based metric (the baseline left
  it unset; both agree whenever every class is detected at least once);
* from frame scores: ``sed_scores_eval.segment_based.fscore`` [2] at a decision threshold (a
  clip's evaluated length is its duration).

[1] A. Mesaros, T. Heittola, T. Virtanen, "Metrics for polyphonic sound event detection",
    Applied Sciences 6(6), 2016.
[2] J. Ebbers, R. Haeb-Umbach, R. Serizel, "Threshold-independent evaluation of sound event
    detection scores", ICASSP 2022.
"""

from __future__ import annotations

import warnings
from typing import Any

from jointsed.evaluate.event_based import Detections, evaluate_sed_eval, present_classes
from jointsed.evaluate.io import Reference
from jointsed.evaluate.results import fscore_result
from jointsed.evaluate.score_files import ScoreInput, as_frame_scores
from jointsed.evaluate.score_statistics import fscores_from_counts, segment_counts_at_threshold
from jointsed.evaluate.settings import DECISION_THRESHOLD, SEGMENT_LENGTH


def segment_based_fscores(
    reference: Reference, detections: Detections, *, segment_length: float = SEGMENT_LENGTH
) -> dict[str, Any]:
    """Segment-based F-scores of detections with ``sed_eval``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pkg_resources deprecation in dcase_util
        import sed_eval

    classes = present_classes(reference, detections)
    metric = sed_eval.sound_event.SegmentBasedMetrics(
        event_label_list=classes, time_resolution=float(segment_length)
    )
    # a class the system never outputs scores precision 0 instead of NaN (which would drop it
    # from the macro average); the constructor does not take this option, the base class reads it
    metric.empty_system_output_handling = "zero_score"
    return evaluate_sed_eval(metric, reference, detections, classes)


def segment_based_fscores_from_scores(
    reference: Reference,
    scores: ScoreInput,
    threshold: float = DECISION_THRESHOLD,
    *,
    segment_length: float = SEGMENT_LENGTH,
) -> dict[str, Any]:
    """Segment-based F-scores of frame scores binarised at ``threshold``, over the classes of
    ``reference``: the figures of ``sed_scores_eval.segment_based.fscore`` (its segments and
    segment scores, compared with ``threshold`` only: :mod:`.score_statistics`)."""
    counts = segment_counts_at_threshold(
        as_frame_scores(scores), reference, list(reference.classes), threshold, segment_length
    )
    f, p, r = fscores_from_counts(counts, threshold)
    return fscore_result(f, p, r, reference.classes)
