"""Reading audio (jointsed.audio.io) and the feature cache's decoding of long files (issue 11, bad audio)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import jointsed.audio.io as audio_io
from jointsed.audio.cache import FeatureCache
from jointsed.audio.features import FeatureConfig
from jointsed.audio.io import TruncatedAudioWarning, load_audio


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
