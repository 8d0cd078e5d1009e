"""Intersection-based F-score and the Polyphonic Sound Detection Score (PSDS).

* from detection tables (one per operating point): ``psds_eval.PSDSEval`` [1], used like the
  DCASE 2021 baseline (``add_operating_point`` per threshold, ``psds(...)``,
  ``compute_macro_f_score``);
* from frame scores: ``sed_scores_eval.intersection_based`` [2] (exact PSD-ROC over all
  thresholds, and ``fscore`` at a decision threshold), computed by :mod:`.psd_curves` and
  :mod:`.score_statistics` with the library's functions on the part of the curves these
  metrics read (same values, bounded time and memory on large sets).

DCASE Task 4 settings (:mod:`jointsed.evaluate.settings`): intersection F1 with DTC = GTC = 0.5
(CTTC 0.3); PSDS1 = (DTC 0.7, GTC 0.7, alpha_ct 0, alpha_st 1, max eFPR 100/h); PSDS2 = (0.1,
0.1, CTTC 0.3, alpha_ct 0.5, alpha_st 1, 100/h).

[1] C. Bilen et al., "A framework for the robust evaluation of sound event detection",
    ICASSP 2020.
[2] J. Ebbers, R. Haeb-Umbach, R. Serizel, "Threshold-independent evaluation of sound event
    detection scores", ICASSP 2022.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import asdict
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from jointsed.evaluate.event_based import Detections
from jointsed.evaluate.io import Reference, events_frame
from jointsed.evaluate.psd_curves import PSDSResult, psds_of_scenarios
from jointsed.evaluate.results import as_float, fscore_result
from jointsed.evaluate.score_files import FrameScores, ScoreInput, as_frame_scores
from jointsed.evaluate.score_statistics import (
    check_exact_inputs,
    fscores_from_counts,
    intersection_counts_at_threshold,
)
from jointsed.evaluate.settings import (
    CTTC_THRESHOLD,
    DECISION_THRESHOLD,
    INTERSECTION_F1,
    PSDS1,
    PSDS2,
    IntersectionCriteria,
    PSDSScenario,
)


def _psds_eval(reference: Reference, dtc: float, gtc: float, cttc: float | None) -> Any:
    from psds_eval import PSDSEval

    # psds_eval wants a CTTC even when alpha_ct = 0 (where it has no effect): DCASE's
    return PSDSEval(
        dtc_threshold=dtc,
        gtc_threshold=gtc,
        cttc_threshold=CTTC_THRESHOLD if cttc is None else cttc,
        ground_truth=reference.events_dataframe(),
        metadata=reference.durations_dataframe(),
    )


def intersection_fscores(
    reference: Reference,
    detections: Detections,
    *,
    criteria: IntersectionCriteria = INTERSECTION_F1,
) -> dict[str, Any]:
    """Intersection-based macro F1 of one detection table (``psds_eval.compute_macro_f_score``).

    ``psds_eval`` gives F1 only: precision, recall and micro averages are ``None``. No detection
    at all scores 0 (as in the DCASE baseline).
    """
    frame = events_frame(detections)
    classes = [c for c in reference.classes if any(
        label == c for evs in reference.events.values() for _, _, label in evs)]
    if frame.empty:
        f = {c: 0.0 for c in classes}
        f["macro_average"] = 0.0
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            evaluator = _psds_eval(
                reference, criteria.dtc_threshold, criteria.gtc_threshold, criteria.cttc_threshold
            )
            macro, per_class = evaluator.compute_macro_f_score(frame)
        f = {c: per_class.get(c, np.nan) for c in classes}
        f["macro_average"] = 0.0 if np.isnan(macro) else macro
    return fscore_result(f, None, None, classes)


def intersection_fscores_from_scores(
    reference: Reference,
    scores: ScoreInput,
    threshold: float = DECISION_THRESHOLD,
    *,
    criteria: IntersectionCriteria = INTERSECTION_F1,
) -> dict[str, Any]:
    """Intersection-based F-scores of frame scores binarised at ``threshold`` (the figures of
    ``sed_scores_eval.intersection_based.fscore``, from the counts at ``threshold`` only:
    :mod:`.score_statistics`), over the classes of ``reference``."""
    frame_scores = as_frame_scores(scores)
    classes = list(reference.classes)
    if not check_exact_inputs(reference, frame_scores, criteria.dtc_threshold):
        from sed_scores_eval import intersection_based

        f, p, r, _ = intersection_based.fscore(
            _library_frames(frame_scores, classes), reference.events, threshold,
            dtc_threshold=criteria.dtc_threshold, gtc_threshold=criteria.gtc_threshold,
        )
        return fscore_result(f, p, r, reference.classes)
    counts = intersection_counts_at_threshold(
        frame_scores, reference, classes, threshold, criteria.dtc_threshold, criteria.gtc_threshold
    )
    f, p, r = fscores_from_counts(counts, threshold)
    return fscore_result(f, p, r, reference.classes)


def psds_from_operating_points(
    reference: Reference,
    operating_points: Mapping[float, Detections],
    settings: PSDSScenario = PSDS1,
) -> dict[str, Any]:
    """PSDS over a set of operating points (``{threshold: detections}``) with ``psds_eval``.

    Returns ``{"value", "settings", "n_operating_points", "library"}``.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        evaluator = _psds_eval(
            reference, settings.dtc_threshold, settings.gtc_threshold, settings.cttc_threshold
        )
        for index, (threshold, detections) in enumerate(sorted(operating_points.items())):
            frame = events_frame(detections)
            # unique index: see https://github.com/audioanalytic/psds_eval/issues/3
            frame.index = range(1, len(frame) + 1)
            evaluator.add_operating_point(
                frame, info={"name": f"Op {index + 1:02d}", "threshold": threshold}
            )
        score = evaluator.psds(
            alpha_ct=settings.alpha_ct, alpha_st=settings.alpha_st, max_efpr=settings.max_efpr
        )
    return {
        "value": float(score.value),
        "settings": asdict(settings),
        "n_operating_points": len(operating_points),
        "library": "psds_eval",
    }


def _library_psds(reference: Reference, scores: FrameScores, settings: PSDSScenario) -> PSDSResult:
    from sed_scores_eval import intersection_based

    return intersection_based.psds(
        _library_frames(scores, list(reference.classes)),
        reference.events,
        reference.durations,
        dtc_threshold=settings.dtc_threshold,
        gtc_threshold=settings.gtc_threshold,
        cttc_threshold=settings.cttc_threshold if settings.alpha_ct else None,
        alpha_ct=settings.alpha_ct,
        alpha_st=settings.alpha_st,
        max_efpr=settings.max_efpr,
    )


def sed_scores_psds_all(
    reference: Reference, scores: ScoreInput, scenarios: Sequence[PSDSScenario] = (PSDS1, PSDS2)
) -> list[PSDSResult]:
    """``sed_scores_eval.intersection_based.psds`` of every scenario with our settings, over the
    classes of ``reference`` (each needs a ground-truth event, as the library requires): each
    ``(psds, per_class_psds, (tpr, efpr), per_class_rocs)`` as the library gives them. Scores
    given as DataFrames with only some of the reference classes as columns are evaluated over
    those columns, as the library does (the reference's events of the other classes dropped).

    Computed by :mod:`.psd_curves` (the same values in bounded time and memory; the scenarios
    share the detections), or by the library itself when the inputs are not in whole
    microseconds (:func:`.score_statistics.check_exact_inputs`).
    """
    frame_scores = as_frame_scores(scores)
    if set(reference.classes) - set(frame_scores.classes):
        keep = [c for c in reference.classes if c in frame_scores.classes]
        reference = Reference(
            events={k: [e for e in evs if e[2] in keep] for k, evs in reference.events.items()},
            durations=dict(reference.durations), classes=tuple(keep), path=reference.path,
            merged_events=reference.merged_events,
        )
    if len(reference.classes) < 2:
        # the cross-trigger term is a mean over the other classes: with none it is empty, and
        # the library fails on it (TypeError / IndexError); no cross-trigger can happen, so 0
        scenarios = [dataclasses.replace(s, alpha_ct=0.0) if s.alpha_ct else s for s in scenarios]
    # the bound of psd_curves' step 1 needs every frame to fail the DTC without an intersection
    fast = all(check_exact_inputs(reference, frame_scores, s.dtc_threshold) for s in scenarios)
    if not fast:
        return [_library_psds(reference, frame_scores, s) for s in scenarios]
    return psds_of_scenarios(frame_scores, reference, list(reference.classes), scenarios)


def sed_scores_psds(reference: Reference, scores: ScoreInput, settings: PSDSScenario = PSDS1) -> PSDSResult:
    """:func:`sed_scores_psds_all` of one scenario: ``(psds, per_class_psds, (tpr, efpr),
    per_class_rocs)`` as ``sed_scores_eval.intersection_based.psds`` returns them."""
    return sed_scores_psds_all(reference, scores, [settings])[0]


def psds_result(reference: Reference, result: PSDSResult, settings: PSDSScenario) -> dict[str, Any]:
    """The report entry of one PSDS: ``{"value", "per_class", "settings", "library"}``."""
    value, per_class, _, _ = result
    return {
        "value": float(value),
        "per_class": {c: as_float(per_class[c]) for c in reference.classes if c in per_class},
        "settings": asdict(settings),
        "library": "sed_scores_eval",
    }


def psds_from_scores(
    reference: Reference,
    scores: ScoreInput,
    settings: PSDSScenario = PSDS1,
) -> dict[str, Any]:
    """Threshold-independent PSDS of frame scores (``sed_scores_eval.intersection_based.psds``).

    Returns ``{"value", "per_class", "settings", "library"}``.
    """
    return psds_result(reference, sed_scores_psds(reference, scores, settings), settings)


def _library_frames(scores: FrameScores, classes: list[str]) -> dict[str, pd.DataFrame]:
    """The DataFrames ``sed_scores_eval``'s own functions read, restricted to ``classes``."""
    columns = ["onset", "offset", *classes]
    return {k: frame[columns] for k, frame in scores.to_dataframes().items()}
