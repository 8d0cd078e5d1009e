"""Event-based (collar-based) F-scores, DCASE Task 4 settings (:data:`.settings.EVENT_COLLARS`:
200 ms onset collar, offset collar max(200 ms, 20 % of the event length)).

* from detections: ``sed_eval.sound_event.EventBasedMetrics`` [1], evaluated clip by clip exactly
  like the DCASE 2021 baseline (``empty_system_output_handling="zero_score"``);
* from frame scores: ``sed_scores_eval.collar_based.fscore`` [2] at a decision threshold (its
  counts at that threshold only, :mod:`.score_statistics`).

[1] A. Mesaros, T. Heittola, T. Virtanen, "Metrics for polyphonic sound event detection",
    Applied Sciences 6(6), 2016.
[2] J. Ebbers, R. Haeb-Umbach, R. Serizel, "Threshold-independent evaluation of sound event
    detection scores", ICASSP 2022.
"""

from __future__ import annotations

import warnings
from typing import Any, Mapping, Sequence

from jointsed.evaluate.io import Reference
from jointsed.evaluate.results import fscore_result
from jointsed.evaluate.score_files import ScoreInput, as_frame_scores
from jointsed.evaluate.score_statistics import collar_counts_at_threshold, fscores_from_counts
from jointsed.evaluate.settings import DECISION_THRESHOLD, EVENT_COLLARS, EventCollars

Detections = Mapping[str, Sequence[tuple[float, float, str]]]


def present_classes(reference: Reference, detections: Detections) -> list[str]:
    """Classes occurring in the reference or the detections, in official order (the DCASE
    baseline evaluates the union of both label sets)."""
    seen = {label for evs in reference.events.values() for _, _, label in evs}
    seen |= {label for evs in detections.values() for _, _, label in evs}
    return [c for c in reference.classes if c in seen]


def event_dicts(key: str, events: Sequence[tuple[float, float, str]]) -> list[dict[str, Any]]:
    """One clip's events as the dicts ``sed_eval`` reads."""
    return [
        {"filename": key, "onset": on, "offset": off, "event_label": label}
        for on, off, label in events
    ]


def sed_eval_fscores(metric: Any, classes: Sequence[str]) -> dict[str, Any]:
    """Common result shape from a filled ``sed_eval`` metrics object."""
    from sed_scores_eval.base_modules.precision_recall import fscore_from_sed_eval_metrics

    f, p, r = fscore_from_sed_eval_metrics(metric)
    result = fscore_result(f, p, r, classes)
    counts = metric.results_class_wise_metrics()
    for c in result["per_class"]:
        result["per_class"][c]["n_ref"] = int(counts[c]["count"]["Nref"])
        result["per_class"][c]["n_sys"] = int(counts[c]["count"]["Nsys"])
    overall = metric.results_overall_metrics()
    result["error_rate"] = float(overall["error_rate"]["error_rate"])
    return result


def evaluate_sed_eval(metric: Any, reference: Reference, detections: Detections, classes: Sequence[str]) -> dict[str, Any]:
    """Feed every reference clip (and its detections) to a sed_eval metric; its F-scores."""
    for key, truth in reference.events.items():
        metric.evaluate(
            reference_event_list=event_dicts(key, truth),
            estimated_event_list=event_dicts(key, detections.get(key, ())),
        )
    return sed_eval_fscores(metric, classes)


def event_based_fscores(
    reference: Reference,
    detections: Detections,
    *,
    collars: EventCollars = EVENT_COLLARS,
) -> dict[str, Any]:
    """Event-based F-scores (onset and offset evaluated) of detections with ``sed_eval``.

    Args:
        reference: ground truth (every clip of it is evaluated).
        detections: ``{audio id: [(onset, offset, label), ...]}``; clips absent = no detection.
        collars: the matching collars (default: DCASE's).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pkg_resources deprecation in dcase_util
        import sed_eval

    classes = present_classes(reference, detections)
    metric = sed_eval.sound_event.EventBasedMetrics(
        event_label_list=classes,
        t_collar=collars.t_collar,
        percentage_of_length=collars.percentage_of_length,
        evaluate_onset=True,
        evaluate_offset=True,
        empty_system_output_handling="zero_score",
    )
    return evaluate_sed_eval(metric, reference, detections, classes)


def event_based_fscores_from_scores(
    reference: Reference,
    scores: ScoreInput,
    threshold: float = DECISION_THRESHOLD,
    *,
    collars: EventCollars = EVENT_COLLARS,
) -> dict[str, Any]:
    """Collar-based F-scores of frame scores binarised at ``threshold``, over the classes of
    ``reference``: the figures of ``sed_scores_eval.collar_based.fscore``, from the counts at
    ``threshold`` only (:mod:`.score_statistics`; the library's collar decisions are made per
    detection, so they do not depend on the other thresholds)."""
    counts = collar_counts_at_threshold(
        as_frame_scores(scores), reference, list(reference.classes), threshold,
        onset_collar=collars.t_collar, offset_collar=collars.t_collar, offset_collar_rate=collars.percentage_of_length,
    )
    f, p, r = fscores_from_counts(counts, threshold)
    return fscore_result(f, p, r, reference.classes)
