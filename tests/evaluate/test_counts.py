"""F1 from counts (jointsed.evaluate.counts): the edge cases."""

from __future__ import annotations

import numpy as np
import pytest


def test_f1_from_counts_edge_cases():
    from jointsed.evaluate.counts import f1_from_counts

    assert f1_from_counts(0, 0, 0) == (0.0, 0.0, 0.0)  # neither reference nor system events
    assert f1_from_counts(0, 3, 0) == (0.0, 0.0, 0.0)  # no reference: false alarms only
    assert f1_from_counts(0, 0, 4) == (0.0, 0.0, 0.0)  # no system output: misses only
    f1, precision, recall = f1_from_counts(3, 1, 2)  # N_ref 5, N_sys 4: 2*3 / 9
    assert (f1, precision, recall) == pytest.approx((6 / 9, 3 / 4, 3 / 5))
    assert all(isinstance(v, float) for v in (f1, precision, recall))
    f1, precision, recall = f1_from_counts(np.array([0, 3, 2]), np.array([2, 1, 0]), np.array([0, 2, 0]))
    np.testing.assert_allclose(f1, [0.0, 6 / 9, 1.0])
    np.testing.assert_allclose(precision, [0.0, 3 / 4, 1.0])
    np.testing.assert_allclose(recall, [0.0, 3 / 5, 1.0])
