"""Signal-processing building blocks of the synthetic sound generators (:mod:`.generators`).

Random draws (:func:`loguniform`), levels (:func:`rms`, :func:`unit_rms`), noise and smooth
random curves, Butterworth filters and resonators, harmonic sources with formants, and envelopes
(bursts, attack-decay, raised-cosine edges). Everything random draws from the ``rng`` it is given.
"""

from __future__ import annotations

import numpy as np
from scipy import signal as sps

EPS = 1e-12


def loguniform(rng: np.random.Generator, low: float, high: float, size=None):
    """Log-uniform draw(s) in [low, high] (perceptual quantities: frequencies, rates, decays)."""
    return np.exp(rng.uniform(np.log(low), np.log(high), size))


def rms(x: np.ndarray) -> float:
    """Root mean square of ``x`` (0 for an empty array)."""
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0


def unit_rms(x: np.ndarray) -> np.ndarray:
    return x / (rms(x) + EPS)


def colored_noise(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Gaussian noise (n,) with power spectral density ∝ f^-exponent, unit RMS.

    exponent 0 = white, 1 = pink, 2 = brown; negative values tilt towards high frequencies.
    """
    if n < 8:
        return rng.standard_normal(n)
    half = n // 2 + 1
    spectrum = rng.standard_normal(half) + 1j * rng.standard_normal(half)
    bins = np.arange(half, dtype=np.float64)
    bins[0] = 1.0
    spectrum *= bins ** (-exponent / 2.0)
    spectrum[0] = 0.0
    return unit_rms(np.fft.irfft(spectrum, n))


def smooth_curve(rng: np.random.Generator, n: int, sample_rate: int, rate_hz: float,
                 low: float = 0.0, high: float = 1.0) -> np.ndarray:
    """Random smooth curve (n,) in [low, high]: knots every 1/rate_hz s, raised-cosine interpolation.

    The cosine interpolation is evaluated every 16 samples and linearly interpolated in between.
    """
    step = 16
    coarse = np.arange(0, n + step, step)
    pos = coarse * (rate_hz / sample_rate)
    knots = rng.uniform(low, high, int(pos[-1]) + 2)
    i = pos.astype(np.int64)
    w = 0.5 - 0.5 * np.cos(np.pi * (pos - i))
    return np.interp(np.arange(n), coarse, knots[i] * (1.0 - w) + knots[i + 1] * w)


def _band_edges(sample_rate: int, low: float, high: float) -> tuple[float, float]:
    high = min(high, 0.45 * sample_rate)
    low = max(low, 20.0)
    if low >= 0.8 * high:
        low = 0.5 * high
    return low, high


def bandpass(x: np.ndarray, sample_rate: int, low: float, high: float, order: int = 2) -> np.ndarray:
    low, high = _band_edges(sample_rate, low, high)
    sos = sps.butter(order, [low, high], btype="bandpass", fs=sample_rate, output="sos")
    return sps.sosfilt(sos, x)


def highpass(x: np.ndarray, sample_rate: int, cutoff: float, order: int = 2) -> np.ndarray:
    cutoff = min(max(cutoff, 20.0), 0.45 * sample_rate)
    return sps.sosfilt(sps.butter(order, cutoff, btype="highpass", fs=sample_rate, output="sos"), x)


def lowpass(x: np.ndarray, sample_rate: int, cutoff: float, order: int = 2) -> np.ndarray:
    cutoff = min(max(cutoff, 20.0), 0.45 * sample_rate)
    return sps.sosfilt(sps.butter(order, cutoff, btype="lowpass", fs=sample_rate, output="sos"), x)


def resonator(x: np.ndarray, sample_rate: int, freq: float, decay: float) -> np.ndarray:
    """Two-pole resonator whose impulse response is exp(-t/decay) sin(2π freq t) (unit amplitude)."""
    w = 2.0 * np.pi * freq / sample_rate
    r = np.exp(-1.0 / (decay * sample_rate))
    return sps.lfilter([np.sin(w)], [1.0, -2.0 * r * np.cos(w), r * r], x)


def formant_envelope(freqs: np.ndarray, formants: np.ndarray, bandwidths: np.ndarray) -> np.ndarray:
    """Magnitude of a cascade of formant resonators (unit gain at DC) at ``freqs``.

    Args:
        freqs: (m,) frequencies in Hz.
        formants: (n_formants, m) formant frequencies in Hz (one column per frequency).
        bandwidths: (n_formants,) bandwidths in Hz.
    Returns:
        (m,) magnitudes.
    """
    f2 = freqs[None, :] ** 2
    fc2 = formants**2
    mag = fc2 / np.sqrt((fc2 - f2) ** 2 + (bandwidths[:, None] ** 2) * f2 + EPS)
    return np.prod(mag, axis=0)


def harmonic_voice(rng: np.random.Generator, f0: np.ndarray, sample_rate: int, formants: np.ndarray,
                   bandwidths: np.ndarray, slope: float = 1.0, max_freq: float = 5000.0,
                   control_hop: int = 64) -> np.ndarray:
    """Additive harmonic source with a time-varying pitch and formant envelope.

    Args:
        f0: (n,) fundamental frequency in Hz per sample.
        formants: (n_formants, n) formant tracks in Hz.
        bandwidths: (n_formants,) formant bandwidths in Hz.
        slope: source roll-off, harmonic k has amplitude k^-slope.
        max_freq: highest harmonic frequency (capped at 0.45 * sample_rate: no aliasing).
    Returns:
        (n,) waveform. The envelope is evaluated every ``control_hop`` samples and interpolated.
    """
    n = f0.shape[0]
    phase = 2.0 * np.pi * np.cumsum(f0) / sample_rate
    ctrl = np.arange(0, n, control_hop)
    f0_c = f0[ctrl]
    max_freq = min(max_freq, 0.45 * sample_rate)
    n_harmonics = max(1, int(min(120, max_freq / max(float(f0.min()), 20.0))))
    offsets = rng.uniform(0, 2 * np.pi, n_harmonics)
    harmonic_freqs = np.arange(1, n_harmonics + 1)[:, None] * f0_c[None, :]  # (K, n_ctrl)
    amps = formant_envelope(harmonic_freqs.ravel(), np.tile(formants[:, ctrl], (1, n_harmonics)),
                            bandwidths).reshape(n_harmonics, -1)
    amps *= np.arange(1, n_harmonics + 1)[:, None] ** (-slope)
    amps[harmonic_freqs > max_freq] = 0.0
    audible = amps.max(axis=1) > 1e-3 * amps.max()  # skip harmonics 60 dB below the strongest
    grid = np.arange(n)
    out = np.zeros(n)
    for k in np.flatnonzero(audible):
        out += np.interp(grid, ctrl, amps[k]) * np.sin((k + 1) * phase + offsets[k])
    return out


def motor_tone(rng: np.random.Generator, f0: np.ndarray, sample_rate: int, max_harmonics: int,
               slope: float, max_freq: float) -> np.ndarray:
    """Harmonic motor whine (n,) following ``f0`` (n,), random per-harmonic weights (timbre)."""
    phase = 2.0 * np.pi * np.cumsum(f0) / sample_rate
    max_freq = min(max_freq, 0.45 * sample_rate)
    k_max = int(max(1, min(max_harmonics, max_freq / max(float(f0.max()), 1.0))))
    weights = loguniform(rng, 0.2, 1.0, k_max) * np.arange(1, k_max + 1) ** (-slope)
    offsets = rng.uniform(0, 2 * np.pi, k_max)
    out = np.zeros_like(f0)
    for k in range(1, k_max + 1):
        out += weights[k - 1] * np.sin(k * phase + offsets[k - 1])
    return out


def burst_schedule(rng: np.random.Generator, n: int, sample_rate: int, length_range: tuple[float, float],
                   gap_range: tuple[float, float]) -> list[tuple[int, int]]:
    """Bursts (start, stop) in [0, n) separated by gaps: the first starts at 0, the last ends at n.

    Burst lengths and gaps are drawn uniformly from ``length_range`` and ``gap_range`` (seconds).
    """
    lo, hi = (max(1, int(v * sample_rate)) for v in length_range)
    gap_lo, gap_hi = (max(1, int(v * sample_rate)) for v in gap_range)
    bursts: list[tuple[int, int]] = []
    start = 0
    while True:
        rest = n - start
        if rest <= hi + gap_lo + lo:  # no room for two more bursts: this one runs to the end
            bursts.append((start, n))
            return bursts
        length = int(rng.integers(lo, hi + 1))
        gap = int(rng.integers(gap_lo, gap_hi + 1))
        if start + length + gap + hi > n:  # last pair: the final burst ends exactly at n
            bursts.append((start, start + length))
            last = min(int(rng.integers(lo, hi + 1)), n - start - length - gap_lo)
            bursts.append((n - last, n))
            return bursts
        bursts.append((start, start + length))
        start += length + gap


def attack_decay(length: int, sample_rate: int, attack: float, decay_rate: float) -> np.ndarray:
    """Envelope (length,): linear attack of ``attack`` s then exp(-decay_rate * t / duration)."""
    t = np.arange(length)
    a = max(1, int(attack * sample_rate))
    env = np.exp(-decay_rate * t / max(length, 1))
    env[:a] *= (t[:a] + 1) / a
    return env


def hann_edges(length: int, sample_rate: int, attack: float, release: float) -> np.ndarray:
    """Envelope (length,) = 1 with raised-cosine attack and release."""
    env = np.ones(length)
    a = min(length // 2, max(1, int(attack * sample_rate)))
    r = min(length // 2, max(1, int(release * sample_rate)))
    env[:a] = 0.5 - 0.5 * np.cos(np.pi * (np.arange(a) + 0.5) / a)
    env[length - r:] = 0.5 + 0.5 * np.cos(np.pi * (np.arange(r) + 0.5) / r)
    return env


def impulse_train(n: int, times: np.ndarray, amps: np.ndarray) -> np.ndarray:
    x = np.zeros(n)
    idx = np.clip(times.astype(np.int64), 0, n - 1)
    np.add.at(x, idx, amps)
    return x
