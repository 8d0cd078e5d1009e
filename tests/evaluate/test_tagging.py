"""Clip-level tagging F1 (jointsed.evaluate.tagging), as training validation counts it."""

from __future__ import annotations

import numpy as np
import pytest


def test_clip_f1_counts_like_training_validation():
    """Tag when score >= threshold; per-class F1 NaN for a class neither labelled nor predicted;
    macro over the labelled classes (a labelled class never predicted counts 0)."""
    from jointsed.evaluate import clip_f1

    targets = np.array([[1, 0, 0, 1], [1, 1, 0, 0], [0, 0, 0, 0]], dtype=np.float32)
    scores = np.array([[0.9, 0.6, 0.1, 0.2], [0.5, 0.2, 0.3, 0.1], [0.7, 0.1, 0.0, 0.4]])
    macro_f1, per_class = clip_f1(scores, targets)
    # class 0: TP 2, FP 1 -> 0.8; class 1: TP 0, FP 1, FN 1 -> 0; class 2: nothing -> NaN;
    # class 3: FN 1 -> 0
    np.testing.assert_allclose(per_class, [0.8, 0.0, np.nan, 0.0])
    assert macro_f1 == pytest.approx((0.8 + 0.0 + 0.0) / 3)
    # per-class thresholds: class 1 tagged only at >= 0.7 (drops its false positive), class 3 at 0.15
    macro_f1, per_class = clip_f1(scores, targets, threshold=np.array([0.5, 0.7, 0.5, 0.15]))
    np.testing.assert_allclose(per_class, [0.8, 0.0, np.nan, 2 / 3])
    assert macro_f1 == pytest.approx((0.8 + 0.0 + 2 / 3) / 3)
    assert clip_f1(scores, np.zeros_like(targets))[0] == 0.0  # no labelled class at all
    with pytest.raises(ValueError, match="clips, classes"):
        clip_f1(scores, targets[:2])
