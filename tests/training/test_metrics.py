"""Threshold-free validation metrics (jointsed.training.metrics)."""

from __future__ import annotations

import numpy as np
import pytest

from jointsed.training.metrics import average_precision


# ----- checkpoint selection (DESIGN section 8) ------------------------------------------------------
def test_average_precision_matches_its_definition():
    # positives ranked 1st and 3rd: AP = (1/1 + 2/3) / 2
    assert average_precision(np.array([0.9, 0.8, 0.1]), np.array([1, 0, 1])) == pytest.approx(5 / 6)
    # tied scores form one operating point: all tied -> AP = prevalence
    assert average_precision(np.full(8, 0.5), np.array([1, 0, 0, 0, 1, 0, 0, 0])) == pytest.approx(0.25)
    assert np.isnan(average_precision(np.array([0.3, 0.2]), np.array([0, 0])))
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    scores, labels = np.round(rng.random(300), 1), rng.random(300) < 0.3
    assert average_precision(scores, labels) == pytest.approx(sklearn_metrics.average_precision_score(labels, scores))
