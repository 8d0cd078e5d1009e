"""The microphone and device part of the recording chain: what a phone or camera does to a sound.

:func:`record_device` applies, in this order (as in a device: transducer and filters, automatic
gain, level, input stage, converter):

1. band limits: a 2nd-order Butterworth low cut (small membranes, wind filters) and an 8th-order
   high cut (codecs and resampling of online audio cut sharply);
2. ``eq_bands`` peaking EQ bands (RBJ cookbook biquads): the uneven frequency response of a small
   microphone and its casing;
3. sometimes a mild dynamic range compressor (a device's automatic gain control);
4. the recording level (``gain_db``);
5. sometimes soft clipping (an overloaded input: the clip is driven 1-6 dB into a tanh curve);
6. sensor noise (the microphone's and converter's self-noise, a fixed level in dB full scale);
7. a peak limit at -1 dBFS (one gain for the whole clip, as the mixer does), so the 16-bit file
   never clips.
"""

from __future__ import annotations

import numpy as np
from scipy import signal as sps

from jointsed.data.synth.chain_config import RecordingChainConfig
from jointsed.data.synth.dsp import colored_noise, loguniform, rms
from jointsed.data.synth.mixer import DEFAULT_PEAK_LIMIT

EQ_CENTRE_HZ = (300.0, 5000.0)
EQ_Q = (0.7, 2.5)
LOWPASS_ORDER = 8
HIGHPASS_ORDER = 2
CLIPPING_DRIVE_DB = (1.0, 6.0)
COMPRESSION_RATIO = (2.0, 4.0)
COMPRESSION_THRESHOLD_DB = (-6.0, 6.0)  # relative to the clip's RMS level
COMPRESSION_RELEASE_S = (0.05, 0.3)


def peaking_eq_sos(freq: float, gain_db: float, q: float, sample_rate: int) -> np.ndarray:
    """One second-order section (1, 6) of a peaking EQ: ``gain_db`` at ``freq``, bandwidth ``freq / q``
    (R. Bristow-Johnson's audio EQ cookbook)."""
    a = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * np.pi * freq / sample_rate
    alpha = np.sin(w0) / (2.0 * q)
    b = np.array([1.0 + alpha * a, -2.0 * np.cos(w0), 1.0 - alpha * a])
    den = np.array([1.0 + alpha / a, -2.0 * np.cos(w0), 1.0 - alpha / a])
    return np.concatenate([b / den[0], den / den[0]])[None, :]


def band_limit(x: np.ndarray, sample_rate: int, highpass_hz: float, lowpass_hz: float) -> np.ndarray:
    """``x`` through the device's low cut and high cut (the high cut at most 0.45 x sample rate)."""
    high = sps.butter(HIGHPASS_ORDER, highpass_hz, btype="highpass", fs=sample_rate, output="sos")
    low = sps.butter(LOWPASS_ORDER, min(lowpass_hz, 0.45 * sample_rate), btype="lowpass", fs=sample_rate,
                     output="sos")
    return sps.sosfilt(np.concatenate([high, low]), x)


def compress(x: np.ndarray, sample_rate: int, threshold_db: float, ratio: float, release: float) -> np.ndarray:
    """Mild compression: the level (10 ms RMS frames, smoothed over ``release`` s) above
    ``threshold_db`` dB full scale is reduced by ``1 - 1/ratio``; the gain is interpolated between frames."""
    hop = max(1, int(0.01 * sample_rate))
    n_frames = -(-x.size // hop)
    frames = np.pad(x, (0, n_frames * hop - x.size)).reshape(n_frames, hop)
    level_db = 10.0 * np.log10(np.mean(np.square(frames), axis=1) + 1e-12)
    pole = np.exp(-hop / (release * sample_rate))
    level_db = sps.lfilter([1.0 - pole], [1.0, -pole], level_db, zi=[pole * level_db[0]])[0]
    gain_db = -np.maximum(level_db - threshold_db, 0.0) * (1.0 - 1.0 / ratio)
    centres = np.arange(n_frames) * hop + hop / 2
    return x * 10.0 ** (np.interp(np.arange(x.size), centres, gain_db) / 20.0)


def soft_clip(x: np.ndarray, drive_db: float) -> np.ndarray:
    """``x`` driven ``drive_db`` dB past full scale into a tanh curve (output peak below 1)."""
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak == 0.0:
        return x.copy()
    return np.tanh(x * (10.0 ** (drive_db / 20.0) / peak))


def record_device(x: np.ndarray, rng: np.random.Generator, sample_rate: int,
                  config: RecordingChainConfig) -> tuple[np.ndarray, bool]:
    """``x`` as a random device of ``config`` records it (see the module doc for the steps).

    Returns:
        The recorded signal and whether the final peak limit lowered it.
    """
    highpass = float(loguniform(rng, *config.highpass_hz))
    lowpass = float(loguniform(rng, *config.lowpass_hz))
    out = band_limit(np.asarray(x, dtype=np.float64), sample_rate, highpass, lowpass)
    for _ in range(config.eq_bands):
        centre = min(float(loguniform(rng, *EQ_CENTRE_HZ)), 0.4 * sample_rate)
        sos = peaking_eq_sos(centre, rng.uniform(-config.eq_gain_db, config.eq_gain_db),
                             float(loguniform(rng, *EQ_Q)), sample_rate)
        out = sps.sosfilt(sos, out)
    level = rms(out)
    if rng.random() < config.compression_probability and level > 0.0:
        threshold = 20.0 * np.log10(level) + rng.uniform(*COMPRESSION_THRESHOLD_DB)
        out = compress(out, sample_rate, threshold, rng.uniform(*COMPRESSION_RATIO),
                       rng.uniform(*COMPRESSION_RELEASE_S))
    out = out * 10.0 ** (rng.uniform(*config.gain_db) / 20.0)
    if rng.random() < config.clipping_probability:
        out = soft_clip(out, rng.uniform(*CLIPPING_DRIVE_DB))
    noise_level = 10.0 ** (rng.uniform(*config.sensor_noise_dbfs) / 20.0)
    out = out + noise_level * colored_noise(rng, out.size, rng.uniform(0.0, 1.0))
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    if peak > DEFAULT_PEAK_LIMIT:
        return out * (DEFAULT_PEAK_LIMIT / peak), True
    return out, False
