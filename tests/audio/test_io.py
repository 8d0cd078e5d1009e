"""Reading audio (jointsed.audio.io) and the feature cache's decoding of long files (issue 11, bad audio)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import jointsed.audio.io as audio_io
from helpers import peak_frequency, sine
from jointsed.audio import AudioError, audio_info, fix_length
from jointsed.audio.cache import FeatureCache
from jointsed.audio.features import FeatureConfig
from jointsed.audio.io import TruncatedAudioWarning, load_audio
from jointsed.errors import JointsedError


CONFIG = FeatureConfig(clip_duration=2.0)


def _wav(path: Path, seconds: float, sr: int = 16000) -> Path:
    sf.write(path, 0.1 * np.random.default_rng(0).standard_normal(int(seconds * sr)).astype(np.float32), sr,
             subtype="PCM_16")
    return path


def test_cut_short_wav_is_read_with_a_warning(tmp_path):
    full = _wav(tmp_path / "full.wav", 1.0)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full.read_bytes()[: len(full.read_bytes()) // 2])
    with pytest.warns(TruncatedAudioWarning, match="cut short") as record:
        wav = load_audio(cut, 16000)
    assert str(cut) in str(record[0].message)
    assert 0 < wav.shape[0] < 16000
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an intact file: no warning
        assert load_audio(full, 16000).shape == (16000,)


def test_features_decode_only_the_clip_of_a_long_file(tmp_path, monkeypatch, capsys):
    long = _wav(tmp_path / "long.wav", 120.0)
    short = _wav(tmp_path / "short.wav", 1.5)
    decoded: list[int] = []
    real_read = audio_io.sf.SoundFile.read

    def counting_read(self, frames=-1, *args, **kwargs):
        out = real_read(self, frames, *args, **kwargs)
        decoded.append(out.shape[0])
        return out

    monkeypatch.setattr(audio_io.sf.SoundFile, "read", counting_read)
    cache = FeatureCache(tmp_path / "cache", CONFIG)
    report = cache.build([long, short], workers=1, progress=False)
    assert max(decoded) < 3.0 * 16000  # not the whole 120 s
    assert report.cropped == [long] and "1 file(s) longer than the clip, cropped" in report.summary()
    err = capsys.readouterr().err
    assert "longer than the clip" in err and "long.wav" in err
    # the cropped entry equals the first clip_duration seconds of the file
    head = tmp_path / "head.wav"
    sf.write(head, sf.read(long, frames=int(2.0 * 16000), dtype="float32")[0], 16000, subtype="PCM_16")
    np.testing.assert_allclose(cache.get(long), cache.get(head), atol=0.02)


# ----- reading --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "ext,subtype,tol", [(".wav", "PCM_16", 1e-4), (".flac", "PCM_16", 1e-4), (".ogg", "VORBIS", None)]
)
def test_load_formats_same_rate(tmp_path, ext, subtype, tol):
    x = sine(440.0, 16000, 1.0)
    path = tmp_path / f"a{ext}"
    sf.write(path, x, 16000, subtype=subtype)
    y = load_audio(path, 16000)
    assert y.dtype == np.float32 and y.ndim == 1
    assert len(y) == len(x)
    if tol is not None:  # lossless: equal up to 16-bit quantisation
        assert np.max(np.abs(y - x)) < tol
    else:  # lossy: same signal
        assert np.corrcoef(x, y)[0, 1] > 0.99
        assert abs(peak_frequency(y, 16000) - 440.0) < 2.0


def test_stereo_is_averaged_to_mono(tmp_path):
    left, right = sine(300.0, 16000, 0.5), sine(1200.0, 16000, 0.5, amp=0.25)
    path = tmp_path / "st.wav"
    sf.write(path, np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    mono = load_audio(path, 16000)
    np.testing.assert_allclose(mono, (left + right) / 2, atol=1e-6)
    both = load_audio(path, 16000, mono=False)
    assert both.shape == (2, len(left)) and both.dtype == np.float32
    np.testing.assert_allclose(both[1], right, atol=1e-6)


def test_multichannel_average(tmp_path):
    chans = np.stack([np.full(800, v, np.float32) for v in (0.1, 0.2, 0.3, 0.6)], axis=1)
    path = tmp_path / "quad.wav"
    sf.write(path, chans, 8000, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(path, 8000), np.full(800, 0.3), atol=1e-6)


@pytest.mark.parametrize("orig_sr,freq", [(44100, 1000.0), (22050, 3000.0), (8000, 1500.0), (48000, 7000.0)])
def test_resampling_keeps_frequency(tmp_path, orig_sr, freq):
    path = tmp_path / f"s{orig_sr}.wav"
    sf.write(path, np.stack([sine(freq, orig_sr, 2.0)] * 2, axis=1), orig_sr, subtype="PCM_16")
    y = load_audio(path, 16000)
    assert y.dtype == np.float32
    assert abs(len(y) - 32000) <= 1
    assert abs(peak_frequency(y, 16000) - freq) < 1.0  # bin width 0.5 Hz
    # amplitude preserved away from the edges (resampler pass band)
    assert abs(np.abs(y[2000:-2000]).max() - 0.5) < 0.02


def test_offset_and_duration(tmp_path):
    x = np.random.default_rng(0).uniform(-0.5, 0.5, 16000 * 3).astype(np.float32)
    path = tmp_path / "long.wav"
    sf.write(path, x, 16000, subtype="FLOAT")
    seg = load_audio(path, 16000, offset=1.25, duration=0.5)
    np.testing.assert_array_equal(seg, x[20000:28000])
    tail = load_audio(path, 16000, offset=2.5, duration=5.0)  # runs past the end
    np.testing.assert_array_equal(tail, x[40000:])
    path44 = tmp_path / "long44.wav"
    sf.write(path44, sine(500.0, 44100, 3.0), 44100, subtype="FLOAT")
    assert len(load_audio(path44, 16000, offset=1.0, duration=1.0)) == 16000
    with pytest.raises(AudioError, match="past the end"):
        load_audio(path, 16000, offset=3.5)


def test_audio_info(tmp_path):
    path = tmp_path / "i.flac"
    sf.write(path, np.zeros((22050, 2), np.float32), 22050)
    info = audio_info(path)
    assert (info.sample_rate, info.num_frames, info.channels) == (22050, 22050, 2)
    assert info.duration == pytest.approx(1.0)


def test_unusable_files_name_the_file(tmp_path):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt not really a wav file")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    no_frames = tmp_path / "no_frames.wav"
    sf.write(no_frames, np.zeros(0, np.float32), 16000)
    nan = tmp_path / "nan.wav"
    sf.write(nan, np.array([0.0, np.nan, 0.1] * 100, np.float32), 16000, subtype="FLOAT")
    missing = tmp_path / "missing.wav"
    for path, problem in [(corrupt, "cannot read"), (empty, "empty"), (no_frames, "no audio samples"),
                          (nan, "NaN"), (missing, "not found"), (tmp_path, "folder")]:
        with pytest.raises(AudioError, match=problem) as info:
            load_audio(path, 16000)
        assert str(path) in str(info.value)
        assert isinstance(info.value, JointsedError)
        assert info.value.path == path


def test_fix_length():
    x = np.arange(5, dtype=np.float32)
    np.testing.assert_array_equal(fix_length(x, 3), [0, 1, 2])
    np.testing.assert_array_equal(fix_length(x, 7), [0, 1, 2, 3, 4, 0, 0])
    assert fix_length(x, 5) is x
    assert fix_length(x, 7).dtype == np.float32
    assert fix_length(np.ones((2, 4), np.float32), 6).shape == (2, 6)
    assert fix_length(np.ones((2, 4), np.float32), 6)[:, 4:].sum() == 0


@pytest.mark.parametrize("rate", [1, 3999])
def test_a_sample_rate_too_low_for_detection_is_refused(tmp_path, rate):
    """Issue 22: a 1-Hz wav was resampled to a few samples and scored without a word."""
    from jointsed.audio.stream import stream_mono

    path = tmp_path / "low.wav"
    sf.write(path, np.zeros(10 * rate, np.float32), rate)
    for read in (lambda: load_audio(path, 16000), lambda: audio_info(path), lambda: list(stream_mono(path, 16000))):
        with pytest.raises(AudioError, match=f"low.wav: sample rate {rate} Hz: too low .*at least 4000 Hz"):
            read()
    sf.write(path, np.zeros(4000, np.float32), 4000)
    assert len(load_audio(path, 16000)) == 16000  # the lowest rate allowed still reads
