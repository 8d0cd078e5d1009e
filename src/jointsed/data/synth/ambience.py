"""Richer backgrounds for the recorded splits: the ambience of real homes under the base background.

DESED's real clips come from Audioset (YouTube videos): their backgrounds are whatever the room
had, several things at once and not at a constant level. :func:`recorded_background` mixes
``ambience_layers`` layers of distinct kinds (:data:`AMBIENCE_GENERATORS`: babble of distant
voices, mains hum and buzz, ventilation, wind, street noise, a running appliance) into the clip's
base background (:func:`jointsed.data.synth.generators.background`), each at
``ambience_level_db`` relative to it, and gives the sum a slow level drift (a random smooth
curve, 0.05-0.3 changes per second) of ``background_drift_db`` dB peak to peak. Generators follow :mod:`.generators`:
``generator(rng, n_samples, sample_rate) -> (n_samples,)``, level arbitrary. Each layer lasts the
whole clip, so its noise is white noise shaped by filters (the FFT-made coloured noise of
:func:`~jointsed.data.synth.dsp.colored_noise` costs 3x more and a filter follows anyway).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from jointsed.data.synth.chain_config import AMBIENCE_KINDS, RecordingChainConfig
from jointsed.data.synth.dsp import (
    bandpass,
    loguniform,
    lowpass,
    highpass,
    motor_tone,
    resonator,
    smooth_curve,
    unit_rms,
)

Generator = Callable[[np.random.Generator, int, int], np.ndarray]


def babble(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Distant voices: speech-shaped noise of 3-8 talkers, each with its own syllabic rhythm and
    pauses (no harmonics: far babble is unintelligible)."""
    step = 16  # the talkers' envelopes change at 0.3-6 Hz: drawn at 1/16 of the sample rate
    m = -(-n // step) + 1
    power = np.zeros(m)
    for _ in range(int(rng.integers(3, 9))):
        syllables = smooth_curve(rng, m, sr / step, rng.uniform(3.0, 6.0)) ** 2
        pauses = smooth_curve(rng, m, sr / step, rng.uniform(0.3, 1.0)) > rng.uniform(0.2, 0.5)
        power += (syllables * (0.2 + 0.8 * pauses)) ** 2
    # independent white noises with envelopes e_k sum to one white noise of power sum(e_k^2): one
    # draw instead of one per talker; one speech-shaped filter for the crowd, after the modulation
    # (far slower than the filter's bandwidths, so the order does not matter)
    noise = rng.standard_normal(n) * np.interp(np.arange(n), np.arange(m) * step, np.sqrt(power))
    voices = bandpass(noise, sr, loguniform(rng, 150, 300), loguniform(rng, 2500, 5000))
    return voices + resonator(voices, sr, loguniform(rng, 400, 900), 0.004)  # a first-formant bump


def hum(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Mains hum and buzz: harmonics of 50 or 60 Hz, the odd ones strong when a transformer buzzes."""
    mains = 50.0 if rng.random() < 0.5 else 60.0
    k = np.arange(1, int(rng.integers(4, 16)) + 1)
    k = k[k * mains < 0.45 * sr]
    amps = loguniform(rng, 0.05, 1.0, k.size) / k ** rng.uniform(0.3, 1.2)
    if rng.random() < 0.5:  # buzz
        amps[1::2] *= 0.2
    t = np.arange(min(n, sr // math.gcd(sr, int(mains)))) / sr  # one period of the whole pattern, tiled
    period = amps @ np.sin(2 * np.pi * mains * k[:, None] * t[None, :] + rng.uniform(0, 2 * np.pi, (k.size, 1)))
    return np.tile(period, -(-n // period.size))[:n]


def ventilation(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Ventilation or a fan: low broadband air noise and a faint blade-pass tone."""
    air = lowpass(rng.standard_normal(n), sr, loguniform(rng, 400, 2500))
    blade = loguniform(rng, 40, 200) * (1.0 + 0.01 * smooth_curve(rng, n, sr, 0.5, -1, 1))
    tone = motor_tone(rng, blade, sr, 4, 1.5, 1000)
    return unit_rms(air) + loguniform(rng, 0.05, 0.4) * unit_rms(tone)


def wind(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Wind outside or on the microphone: low-passed noise in gusts."""
    gusts = smooth_curve(rng, n, sr, rng.uniform(0.2, 1.0), 0.1, 1.0) ** 2
    return lowpass(rng.standard_normal(n), sr, loguniform(rng, 150, 800)) * gusts


def street(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Street noise through a window: distant traffic swells and tyre hiss."""
    rumble = lowpass(rng.standard_normal(n), sr, loguniform(rng, 150, 400))
    hiss = bandpass(rng.standard_normal(n), sr, 400, 3000)
    swells = smooth_curve(rng, n, sr, rng.uniform(0.05, 0.3), 0.3, 1.0)
    return (unit_rms(rumble) + rng.uniform(0.1, 0.4) * unit_rms(hiss)) * swells


def appliance(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """A running appliance (fridge compressor, boiler): a steady low motor tone and rattle."""
    f0 = loguniform(rng, 45, 130) * (1.0 + 0.003 * smooth_curve(rng, n, sr, 1.0, -1, 1))
    tone = motor_tone(rng, f0, sr, 6, rng.uniform(0.8, 1.5), 2000)
    rattle = highpass(rng.standard_normal(n), sr, 200) * (0.5 + 0.5 * np.sin(2 * np.pi * np.cumsum(f0) / sr))
    return unit_rms(tone) + loguniform(rng, 0.05, 0.3) * unit_rms(lowpass(rattle, sr, 1500))


AMBIENCE_GENERATORS: dict[str, Generator] = {
    "babble": babble,
    "hum": hum,
    "ventilation": ventilation,
    "wind": wind,
    "street": street,
    "appliance": appliance,
}
assert tuple(AMBIENCE_GENERATORS) == AMBIENCE_KINDS


def recorded_background(base: np.ndarray, rng: np.random.Generator, sample_rate: int,
                        config: RecordingChainConfig) -> tuple[np.ndarray, tuple[str, ...]]:
    """``base`` (any level) with ambience layers and a level drift (see the module doc).

    Returns:
        The background (level arbitrary: the mixer scales it) and the kinds of layer mixed in.
    """
    n = base.shape[0]
    count = int(rng.integers(config.ambience_layers[0], config.ambience_layers[1] + 1))
    kinds = tuple(AMBIENCE_KINDS[i] for i in sorted(rng.choice(len(AMBIENCE_KINDS), count, replace=False)))
    out = unit_rms(base)
    for kind in kinds:
        out = out + 10.0 ** (rng.uniform(*config.ambience_level_db) / 20.0) * unit_rms(
            AMBIENCE_GENERATORS[kind](rng, n, sample_rate))
    drift = smooth_curve(rng, n, sample_rate, rng.uniform(0.05, 0.3))
    span = float(np.ptp(drift)) if n else 0.0
    drift = (drift - drift.min()) / span - 0.5 if span > 0 else np.zeros(n)  # exactly the drift asked for
    return out * 10.0 ** (config.background_drift_db * drift / 20.0), kinds
