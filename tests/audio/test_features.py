"""The time grid and the log-mel front-end (jointsed.audio.features)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from helpers import sine
from jointsed.audio import FeatureConfig, LogMel, extract_logmel, fix_length, load_audio, mel_filterbank, waveform_to_logmel
from jointsed.audio.features import LOG_EPS
from jointsed.config import ConfigError, from_dict


# ----- config and time grid ------------------------------------------------------------------------
def test_feature_config_defaults_and_grid():
    c = FeatureConfig()
    assert (c.sample_rate, c.n_fft, c.win_length, c.hop_length, c.n_mels) == (16000, 1024, 640, 320, 64)
    assert c.f_min == 0.0 and c.f_max is None and c.f_max_hz == 8000.0 and c.clip_duration == 10.0
    assert c.frame_hop == pytest.approx(0.02)
    assert c.n_frames() == 500
    for n in (0, 1, 319, 320, 321, 639, 640, 16000, 159999, 160000, 160319):
        assert c.n_frames(n) == n // 320


@pytest.mark.parametrize(
    "override,key",
    [({"win_length": 2048}, "win_length"), ({"hop_length": 0}, "hop_length"), ({"hop_length": -3}, "hop_length"),
     ({"n_mels": 0}, "n_mels"), ({"f_max": 9000.0}, "f_max"), ({"f_min": 5000.0, "f_max": 4000.0}, "f_min"),
     ({"clip_duration": 0.0}, "clip_duration"), ({"n_mels": 400}, "n_mels"), ({"sample_rate": 0}, "sample_rate")],
)
def test_feature_config_rejects_nonsense(override, key):
    with pytest.raises(ConfigError, match=key):
        FeatureConfig(**override).validate()
    with pytest.raises(ConfigError, match=key):  # also through the typed loader
        from_dict(FeatureConfig, override, "features")


def test_config_hash_is_stable_and_discriminating():
    base = FeatureConfig().config_hash()
    assert base == FeatureConfig().config_hash()
    assert len(base) == 16
    assert FeatureConfig(f_max=8000.0).config_hash() == base  # same features
    assert FeatureConfig(clip_duration=10).config_hash() == base
    others = {FeatureConfig(n_mels=40).config_hash(), FeatureConfig(hop_length=160).config_hash(),
              FeatureConfig(mel_scale="htk").config_hash(), FeatureConfig(f_min=50.0).config_hash(),
              FeatureConfig(clip_duration=5.0).config_hash(), FeatureConfig(win_length=1024).config_hash()}
    assert base not in others and len(others) == 6


# ----- mel filter bank and LogMel -------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs",
    [{}, {"mel_scale": "htk"}, {"n_mels": 128, "f_min": 20.0, "f_max": 7600.0},
     {"sample_rate": 44100, "n_fft": 2048, "win_length": 1764, "hop_length": 882, "f_min": 50.0, "f_max": 14000.0}],
)
def test_mel_filterbank_matches_librosa(kwargs):
    librosa = pytest.importorskip("librosa")
    c = FeatureConfig(**kwargs)
    fb = mel_filterbank(c)
    ref = librosa.filters.mel(sr=c.sample_rate, n_fft=c.n_fft, n_mels=c.n_mels, fmin=c.f_min, fmax=c.f_max_hz,
                              htk=c.mel_scale == "htk", norm="slaney")
    assert fb.shape == (c.n_fft // 2 + 1, c.n_mels) and fb.dtype == np.float32
    np.testing.assert_allclose(fb, ref.T, rtol=1e-5, atol=1e-7)


def test_logmel_frame_counts_and_batching():
    module = LogMel(FeatureConfig())
    rng = torch.Generator().manual_seed(0)
    for n in (0, 100, 319, 320, 321, 1023, 16000, 32005, 160000):
        out = module(torch.randn(3, n, generator=rng))
        assert out.shape == (3, n // 320, 64), n
        assert out.dtype == torch.float32
    wav = torch.randn(4, 16000, generator=rng)
    batched = module(wav)
    for i in range(4):
        torch.testing.assert_close(module(wav[i]), batched[i], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="shape"):
        module(torch.zeros(1, 2, 3))


def test_logmel_matches_librosa_pipeline():
    librosa = pytest.importorskip("librosa")
    c = FeatureConfig()
    x = np.random.default_rng(1).standard_normal(48000).astype(np.float32) * 0.1
    ours = waveform_to_logmel(x, c)
    # Same grid as documented: pad (n_fft - hop) / 2 zeros each side, no centring.
    padded = np.pad(x, (352, 352))
    power = np.abs(librosa.stft(padded, n_fft=1024, hop_length=320, win_length=640, window="hann",
                                center=False)) ** 2
    ref = np.log(librosa.feature.melspectrogram(S=power, sr=16000, n_mels=64) + 1e-8).T
    assert ours.shape == ref.shape == (150, 64)
    np.testing.assert_allclose(ours, ref, atol=1e-3)


def test_frame_t_is_centred_on_its_interval():
    """A short burst anywhere inside [t*hop, (t+1)*hop) is loudest in frame t.

    (With torch's centre=True frames, centred on t*hop, a burst in the second half of the
    interval would land in frame t + 1.)
    """
    module = LogMel(FeatureConfig())
    for t in (0, 7, 123, 498):
        for start in (10, 150, 290):  # bursts of 20 samples: early, middle, late in the interval
            wav = torch.zeros(160000)
            wav[t * 320 + start : t * 320 + start + 20] = 1.0
            energy = module(wav).exp().sum(-1)
            assert int(energy.argmax()) == t, (t, start)


def test_logmel_sine_lands_in_the_right_band():
    c = FeatureConfig()
    feats = waveform_to_logmel(sine(2000.0, 16000, 1.0), c)
    centres = mel_filterbank(c).argmax(axis=0) * 16000 / 1024  # Hz of each band's peak bin
    band = int(np.median(feats.argmax(axis=1)))
    assert abs(centres[band] - 2000.0) < 100.0
    assert feats.min() >= np.log(1e-8) - 1e-4  # floor of the log


def test_logmel_on_cuda_matches_cpu():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    module = LogMel(FeatureConfig())
    wav = torch.randn(2, 32000)
    torch.testing.assert_close(module.cuda()(wav.cuda()).cpu(), LogMel(FeatureConfig())(wav), rtol=1e-3, atol=1e-3)


def test_extract_logmel_pads_and_crops(tmp_path):
    c = FeatureConfig(clip_duration=2.0)
    short, long_ = tmp_path / "short.wav", tmp_path / "long.wav"
    sf.write(short, sine(800.0, 44100, 0.7), 44100)
    sf.write(long_, np.stack([sine(800.0, 22050, 3.0)] * 2, axis=1), 22050)
    a, b = extract_logmel(short, c), extract_logmel(long_, c)
    assert a.shape == b.shape == (100, 64) and a.dtype == np.float32
    # the padded part of the short clip is silence (log floor); the long clip is cropped, not silent
    assert np.allclose(a[40:], np.log(1e-8), atol=1e-3)
    assert b[-5:].max() > a[-5:].max() + 20
    expected = waveform_to_logmel(fix_length(load_audio(long_, 16000), 32000), c)
    np.testing.assert_array_equal(b, expected)


def test_power_spectrum_keeps_the_bits_of_the_first_formula():
    """The power spectrum is ``re^2 + im^2`` (fast) instead of ``view_as_real(X).pow(2).sum(-1)``
    (FRONTEND_VERSION 1's formula): the same bits, so feature caches written before stay valid
    and FRONTEND_VERSION did not change. Checked on noise plus tones over 12 s."""
    rng = np.random.default_rng(3)
    t = np.arange(12 * 16000) / 16000
    wav = (0.1 * rng.standard_normal(t.size) + 0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    module = LogMel(FeatureConfig())
    x = torch.from_numpy(wav)[None]
    padded = torch.nn.functional.pad(x, (module.pad_left, module.pad_right))
    spec = torch.stft(padded, n_fft=module.n_fft, hop_length=module.hop_length, win_length=module.win_length,
                      window=module.window, center=False, return_complex=True)
    first = torch.view_as_real(spec).pow(2).sum(-1).transpose(1, 2)
    assert torch.equal(module.power_spectrogram(x), first)
    assert torch.equal(module(x), torch.log(first @ module.mel_fb + LOG_EPS))
