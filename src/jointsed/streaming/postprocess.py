"""Lin et al.'s post-processing applied incrementally, in bounded memory, to a stream of frames.

:class:`IncrementalLin` takes the gated frame scores of a stream block by block and gives the
events whose end is final. On a stream whose gate is constant it gives exactly the events of
:meth:`jointsed.postprocess.params.PostProcessingParams.events` on the whole stream
(tests/streaming/test_incremental_postprocess.py): the same median filters (``scipy.ndimage``'s
rank ``w // 2`` of the window ``t - w//2 … t + w - w//2 - 1``, reflected at the stream's start
and, once it ends, at its end), the same threshold, gap filling and minimum duration.

Per class ``c`` (window ``w``, ``r = w - 1 - w // 2`` frames after ``t``):

1. the median of the gated scores at ``t`` is final when frame ``t + r`` is there;
2. the threshold is immediate; the binary median at ``t`` needs the thresholded ``t + r``;
3. a run of active frames ending at ``e`` is an event once the gap after it is long enough not to
   be filled (``max_gap``) and, if it is long enough (``min_duration``), it is emitted.

So the events of class ``c`` trail the frames fed in by ``2 r_c + ceil(max_gap_c / hop)``
frames; memory is ``O(w_c)`` frames per class, whatever the stream's length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from jointsed.postprocess.apply import frames_shorter_than


class SlidingMedian:
    """Median filter of one stream of values, as ``scipy.ndimage.median_filter`` (mode reflect)
    over the whole stream would give it, output as soon as final."""

    def __init__(self, window: int) -> None:
        self.w = int(window)
        self.left = self.w // 2
        self.right = self.w - 1 - self.left
        self.held = np.zeros(0, dtype=np.float64)  # inputs [b0, n)
        self.b0 = 0
        self.done = 0  # next output frame

    @property
    def n(self) -> int:
        return self.b0 + self.held.shape[0]

    def push(self, values: np.ndarray, last: bool = False) -> np.ndarray:
        """Feed the next inputs; returns the outputs that became final (all remaining if ``last``)."""
        values = np.asarray(values, dtype=np.float64)
        self.held = np.concatenate([self.held, values])
        if self.w <= 1:
            out, self.done = self.held[self.done - self.b0 :].copy(), self.n
            self._trim()
            return out
        n = self.n
        if n == 0:
            return np.zeros(0)
        if not last and (self.b0 == 0 and n < self.w + self.right):
            return np.zeros(0)  # the start's reflection needs the first w frames
        upto = n if last else n - self.right
        if upto <= self.done:
            return np.zeros(0)
        # the held inputs, reflected as numpy's "symmetric" padding at the start and (once last) the end
        padded = np.pad(self.held, (self.left if self.b0 == 0 else 0, self.right if last else 0), mode="symmetric")
        offset = self.b0 - (self.left if self.b0 == 0 else 0)  # frame of padded[0]
        lo = self.done - self.left - offset
        views = np.lib.stride_tricks.sliding_window_view(padded[lo : lo + (upto - self.done) + self.w - 1], self.w)
        out = np.partition(views, self.left, axis=-1)[:, self.left]
        self.done = upto
        self._trim()
        return out

    def _trim(self) -> None:
        keep_from = max(self.b0, self.done - self.left - self.w)  # a margin for the end's reflection
        if keep_from > self.b0 + 4 * self.w + 64:  # drop in batches: O(1) amortised copies
            self.held = self.held[keep_from - self.b0 :].copy()
            self.b0 = keep_from


@dataclass
class StreamEvent:
    """An event of a stream: seconds from the stream's start, ``confidence`` = the largest
    median-filtered score over its frames; ``emitted_frame``: the frames fed in when it was final;
    ``emitted_at``: the seconds of input received when it was emitted (set by the stream)."""

    onset: float
    offset: float
    event_label: str
    confidence: float
    emitted_frame: int = 0
    emitted_at: float = 0.0


class _ClassState:
    def __init__(self, window: int, threshold: float, max_gap: float, min_len: float) -> None:
        self.score_median = SlidingMedian(window)
        self.binary_median = SlidingMedian(window)
        self.threshold = threshold
        self.max_gap, self.min_len = max_gap, min_len
        self.smooth: list[np.ndarray] = []  # median-filtered scores [s0, ...), for confidences
        self.s0 = 0
        self.frame = 0  # next binary output frame
        self.run_start: Optional[int] = None  # current run of active frames
        self.pending: Optional[list[float]] = None  # [start, end, confidence] waiting for its gap

    def confidence(self, start: int, end: int) -> float:
        held = np.concatenate(self.smooth) if len(self.smooth) > 1 else (self.smooth[0] if self.smooth else np.zeros(0))
        self.smooth = [held]
        seg = held[max(0, start - self.s0) : max(0, end - self.s0)]
        return float(seg.max()) if seg.size else 0.0


class IncrementalLin:
    """Incremental :class:`~jointsed.postprocess.params.PostProcessingParams` (see the module docstring).

    Args:
        params: Lin's post-processor (per-class τ, θ, w, min duration, max gap).
        frame_hop: seconds per frame.
    """

    def __init__(self, params: object, frame_hop: float) -> None:
        self.classes = list(params.classes)
        self.frame_hop = float(frame_hop)
        self.tag_threshold = np.asarray(params.tag_threshold, dtype=np.float64)
        self.states = [
            _ClassState(int(params.median_window[c]), float(params.frame_threshold[c]),
                        frames_shorter_than(params.max_gap[c], frame_hop),
                        frames_shorter_than(params.min_duration[c], frame_hop))
            for c in range(len(self.classes))
        ]
        self.fed = 0

    def delay_frames(self, c: int) -> int:
        """Frames between the last frame fed and the latest end of an event of class ``c`` it can emit."""
        s = self.states[c]
        return 2 * s.score_median.right + (max(0, math.ceil(s.max_gap)) if s.max_gap > 0 else 0)

    def earliest_open_frame(self) -> int:
        """The earliest frame at which an event not yet emitted can start."""
        return min((s.pending[0] if s.pending is not None else s.run_start if s.run_start is not None else s.frame)
                   for s in self.states)

    def push(self, frame_scores: np.ndarray, gate_scores: np.ndarray, last: bool = False) -> list[StreamEvent]:
        """Feed frames ``(n, C)`` with their gate (clip) scores ``(n, C)``; events that became final."""
        frame_scores = np.asarray(frame_scores, dtype=np.float64)
        gated = np.where(np.asarray(gate_scores) >= self.tag_threshold, frame_scores, 0.0)
        self.fed += frame_scores.shape[0]
        events: list[StreamEvent] = []
        for c, s in enumerate(self.states):
            smooth = s.score_median.push(gated[:, c], last=last)
            s.smooth.append(smooth)
            active = s.binary_median.push((smooth >= s.threshold).astype(np.float64), last=last) >= 0.5
            events.extend(self._runs(c, s, active, last))
            self._trim(s)
        events.sort(key=lambda e: (e.onset, self.classes.index(e.event_label)))
        return events

    def _runs(self, c: int, s: _ClassState, active: np.ndarray, last: bool) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        t0 = s.frame
        padded = np.concatenate([[s.run_start is not None], active, [False] if last else []]).astype(np.int8)
        change = np.diff(padded)
        starts = list(np.flatnonzero(change == 1) + t0)
        ends = list(np.flatnonzero(change == -1) + t0)
        if s.run_start is not None:
            starts.insert(0, s.run_start)
        s.frame = t0 + active.shape[0]
        s.run_start = starts[len(ends)] if len(starts) > len(ends) else None
        for start, end in zip(starts, ends):
            if s.pending is not None and s.max_gap > 0 and (start - s.pending[1]) < s.max_gap:
                s.pending[1] = end  # a gap shorter than max_gap: joined
                continue
            if s.pending is not None:
                out.extend(self._finish(c, s))
            s.pending = [start, end]
        # the gap after the pending event is already too long to be filled (or nothing can follow)
        if s.pending is not None:
            gap_end = s.frame if s.run_start is None else s.run_start
            if last or s.max_gap <= 0 or gap_end - s.pending[1] >= s.max_gap:
                out.extend(self._finish(c, s))
        return out

    def _finish(self, c: int, s: _ClassState) -> list[StreamEvent]:
        start, end = int(s.pending[0]), int(s.pending[1])
        s.pending = None
        if s.min_len > 0 and (end - start) < s.min_len:
            return []
        return [StreamEvent(start * self.frame_hop, end * self.frame_hop, self.classes[c],
                            s.confidence(start, end), self.fed)]

    @staticmethod
    def _trim(s: _ClassState) -> None:
        # keep the smoothed scores from the earliest frame a future event can start at
        keep = s.frame if s.run_start is None and s.pending is None else (
            s.pending[0] if s.pending is not None else s.run_start)
        if keep - s.s0 > 1024:
            whole = np.concatenate(s.smooth)
            s.smooth = [whole[keep - s.s0 :].copy()]
            s.s0 = keep
