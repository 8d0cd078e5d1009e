"""Property check: the median filters of Lin's pipeline (and of SEBB's pre-filter) equal
scipy.ndimage.median_filter (mode reflect) on random rows, windows and lengths."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from jointsed.postprocess.apply import binary_median_filter_rows, median_filter_rows


@pytest.mark.parametrize("seed", range(40))
def test_median_filters_equal_scipy(seed):
    rng = np.random.default_rng(seed)
    n_frames = int(rng.integers(1, 120))
    # scipy pads by itself only up to about twice the row (the reason for our explicit padding)
    window = int(rng.integers(1, 2 * n_frames + 2))
    window = min(window, max(1, n_frames))
    rows = rng.random((3, n_frames))
    expected = np.stack([ndimage.median_filter(r, size=window, mode="reflect") for r in rows])
    assert np.array_equal(median_filter_rows(rows, window), expected)
    binary = rng.random((3, n_frames)) < rng.random()
    expected_binary = np.stack([ndimage.median_filter(r.astype(np.uint8), size=window, mode="reflect") > 0
                                for r in binary])
    assert np.array_equal(binary_median_filter_rows(binary, window), expected_binary)
