"""The incremental post-processing of a stream equals Lin's offline post-processing of the
whole stream (constant gate), whatever the blocks it arrives in, and holds bounded memory."""

from __future__ import annotations

import numpy as np
import pytest

from jointsed.postprocess.apply import median_filter_rows
from jointsed.postprocess.params import PostProcessingParams
from jointsed.streaming.postprocess import IncrementalLin, SlidingMedian

CLASSES = ["a", "b", "c", "d"]


def _scores(rng: np.random.Generator, n: int) -> np.ndarray:
    """Smooth random scores with events of many lengths (so that every parameter matters)."""
    x = rng.uniform(0, 1, (n + 8, len(CLASSES)))
    kernel = np.ones(5) / 5
    x = np.stack([np.convolve(x[:, c], kernel, mode="valid")[:n] for c in range(len(CLASSES))], axis=1)
    return np.clip((x - 0.5) * 4 + 0.5, 0, 1)


def _blocks(rng: np.random.Generator, n: int) -> list[tuple[int, int]]:
    cuts = np.sort(rng.choice(np.arange(1, n), size=min(n - 1, 12), replace=False))
    edges = [0, *cuts.tolist(), n]
    return list(zip(edges[:-1], edges[1:]))


@pytest.mark.parametrize("window", [1, 2, 5, 8, 17])
@pytest.mark.parametrize("n", [3, 40, 301])
def test_sliding_median_equals_scipy_reflect(window, n):
    rng = np.random.default_rng(window * 1000 + n)
    x = rng.uniform(0, 1, n)
    med = SlidingMedian(window)
    blocks = _blocks(rng, n) if n > 1 else [(0, n)]
    got = np.concatenate([med.push(x[a:b], last=(b == n)) for a, b in blocks])
    assert np.array_equal(got, median_filter_rows(x[None], window)[0])


@pytest.mark.parametrize("seed", range(6))
def test_incremental_events_equal_offline_events(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 900))
    frames = _scores(rng, n)
    hop = 0.04
    params = PostProcessingParams(
        classes=CLASSES, tag_threshold=[0.5, 0.2, 0.9, 0.0],
        frame_threshold=[float(v) for v in rng.uniform(0.3, 0.7, 4)],
        median_window=[int(v) for v in rng.choice([1, 2, 3, 6, 11, 30], 4)],
        min_duration=[0.0, 0.2, 0.5, float(rng.choice([0.0, 0.33]))],
        max_gap=[0.3, 0.0, 0.12, float(rng.choice([0.0, 1.0]))],
    )
    clip = np.array([0.6, 0.1, 0.95, 0.3])  # class b gated off
    expected = params.events(clip, frames, hop)
    inc = IncrementalLin(params, hop)
    got = []
    blocks = _blocks(rng, n)
    for a, b in blocks:
        got += inc.push(frames[a:b], np.broadcast_to(clip, (b - a, 4)), last=(b == n))
    # emitted as they become final: sorted as the offline events (onset, then class order)
    got.sort(key=lambda e: (e.onset, CLASSES.index(e.event_label)))
    assert [(e.onset, e.offset, e.event_label) for e in got] == expected
    assert len(expected) > 3 and not any(e.event_label == "b" for e in got)
    for e in got:  # the confidence is the largest smoothed score inside the event
        c = CLASSES.index(e.event_label)
        smooth = median_filter_rows(frames[None, :, c], params.median_window[c])[0]
        assert e.confidence == pytest.approx(smooth[round(e.onset / hop) : round(e.offset / hop)].max())


def test_events_are_emitted_within_the_stated_delay_and_memory_stays_bounded():
    rng = np.random.default_rng(7)
    params = PostProcessingParams(classes=CLASSES, tag_threshold=[0.0] * 4, frame_threshold=[0.5] * 4,
                                  median_window=[3, 9, 4, 21], min_duration=[0.0] * 4, max_gap=[0.0, 0.2, 0.0, 0.4])
    hop = 0.04
    inc = IncrementalLin(params, hop)
    block = 25
    for i in range(400):  # 10000 frames in blocks of 25
        frames = _scores(rng, block)
        for e in inc.push(frames, np.ones((block, 4))):
            c = CLASSES.index(e.event_label)
            end = round(e.offset / hop)
            # final no later than the stated delay after the event's end (plus one block of arrival)
            assert e.emitted_frame - end <= inc.delay_frames(c) + block + 1
    for s in inc.states:
        assert s.score_median.held.shape[0] < 4 * 21 + 64 + 2 * 21 + block
        assert sum(x.shape[0] for x in s.smooth) < 1024 + 4 * block + 200
