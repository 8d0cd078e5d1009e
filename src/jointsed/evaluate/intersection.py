"""Intersection-based F-score and the Polyphonic Sound Detection Score (PSDS).

* from detection tables (one per operating point): ``psds_eval.PSDSEval`` [1], used like the
  DCASE 2021 baseline (``add_operating_point`` per threshold, ``psds(...)``,
  ``compute_macro_f_score``);
* from frame scores: ``sed_scores_eval.intersection_based`` [2] (exact PSD-ROC over all
  thresholds, and ``fscore`` at a decision threshold).

DCASE Task 4 settings (:mod:`jointsed.evaluate.settings`): intersection F1 with DTC = GTC = 0.5
(CTTC 0.3); PSDS1 = (DTC 0.7, GTC 0.7, alpha_ct 0, alpha_st 1, max eFPR 100/h); PSDS2 = (0.1,
0.1, CTTC 0.3, alpha_ct 0.5, alpha_st 1, 100/h).

[1] C. Bilen et al., "A framework for the robust evaluation of sound event detection",
    ICASSP 2020.
[2] J. Ebbers, R. Haeb-Umbach, R. Serizel, "Threshold-independent evaluation of sound event
    detection scores", ICASSP 2022.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict
from typing import Any, Mapping

import numpy as np
import pandas as pd

from jointsed.evaluate.event_based import Detections
from jointsed.evaluate.io import Reference, events_frame
from jointsed.evaluate.results import as_float, fscore_result
from jointsed.evaluate.settings import (
    CTTC_THRESHOLD,
    DECISION_THRESHOLD,
    INTERSECTION_F1,
    PSDS1,
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
    scores: Mapping[str, pd.DataFrame],
    threshold: float = DECISION_THRESHOLD,
    *,
    criteria: IntersectionCriteria = INTERSECTION_F1,
) -> dict[str, Any]:
    """Intersection-based F-scores of frame scores binarised at ``threshold``."""
    from sed_scores_eval import intersection_based

    f, p, r, _ = intersection_based.fscore(
        dict(scores),
        reference.events,
        threshold,
        dtc_threshold=criteria.dtc_threshold,
        gtc_threshold=criteria.gtc_threshold,
    )
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


def sed_scores_psds(
    reference: Reference,
    scores: Mapping[str, pd.DataFrame],
    settings: PSDSScenario = PSDS1,
) -> tuple[float, dict[str, float], tuple[np.ndarray, np.ndarray], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """The one call of ``sed_scores_eval.intersection_based.psds`` with our settings.

    Returns ``(psds, per_class_psds, (tpr, efpr), per_class_rocs)`` as the library gives them.
    """
    from sed_scores_eval import intersection_based

    return intersection_based.psds(
        dict(scores),
        reference.events,
        reference.durations,
        dtc_threshold=settings.dtc_threshold,
        gtc_threshold=settings.gtc_threshold,
        cttc_threshold=settings.cttc_threshold if settings.alpha_ct else None,
        alpha_ct=settings.alpha_ct,
        alpha_st=settings.alpha_st,
        max_efpr=settings.max_efpr,
    )


def psds_from_scores(
    reference: Reference,
    scores: Mapping[str, pd.DataFrame],
    settings: PSDSScenario = PSDS1,
) -> dict[str, Any]:
    """Threshold-independent PSDS of frame scores (``sed_scores_eval.intersection_based.psds``).

    Returns ``{"value", "per_class", "settings", "library"}``.
    """
    value, per_class, _, _ = sed_scores_psds(reference, scores, settings)
    return {
        "value": float(value),
        "per_class": {c: as_float(per_class[c]) for c in reference.classes if c in per_class},
        "settings": asdict(settings),
        "library": "sed_scores_eval",
    }
