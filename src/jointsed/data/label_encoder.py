"""Conversion between labels and network targets: weak multi-hot vectors and frame grids.

Frame convention (shared by the whole toolkit): frame ``t`` covers ``[t * hop, (t + 1) * hop)``
seconds. An event ``[onset, offset)`` covers frames ``round(onset / hop)`` to
``round(offset / hop) - 1`` (rounding half up), and at least one frame (an event shorter than
that gets the one frame holding its midpoint); frames outside ``[0, n_frames)`` are dropped.
Decoding turns each run of active frames ``start .. end - 1`` back into an event
``[start * hop, end * hop)``, so a round trip moves onsets and offsets by at most half a frame
(one frame for events shorter than a frame), apart from clipping to the grid; overlapping or
touching events of one class merge into one.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

from jointsed.data.annotations import AnnotationError, Event


class LabelEncoder:
    """Encode labels for ``classes`` on a grid of ``n_frames`` frames of ``frame_hop`` seconds.

    Args:
        classes: class names; column ``c`` of every target is ``classes[c]``.
        frame_hop: seconds per frame (0.02 s = 320 samples at 16 kHz).
        n_frames: frames per clip (500 for 10 s at 0.02 s).
    """

    def __init__(self, classes: Sequence[str], frame_hop: float = 0.02, n_frames: int = 500):
        if not classes or len(set(classes)) != len(classes):
            raise ValueError(f"classes must be non-empty and unique, got {list(classes)}")
        if not frame_hop > 0:
            raise ValueError(f"frame_hop must be positive, got {frame_hop}")
        if n_frames < 1:
            raise ValueError(f"n_frames must be at least 1, got {n_frames}")
        self.classes: tuple[str, ...] = tuple(classes)
        self.n_classes = len(self.classes)
        self.frame_hop = float(frame_hop)
        self.n_frames = int(n_frames)
        self._index = {name: i for i, name in enumerate(self.classes)}

    def class_index(self, label: str) -> int:
        try:
            return self._index[label]
        except KeyError:
            raise AnnotationError(
                f"unknown label {label!r}; valid labels: {', '.join(self.classes)}"
            ) from None

    def time_to_frame(self, seconds: float) -> int:
        """Nearest frame boundary of a time (round half up), not clipped to the grid."""
        return int(math.floor(seconds / self.frame_hop + 0.5))

    def encode_weak(self, labels: Iterable[str]) -> np.ndarray:
        """Multi-hot clip target, shape ``(C,)`` float32."""
        target = np.zeros(self.n_classes, dtype=np.float32)
        for label in labels:
            target[self.class_index(label)] = 1.0
        return target

    def encode_strong(self, events: Iterable[Event]) -> np.ndarray:
        """Frame targets, shape ``(n_frames, C)`` float32 (1 where the class is active)."""
        target = np.zeros((self.n_frames, self.n_classes), dtype=np.float32)
        for event in events:
            column = self.class_index(event.event_label)
            start = self.time_to_frame(event.onset)
            end = self.time_to_frame(event.offset)
            if end <= start:
                # shorter than a frame: keep the one frame holding its midpoint, so both ends
                # stay within one frame of the truth
                start = int(math.floor((event.onset + event.offset) / 2 / self.frame_hop))
                end = start + 1
            start, end = max(start, 0), min(end, self.n_frames)
            if start < end:
                target[start:end, column] = 1.0
        return target

    def decode_strong(self, active: np.ndarray, filename: str) -> list[Event]:
        """Events from a boolean activity grid.

        Args:
            active: ``(T, C)`` array, true (or non-zero) where class ``c`` is active in frame ``t``.
            filename: clip name written into the events.

        Returns:
            One event per run of active frames, sorted by onset then class order.
        """
        active = np.asarray(active).astype(bool)
        if active.ndim != 2 or active.shape[1] != self.n_classes:
            raise ValueError(f"expected a (T, {self.n_classes}) array, got shape {active.shape}")
        n_frames = active.shape[0]
        # run boundaries: +1 where a run starts, -1 just after it ends
        padded = np.zeros((n_frames + 2, self.n_classes), dtype=np.int8)
        padded[1:-1] = active
        change = np.diff(padded, axis=0)
        found: list[tuple[int, int, int]] = []
        for column in range(self.n_classes):
            starts = np.flatnonzero(change[:, column] == 1)
            ends = np.flatnonzero(change[:, column] == -1)
            found.extend((int(s), column, int(e)) for s, e in zip(starts, ends))
        found.sort()
        return [
            Event(filename, s * self.frame_hop, e * self.frame_hop, self.classes[column])
            for s, column, e in found
        ]
