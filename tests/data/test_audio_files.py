"""Listing and checking the audio files a table names (jointsed.data.audio_files)."""

from __future__ import annotations

import pytest

from jointsed.data.annotations import AnnotationError
from jointsed.data.audio_files import check_audio_files, list_audio_files


def test_check_audio_files(tmp_path):
    audio = tmp_path / "audio"
    audio.mkdir()
    for name in ("a.wav", "b.WAV", "c.flac", "notes.txt", ".hidden.wav"):
        (audio / name).write_bytes(b"")
    assert [p.name for p in list_audio_files(audio)] == ["a.wav", "b.WAV", "c.flac"]
    check_audio_files(["a.wav", "c.flac"], audio, tmp_path / "meta.tsv")
    missing = [f"m{i}.wav" for i in range(8)]
    with pytest.raises(AnnotationError) as info:
        check_audio_files(["a.wav", *missing], audio, tmp_path / "meta.tsv")
    msg = str(info.value)
    assert "meta.tsv" in msg and "8 of 9" in msg and "m0.wav" in msg and "3 more" in msg
    with pytest.raises(AnnotationError, match="not found"):
        check_audio_files(["a.wav"], tmp_path / "nope", tmp_path / "meta.tsv")
