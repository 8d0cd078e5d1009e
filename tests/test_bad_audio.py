"""Issue 11, bad audio: cut-short files, long files in the feature cache, skipped files, names
that event tables cannot hold.

Catalogue (case -> behaviour):

* a wav whose data is cut short (header announces more)  -> read, with a TruncatedAudioWarning
  naming the file and what is there (a warning: the audio present is valid)
* ``jointsed features`` on a file longer than the clip  -> only the clip's length is decoded; a
  warning names the cropped files and the summary counts them
* ``jointsed features`` that skipped unusable files  -> files listed, exit status 1 (was 0)
* ``jointsed predict`` on a file whose name holds a tab or a line break  -> error naming it
  (exit 2) before the model is loaded
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import jointsed.audio.io as audio_io
from jointsed.audio.cache import FeatureCache
from jointsed.audio.features import FeatureConfig
from jointsed.audio.io import TruncatedAudioWarning, load_audio
from jointsed.cli import main as cli_main

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


def test_features_exit_status_says_files_were_skipped(tmp_path, capsys):
    good = _wav(tmp_path / "good.wav", 1.0)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt not a wav")
    code = cli_main(["features", str(good), str(bad), "--cache", str(tmp_path / "cache"), "--workers", "1",
                     "--no-progress"])
    assert code == 1
    captured = capsys.readouterr()
    assert "bad.wav" in captured.err and "failed 1" in captured.out
    assert cli_main(["features", str(good), "--cache", str(tmp_path / "cache"), "--workers", "1",
                     "--no-progress"]) == 0


@pytest.mark.parametrize("char", ["\t", "\n"])
def test_tab_or_newline_in_an_audio_name_is_a_message(char, tmp_path, capsys):
    audio = _wav(tmp_path / f"a{char}b.wav", 0.5)
    start = time.perf_counter()
    code = cli_main(["predict", str(tmp_path / "no-model"), str(audio), "--out", str(tmp_path / "p.tsv")])
    assert code == 2
    err = capsys.readouterr().err
    assert "tab or line break" in err and repr(audio.name)[1:-1] in err
    assert time.perf_counter() - start < 5
