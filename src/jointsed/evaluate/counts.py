"""F-score from match counts: the one function every counting metric of the package uses
(clip-level tagging F1, the fast event F1 of :mod:`jointsed.postprocess.fast_f1` and the
post-processing search).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike


def f1_from_counts(tp: ArrayLike, fp: ArrayLike, fn: ArrayLike) -> tuple[Any, Any, Any]:
    """``(F1, precision, recall)`` from true-positive, false-positive and false-negative counts.

    F1 = 2·TP / (2·TP + FP + FN), which is sed_eval's 2·TP / (N_ref + N_sys) with
    N_ref = TP + FN and N_sys = TP + FP. A ratio with a zero denominator is 0 (sed_eval's
    ``empty_system_output_handling="zero_score"``: a class never predicted scores 0), so F1 is 0
    whenever TP is 0. Callers holding ``(TP, N_ref, N_sys)`` pass ``fp = N_sys - TP`` and
    ``fn = N_ref - TP``.

    Args:
        tp, fp, fn: counts; scalars, or arrays of one broadcastable shape.

    Returns:
        Three Python floats for scalar counts, else three float64 arrays of the broadcast shape.
    """
    tp, fp, fn = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (tp, fp, fn)))

    def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
        return np.divide(
            numerator, denominator, out=np.zeros(numerator.shape), where=denominator > 0
        )

    f1 = ratio(2.0 * tp, 2.0 * tp + fp + fn)
    precision = ratio(tp, tp + fp)
    recall = ratio(tp, tp + fn)
    if f1.ndim == 0:
        return float(f1), float(precision), float(recall)
    return f1, precision, recall
