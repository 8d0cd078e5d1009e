"""The binarisation pipeline (jointsed.postprocess.apply): median filters, tag gating, per-class
thresholds, minimum duration and gap filling, frames to events."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage

from jointsed.data.annotations import Event
from jointsed.postprocess import (
    PostProcessingError,
    PostProcessingParams,
    binarize,
    frames_to_events,
    postprocess_frame_scores,
    postprocess_scores,
)
from jointsed.postprocess.apply import binary_median_filter_rows, median_filter_rows


# ----------------------------------------------------------------------------- filters
def _reference_median(row: np.ndarray, window: int) -> np.ndarray:
    """Brute-force median with ndimage's window placement, reflect padding and upper median."""
    left = window // 2
    padded = np.pad(row, (left, window - 1 - left), mode="symmetric")
    return np.sort(sliding_window_view(padded, window), axis=1)[:, window // 2]


def test_median_filters_match_scipy_and_reference():
    rng = np.random.default_rng(0)
    for _ in range(150):
        n_frames = int(rng.integers(1, 60))
        window = int(rng.integers(1, 150))  # includes even windows and windows longer than the clip
        scores = rng.random((2, n_frames))
        expected = np.stack([_reference_median(r, window) for r in scores])
        np.testing.assert_array_equal(median_filter_rows(scores, window), expected)
        active = scores > 0.5
        expected_bin = np.stack([_reference_median(r.astype(float), window) for r in active]) > 0.5
        np.testing.assert_array_equal(binary_median_filter_rows(active, window), expected_bin)
        if window <= n_frames:  # where scipy's own padding is reliable: identical to Lin's call
            np.testing.assert_array_equal(
                binary_median_filter_rows(active, window)[0],
                ndimage.median_filter(active[0].astype(np.uint8), size=window, mode="reflect").astype(bool),
            )


# ----------------------------------------------------------------------------- binarize
def _params(**kw) -> PostProcessingParams:
    base = dict(tag_threshold=0.5, frame_threshold=0.5, median_window=1, min_duration=0.0, max_gap=0.0)
    base.update(kw)
    return PostProcessingParams.uniform(["a", "b"], **base)


def test_tag_gating_removes_class():
    frames = np.full((20, 2), 0.9)
    active = binarize(np.array([0.4, 0.6]), frames, _params())
    assert not active[:, 0].any() and active[:, 1].all()
    # per-class tag threshold: class a passes with a lower tau
    params = _params().replace_class(0, tag_threshold=0.3)
    assert binarize(np.array([0.4, 0.6]), frames, params).all()


def test_median_filter_removes_spikes_and_fills_holes():
    frames = np.zeros((30, 2))
    frames[5, 0] = 0.9  # isolated spike
    frames[10:25, 1] = 0.9
    frames[17, 1] = 0.1  # one-frame hole
    clip = np.array([0.9, 0.9])
    raw = binarize(clip, frames, _params(median_window=1))
    assert raw[5, 0] and not raw[17, 1]
    smoothed = binarize(clip, frames, _params(median_window=5))
    assert not smoothed[:, 0].any()
    assert smoothed[10:25, 1].all() and smoothed[:, 1].sum() == 15


def test_frame_threshold_per_class():
    frames = np.tile(np.array([[0.3, 0.3]]), (10, 1))
    params = _params().replace_class(1, frame_threshold=0.25)
    active = binarize(np.array([1.0, 1.0]), frames, params)
    assert not active[:, 0].any() and active[:, 1].all()


def test_min_duration_and_gap_filling():
    hop = 0.02
    frames = np.zeros((50, 2))
    frames[2:4, 0] = 0.9  # 2 frames = 0.04 s
    frames[10:20, 0] = 0.9  # 0.2 s
    frames[10:15, 1] = 0.9
    frames[18:30, 1] = 0.9  # gap of 3 frames = 0.06 s
    clip = np.ones(2)
    base = binarize(clip, frames, _params(), hop)
    assert base.sum() == 2 + 10 + 5 + 12
    dropped = binarize(clip, frames, _params(min_duration=0.1), hop)
    assert not dropped[2:4, 0].any() and dropped[10:20, 0].all()
    kept_exact = binarize(clip, frames, _params(min_duration=0.04), hop)  # "shorter than": 0.04 s stays
    assert kept_exact[2:4, 0].all()
    joined = binarize(clip, frames, _params(max_gap=0.08), hop)
    assert joined[10:30, 1].all()
    not_joined = binarize(clip, frames, _params(max_gap=0.06), hop)  # gap equal to max_gap: kept
    assert not not_joined[15:18, 1].any()
    # gaps are filled before short events are dropped: two 0.04 s pieces joined into one 0.1 s event
    frames2 = np.zeros((20, 2))
    frames2[2:4, 0] = frames2[5:8, 0] = 0.9
    both = binarize(clip, frames2, _params(max_gap=0.05, min_duration=0.1), hop)
    assert both[2:8, 0].all() and both.sum() == 6


def test_binarize_rejects_bad_shapes():
    with pytest.raises(PostProcessingError, match=r"shape \(2,\)"):
        binarize(np.ones(3), np.zeros((5, 2)), _params())
    with pytest.raises(PostProcessingError, match="frames, 2"):
        binarize(np.ones(2), np.zeros((5, 3)), _params())
    with pytest.raises(PostProcessingError, match="NaN"):
        binarize(np.ones(2), np.full((5, 2), np.nan), _params())


def test_frames_to_events_and_postprocess_scores():
    hop = 0.02
    frames = np.zeros((50, 2))
    frames[5:10, 0] = 0.9
    frames[20:50, 1] = 0.9
    clip = {"x.wav": np.array([0.9, 0.9]), "y.wav": np.array([0.1, 0.1])}
    frame = {"x.wav": frames, "y.wav": frames}
    events = postprocess_scores(clip, frame, _params(), hop)
    assert events == [Event("x.wav", 5 * hop, 10 * hop, "a"), Event("x.wav", 20 * hop, 50 * hop, "b")]
    assert frames_to_events(binarize(clip["x.wav"], frames, _params(), hop), "x.wav", hop, ["a", "b"]) == events
    with pytest.raises(PostProcessingError, match="y.wav"):
        postprocess_scores({"x.wav": clip["x.wav"]}, frame, _params(), hop)
    with pytest.raises(PostProcessingError, match="z.wav"):
        postprocess_scores({**clip, "z.wav": np.ones(2)}, {**frame, "z.wav": np.zeros((4, 5))}, _params(), hop)


def test_postprocess_frame_scores():
    rng = np.random.default_rng(1)
    frames = rng.random((40, 2))
    params = _params(median_window=7)
    scores = postprocess_frame_scores(np.array([0.2, 0.8]), frames, params)
    assert (scores[:, 0] == 0).all()
    np.testing.assert_array_equal(scores[:, 1], _reference_median(frames[:, 1], 7))


def test_the_second_binary_median_filter_removes_blips_and_fills_holes():
    """Step 4 of the pipeline (median filter of the binary activity): dropping it left every
    other post-processing test green. With w = 3 and theta = 0.5, the first (score) median
    filter leaves a one-frame blip in the first row and a one-frame hole in the second; the
    binary filter removes the blip and fills the hole."""
    params = PostProcessingParams(classes=["a", "b"], tag_threshold=[0.5, 0.5], frame_threshold=[0.5, 0.5],
                                  median_window=[3, 3], min_duration=[0.0, 0.0], max_gap=[0.0, 0.0])
    frames = np.array([[0.0, 0.0, 0.6, 0.4, 0.6, 0.0, 0.0],
                       [0.6, 0.6, 0.4, 0.6, 0.4, 0.6, 0.6]]).T
    smoothed = median_filter_rows(frames.T, 3)
    assert (smoothed[0] >= 0.5).sum() == 1 and (smoothed[1] >= 0.5).tolist() == [1, 1, 1, 0, 1, 1, 1]
    active = binarize(np.array([1.0, 1.0]), frames, params, frame_hop=0.1)
    assert not active[:, 0].any()  # the blip is gone
    assert active[:, 1].all()  # the hole is filled: one event, not two
    events = frames_to_events(active, "clip.wav", 0.1, ["a", "b"])
    assert [(e.event_label, e.onset, round(e.offset, 9)) for e in events] == [("b", 0.0, 0.7)]
