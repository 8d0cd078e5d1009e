"""Streaming detection: events of an audio stream as they become final, with bounded latency and
bounded memory (``jointsed stream``, :meth:`jointsed.inference.Detector.stream`).

Per block of input (mono float32 at the model's rate, any block size):

1. **features**: log-mel frame ``t`` needs the samples up to ``(t + 1) * hop + pad_right``
   (its STFT window); it is computed from a segment of samples around it, so every frame equals
   the whole-stream log-mel's (the zero padding only at the stream's ends);
2. **frame scores**: the time-local frame network (Lin's PS, ``left + right`` frames of context)
   runs on the new frames plus their context: frame ``t`` is final once frame ``t + right`` is
   there, and equals the network run over the whole stream at once (no window edges inside);
3. **clip gating**: the clip network (PT) runs every ``teacher_hop`` seconds on the last training
   clip of features (at the stream's start, the features so far, padded with silence as a short
   file is). ``gating="event"`` (default): an event of class ``c``, once final, is kept when the
   largest clip score of ``c`` among the evaluations ending in ``(onset, offset + lookahead]``
   reaches ``c``'s tag threshold (offline ``jointsed predict`` gates a whole file by its largest
   clip score over all windows; an event is gated by the windows that saw it, plus
   ``lookahead`` seconds of future: the setting that trades latency for accuracy).
   ``gating="frame"``: each frame ``t`` is gated before the median filter by the evaluations
   ending in ``(t - clip, t + lookahead]`` (Lin's frame zeroing made local; measured worse);
4. **post-processing**: the run's Lin post-processing, incrementally
   (:class:`~jointsed.streaming.postprocess.IncrementalLin`); with a constant gate both gatings
   give exactly Lin's events.

Latency of class ``c`` (from the end of an event in the input to its emission, compute time not
counted), in frames: event gating ``max(right + 2 r_c + gap_c, lookahead + 1) + 1``, frame gating
``max(right, lookahead + 1) + 2 r_c + gap_c + 1``; plus ``pad_right`` samples and up to one
``step`` (the networks run every ``step`` seconds). ``right``: the frame network's look-ahead,
``r_c = w_c - 1 - w_c // 2`` of the class's median window, ``gap_c`` its ``max_gap`` in frames
(:meth:`StreamingDetector.latency`). Memory: a clip of features, ``O(w_c)`` frames per class, the
clip evaluations since the earliest event not yet released (at most :data:`MAX_EVALUATIONS`).

Differences from offline predict (tests/streaming/ state them): no window-edge averaging of frame
scores (offline averages overlapping windows, whose edges see zero padding), and the gating above.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Optional, Union

import numpy as np

from jointsed.streaming.engines import Engine, StreamingError, engine_of, lin_params
from jointsed.streaming.postprocess import IncrementalLin, StreamEvent

__all__ = ["StreamEvent", "StreamFrames", "StreamingDetector"]

#: clip-network evaluations kept at most (an event longer than this many teacher hops is gated by
#: the evaluations of its last part: bounded memory whatever the stream)
MAX_EVALUATIONS = 3600


@dataclass
class StreamFrames:
    """Frame scores of the frame network for frames ``[start, start + len(scores))``."""

    start: int
    scores: np.ndarray


class StreamingDetector:
    """See the module docstring.

    Args:
        detector: a :class:`jointsed.inference.Detector` (``from_checkpoint``) or an
            :class:`jointsed.export.runtime.OnnxDetector`.
        lookahead: seconds of future the clip gating waits for (0: the recent past only).
        teacher_hop: seconds between two evaluations of the clip network.
        step: seconds of input between two runs of the networks (smaller: lower latency, more
            calls).
        frame_scores: also yield :class:`StreamFrames`.
        gating: "event" (default): an event of class ``c`` is kept when the largest clip score of
            ``c`` over the evaluations ending in ``(onset, offset + lookahead]`` reaches its tag
            threshold; "frame": each frame is gated before the median filter by the evaluations
            ending in ``(t - clip, t + lookahead]`` (Lin's frame zeroing, made local).
    """

    def __init__(self, detector: Any, lookahead: float = 2.0, teacher_hop: float = 1.0, step: float = 0.25,
                 frame_scores: bool = False, gating: str = "event") -> None:
        self.engine: Engine = engine_of(detector)
        e = self.engine
        for name, value, low in (("lookahead", lookahead, 0.0), ("teacher_hop", teacher_hop, None),
                                 ("step", step, None)):
            if not (isinstance(value, (int, float)) and math.isfinite(value)) or (value < 0 if low == 0.0 else value <= 0):
                raise StreamingError(f"{name} must be a {'non-negative' if low == 0.0 else 'positive'} number of "
                                     f"seconds, got {value!r}")
        if gating not in ("event", "frame"):
            raise StreamingError(f"gating must be 'event' or 'frame', got {gating!r}")
        self.gating = gating
        self.params = lin_params(e.params)
        self.lookahead = int(round(lookahead / e.frame_hop))
        self.teacher_hop = max(1, int(round(teacher_hop / e.frame_hop)))
        self.step_samples = max(1, int(round(step * e.sample_rate)))
        self.frame_scores = frame_scores
        self.pad_left = (e.n_fft - e.hop_length) // 2
        self.pad_right = e.n_fft - e.hop_length - self.pad_left
        self.context = -(-e.n_fft // e.hop_length)  # frames of samples kept before the next frame
        silence = e.logmel(np.zeros((self.context * 2 + 2) * e.hop_length, dtype=np.float32))
        self.silence = silence[self.context]  # a frame of a zero-padded file's padding

    # ----- latency --------------------------------------------------------------------------------
    def latency(self) -> list[dict[str, Any]]:
        """Per class: the largest delay (s) between the end of an event in the input and its
        emission, compute time not counted (see the module docstring), and its parts."""
        e = self.engine
        lin = IncrementalLin(self.params, e.frame_hop)
        rows = []
        for c, name in enumerate(e.classes):
            if self.gating == "frame":
                frames = max(e.halo[1], self.lookahead + 1) + 1 + lin.delay_frames(c)
            else:  # the event is final after the post-processing, its gate after the lookahead
                frames = max(e.halo[1] + lin.delay_frames(c), self.lookahead + 1) + 1
            rows.append({"class": name, "frames": frames, "median_window": int(self.params.median_window[c]),
                         "seconds": frames * e.frame_hop + self.pad_right / e.sample_rate
                         + self.step_samples / e.sample_rate})
        return rows

    # ----- the stream -----------------------------------------------------------------------------
    def run(self, chunks: Iterable[np.ndarray]) -> Iterator[Union[StreamEvent, StreamFrames]]:
        """Events (and, with ``frame_scores``, frame blocks) of the stream ``chunks`` (mono
        float32 samples at the model's rate), each as soon as it is final."""
        st = _State(self)
        for chunk in chunks:
            chunk = np.asarray(chunk, dtype=np.float32).reshape(-1)
            if chunk.size and not np.isfinite(chunk).all():
                raise StreamingError(f"the stream holds NaN or infinite samples (near {st.n / self.engine.sample_rate:.2f} s)")
            st.add(chunk)
            if st.n - st.last_step >= self.step_samples:
                yield from st.advance(last=False)
        yield from st.advance(last=True)


class _State:
    """The buffers of one stream (bounded: see the module docstring)."""

    def __init__(self, sd: StreamingDetector) -> None:
        self.sd, self.e = sd, sd.engine
        self.samples = np.zeros(0, dtype=np.float32)
        self.s0 = 0  # absolute index of samples[0]
        self.n = 0  # samples received
        self.last_step = 0
        self.feats = np.zeros((0, sd.silence.shape[0]), dtype=np.float32)
        self.f0 = 0  # frame of feats[0]
        self.nf = 0  # frames computed
        self.frames = np.zeros((0, len(self.e.classes)), dtype=np.float32)
        self.g0 = 0  # frame of frames[0] (= frames handed to the post-processing)
        self.ns = 0  # frame scores computed
        self.evals: deque[tuple[int, np.ndarray]] = deque()
        self.lin = IncrementalLin(sd.params, self.e.frame_hop)
        self.held: list[StreamEvent] = []  # event gating: final events waiting for their gate
        self.tau = np.asarray(sd.params.tag_threshold, dtype=np.float64)

    def add(self, chunk: np.ndarray) -> None:
        self.samples = np.concatenate([self.samples, chunk])
        self.n += chunk.shape[0]

    def _features(self, last: bool) -> None:
        e, h, k = self.e, self.e.hop_length, self.sd.context
        upto = self.n // h if last else max(0, (self.n - self.sd.pad_right) // h)
        upto = min(upto, self.n // h)
        if upto <= self.nf:
            return
        a, b = (self.nf - k) * h, upto * h + self.sd.pad_right
        seg = np.zeros(b - a, dtype=np.float32)
        lo, hi = max(a, self.s0), min(b, self.s0 + self.samples.shape[0])
        seg[lo - a : hi - a] = self.samples[lo - self.s0 : hi - self.s0]
        new = e.logmel(seg)[k : k + upto - self.nf]
        self.feats = np.concatenate([self.feats, new])
        self.nf = upto
        drop = max(0, (self.nf - k) * h - self.s0)  # samples no later frame needs
        if drop > 0:
            self.samples, self.s0 = self.samples[drop:], self.s0 + drop

    def _frame_scores(self, last: bool) -> Optional[np.ndarray]:
        left, right = self.e.halo
        upto = self.nf if last else self.nf - right
        if upto <= self.ns:
            return None
        a0 = max(0, self.ns - left)
        x = self.feats[a0 - self.f0 : min(self.nf, upto + right) - self.f0]
        out = self.e.frames(x)[self.ns - a0 : upto - a0].astype(np.float32)
        self.frames = np.concatenate([self.frames, out])
        start, self.ns = self.ns, upto
        return out if self.sd.frame_scores else None

    def _teacher(self, last: bool) -> None:
        window = self.e.window
        due = not self.evals or self.nf - self.evals[-1][0] >= self.sd.teacher_hop
        if self.nf == 0 or not (due or (last and self.evals[-1][0] != self.nf)):
            return
        lo = max(0, self.nf - window)
        x = self.feats[lo - self.f0 : self.nf - self.f0]
        if x.shape[0] < window:  # the stream's start: padded at the end, as a short file is
            x = np.concatenate([x, np.broadcast_to(self.sd.silence, (window - x.shape[0], x.shape[1]))])
        self.evals.append((self.nf, self.e.clips(x[None])[0]))

    def _gates(self, upto: int) -> np.ndarray:
        """Gate scores of frames ``[g0, upto)``: max over evaluations ending in ``(t - clip, t + lookahead]``."""
        window, ahead = self.e.window, self.sd.lookahead
        ends = np.array([end for end, _ in self.evals])
        scores = np.stack([s for _, s in self.evals])
        t = np.arange(self.g0, upto)[:, None]
        inside = (ends[None, :] > t - window) & (ends[None, :] <= t + ahead)
        gate = np.where(inside[:, :, None], scores[None], -np.inf).max(axis=1)
        empty = ~inside.any(axis=1)
        if empty.any():  # before the first evaluation's reach: the first one after the frame
            after = ends[None, :] > t[empty]
            gate[empty] = scores[np.argmax(after, axis=1)]
        return gate

    def advance(self, last: bool) -> Iterator[Union[StreamEvent, StreamFrames]]:
        self.last_step = self.n
        if last and self.n // self.e.hop_length == 0:
            return  # shorter than one frame: no frame, no event (as offline: N // hop frames)
        self._features(last)
        start = self.ns
        out = self._frame_scores(last)
        if out is not None:
            yield StreamFrames(start, out)
        self._teacher(last)
        frame_gating = self.sd.gating == "frame"
        upto = self.ns if (last or not frame_gating) else min(self.ns, self.nf - self.sd.lookahead)
        n_classes = len(self.e.classes)
        events: list[StreamEvent] = []
        if upto > self.g0 and self.evals:
            gates = self._gates(upto) if frame_gating else np.full((upto - self.g0, n_classes), np.inf)
            events = self.lin.push(self.frames[: upto - self.g0], gates, last=last)
            self.frames = self.frames[upto - self.g0 :]
            self.g0 = upto
        elif last:
            events = self.lin.push(np.zeros((0, n_classes)), np.zeros((0, n_classes)), last=True)
        if not frame_gating:
            self.held.extend(events)
            events = self._release(last)
        for ev in events:
            ev.emitted_at = self.n / self.e.sample_rate
            yield ev
        self._trim()

    def _release(self, last: bool) -> list[StreamEvent]:
        """Held events whose gate is known: kept when the clip score of their class over the
        evaluations ending in ``(onset, offset + lookahead]`` reaches the tag threshold."""
        hop, ahead = self.e.frame_hop, self.sd.lookahead
        ends = np.array([end for end, _ in self.evals])
        out, keep = [], []
        for ev in self.held:
            on, off = round(ev.onset / hop), round(ev.offset / hop)
            if not last and self.nf < off + ahead:
                keep.append(ev)
                continue
            c = self.e.classes.index(ev.event_label)
            inside = np.flatnonzero((ends > on) & (ends <= off + ahead))
            if inside.size == 0:  # no evaluation ended inside: the next one (at the end: the last)
                later = np.flatnonzero(ends > off + ahead)
                if later.size == 0 and not last:
                    keep.append(ev)
                    continue
                inside = later[:1] if later.size else np.array([len(ends) - 1])
            if max(self.evals[i][1][c] for i in inside) >= self.tau[c]:
                out.append(ev)
        self.held = keep
        return sorted(out, key=lambda e: (e.onset, self.e.classes.index(e.event_label)))

    def _trim(self) -> None:
        window = self.e.window
        keep = min(self.ns - self.e.halo[0], self.nf - window)
        if keep - self.f0 > window:
            self.feats, self.f0 = self.feats[keep - self.f0 :], keep
        # evaluations a frame (frame gating) or an event not yet released (event gating) may use
        oldest = self.g0 - window
        if self.sd.gating == "event":
            oldest = min([self.lin.earliest_open_frame(), *(round(e.onset / self.e.frame_hop) for e in self.held)])
        while len(self.evals) > 1 and (self.evals[1][0] <= oldest or len(self.evals) > MAX_EVALUATIONS):
            self.evals.popleft()
