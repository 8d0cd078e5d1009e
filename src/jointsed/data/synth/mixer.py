"""Soundscape mixer: foreground events placed on a background at a target event-to-background ratio.

Definition used throughout jointsed (the quantity scaper calls "SNR"):

    EBR (dB) = 20 log10( RMS(event[start:stop]) / RMS(background[start:stop]) )

where ``[start, stop)`` is the event's labelled span in samples, the event is measured after its
fades, and the background over *the same span* (not the whole clip), so an event keeps its ratio
whatever the background does elsewhere. Other events overlapping the span do not count.

Each event gets raised-cosine fades (default 15 ms, at most a quarter of its length) so it starts
and stops without clicks but still fills its label. When the sum would clip (peak above
``peak_limit``, default -1 dBFS) the whole mixture - background, every event and the mix - is
scaled by one gain: the ratios are unaffected because the scaling is global. Mono only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from jointsed.data.synth.dsp import rms
from jointsed.data.synth.sources import SynthError

DEFAULT_FADE = 0.015  # s
DEFAULT_PEAK_LIMIT = 10 ** (-1 / 20)  # -1 dBFS


@dataclass(frozen=True)
class PlacedEvent:
    """One foreground event to mix: ``signal`` (stop - start,) goes to samples [start, stop)."""

    label: str
    start: int
    stop: int
    signal: np.ndarray
    ebr_db: float


@dataclass
class Soundscape:
    """Result of :func:`mix_soundscape`.

    Attributes:
        mixture: (N,) float64 mono mix.
        background: (N,) background as it is in the mix (after the global gain).
        events: the events as they are in the mix (faded, scaled to their EBR, after the global gain).
        gain: global gain applied to avoid clipping (1.0 when the mix did not need it).
    """

    mixture: np.ndarray
    background: np.ndarray
    events: list[PlacedEvent] = field(default_factory=list)
    gain: float = 1.0

    @property
    def normalised(self) -> bool:
        """True when the mix was peak-normalised to avoid clipping."""
        return self.gain < 1.0

    def stem(self, index: int) -> np.ndarray:
        """Isolated event ``index`` as a full-length (N,) signal, zero outside its span."""
        event = self.events[index]
        out = np.zeros_like(self.mixture)
        out[event.start:event.stop] = event.signal
        return out


def raised_cosine_fades(signal: np.ndarray, sample_rate: int, fade_duration: float = DEFAULT_FADE) -> np.ndarray:
    """Copy of ``signal`` (n,) with raised-cosine fade-in and fade-out of ``fade_duration`` s.

    A fade is at most a quarter of the signal long, and never zero at the first or last sample
    (the half-sample offset), so the sound occupies its whole span.
    """
    out = np.array(signal, dtype=np.float64, copy=True)
    fade = min(int(round(fade_duration * sample_rate)), out.size // 4)
    if fade > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(fade) + 0.5) / fade)
        out[:fade] *= ramp
        out[out.size - fade:] *= ramp[::-1]
    return out


def event_to_background_ratio_db(event: np.ndarray, background: np.ndarray, start: int, stop: int) -> float:
    """EBR in dB of ``event`` against ``background`` over samples [start, stop) (see module doc).

    ``event`` may be the event's own (stop - start,) signal or a full-length stem; ``background``
    is full-length (N,).
    """
    segment = event if event.shape[0] == stop - start else event[start:stop]
    return 20.0 * np.log10(rms(segment) / rms(background[start:stop]))


def mix_soundscape(background: np.ndarray, events: Sequence[PlacedEvent], sample_rate: int,
                   fade_duration: float = DEFAULT_FADE, peak_limit: float = DEFAULT_PEAK_LIMIT) -> Soundscape:
    """Place ``events`` on ``background`` at their target EBRs.

    Args:
        background: (N,) background signal at its final level.
        events: events with spans inside [0, N) and ``ebr_db`` targets; their signals are at any
            level (they are faded, then scaled so that their EBR is exactly ``ebr_db``).
        sample_rate: Hz, for the fade length.
        fade_duration: raised-cosine fade in/out length in seconds.
        peak_limit: the mix is scaled down globally when its peak exceeds this.
    Returns:
        :class:`Soundscape` with the mix and the scaled events.
    Raises:
        SynthError: an event outside the clip, or a silent event / background span (EBR undefined).
    """
    background = np.asarray(background, dtype=np.float64)
    n = background.shape[0]
    mixture = background.copy()
    placed: list[PlacedEvent] = []
    for event in events:
        if not 0 <= event.start < event.stop <= n or event.signal.shape != (event.stop - event.start,):
            raise SynthError(f"{event.label} event [{event.start}, {event.stop}) does not fit a clip of {n} samples")
        faded = raised_cosine_fades(event.signal, sample_rate, fade_duration)
        event_rms, background_rms = rms(faded), rms(background[event.start:event.stop])
        if event_rms == 0.0 or background_rms == 0.0:
            raise SynthError(f"{event.label} event [{event.start}, {event.stop}): "
                             f"{'event' if event_rms == 0.0 else 'background'} is silent, the ratio is undefined")
        scaled = faded * (background_rms / event_rms * 10.0 ** (event.ebr_db / 20.0))
        mixture[event.start:event.stop] += scaled
        placed.append(PlacedEvent(event.label, event.start, event.stop, scaled, event.ebr_db))
    peak = float(np.max(np.abs(mixture))) if n else 0.0
    gain = peak_limit / peak if peak > peak_limit else 1.0
    if gain < 1.0:
        mixture *= gain
        background = background * gain
        placed = [PlacedEvent(e.label, e.start, e.stop, e.signal * gain, e.ebr_db) for e in placed]
    return Soundscape(mixture=mixture, background=background, events=placed, gain=gain)
