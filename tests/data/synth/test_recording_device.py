"""The microphone/device part of the recording chain (jointsed.data.synth.device): band limits
remove energy above the cut, EQ bands boost and cut where they say, compression lowers the
loud parts, clipping stays below full scale, the final limit keeps the clip under -1 dBFS."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal as sps

from jointsed.data.synth.chain_config import RecordingChainConfig
from jointsed.data.synth.device import compress, peaking_eq_sos, record_device, soft_clip

SR = 16000
#: a device with only its band limits (no EQ, compression, clipping, and no audible self-noise)
PLAIN = dict(enabled=True, eq_bands=0, compression_probability=0.0, clipping_probability=0.0,
             sensor_noise_dbfs=(-120.0, -120.0), gain_db=(0.0, 0.0))


def _band_db(x: np.ndarray, low: float, high: float) -> float:
    freqs, psd = sps.welch(x, SR, nperseg=1024)
    band = (freqs >= low) & (freqs < high)
    return 10 * np.log10(np.mean(psd[band]))


def test_band_limits_remove_the_energy_above_the_cut():
    noise = 0.05 * np.random.default_rng(0).standard_normal(5 * SR)
    config = RecordingChainConfig(**PLAIN, highpass_hz=(200.0, 200.0), lowpass_hz=(3000.0, 3000.0))
    recorded, limited = record_device(noise, np.random.default_rng(1), SR, config)
    assert not limited and recorded.shape == noise.shape
    # the pass band is kept, the stop bands lose tens of dB (8th-order high cut, 2nd-order low cut)
    assert abs(_band_db(recorded, 600, 2400) - _band_db(noise, 600, 2400)) < 1.5
    assert _band_db(recorded, 4500, 7900) < _band_db(noise, 4500, 7900) - 40
    assert _band_db(recorded, 20, 60) < _band_db(noise, 20, 60) - 15
    # a random device draws its cut inside the range: energy above the highest cut drops too
    config = RecordingChainConfig(**PLAIN, lowpass_hz=(3500.0, 5000.0))
    for seed in range(3):
        recorded, _ = record_device(noise, np.random.default_rng(seed), SR, config)
        assert _band_db(recorded, 6500, 7900) < _band_db(noise, 6500, 7900) - 20


def test_peaking_eq_has_its_gain_at_its_centre():
    for gain in (-9.0, 6.0):
        sos = peaking_eq_sos(1000.0, gain, 1.5, SR)
        freqs, response = sps.sosfreqz(sos, worN=[100.0, 1000.0, 6000.0], fs=SR)
        db = 20 * np.log10(np.abs(response))
        assert db[1] == pytest.approx(gain, abs=0.01) and abs(db[0]) < 1.0 and abs(db[2]) < 1.0


def test_compression_lowers_loud_parts_more_than_quiet_ones():
    t = np.arange(2 * SR) / SR
    x = np.sin(2 * np.pi * 440 * t) * np.where(t < 1.0, 0.01, 0.5)
    y = compress(x, SR, threshold_db=-30.0, ratio=4.0, release=0.05)
    quiet, loud = slice(int(0.3 * SR), int(0.9 * SR)), slice(int(1.3 * SR), int(1.9 * SR))
    gain = lambda part: np.sqrt(np.mean(y[part] ** 2) / np.mean(x[part] ** 2))  # noqa: E731
    assert gain(quiet) == pytest.approx(1.0, abs=0.02)
    assert 20 * np.log10(gain(loud)) < -10  # 0.5 amplitude is ~21 dB above the threshold: ~16 dB less


def test_clipping_and_the_final_limit_keep_the_clip_below_full_scale():
    x = np.random.default_rng(3).standard_normal(SR)
    clipped = soft_clip(x, 6.0)
    assert np.max(np.abs(clipped)) < 1.0 and np.corrcoef(clipped, x)[0, 1] > 0.9
    config = RecordingChainConfig(enabled=True, clipping_probability=1.0, gain_db=(20.0, 20.0))
    recorded, limited = record_device(x, np.random.default_rng(4), SR, config)
    assert limited and np.max(np.abs(recorded)) == pytest.approx(10 ** (-1 / 20))


def test_the_same_draws_give_the_same_device_and_others_another():
    x = np.random.default_rng(5).standard_normal(SR)
    config = RecordingChainConfig(enabled=True)
    a, _ = record_device(x, np.random.default_rng(6), SR, config)
    b, _ = record_device(x, np.random.default_rng(6), SR, config)
    c, _ = record_device(x, np.random.default_rng(7), SR, config)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
