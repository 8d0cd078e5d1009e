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


def test_audio_in_subfolders(tmp_path):
    """Filenames are paths relative to the audio folder; bare names of files kept in subfolders
    get the path to write (issue 21 item 1)."""
    audio = tmp_path / "audio"
    (audio / "site1").mkdir(parents=True)
    (audio / "site2").mkdir()
    (audio / "site1" / "a.flac").write_bytes(b"")
    (audio / "site2" / "b.flac").write_bytes(b"")
    (audio / "c.flac").write_bytes(b"")
    check_audio_files(["site1/a.flac", "site2/b.flac", "c.flac"], audio, tmp_path / "meta.tsv")
    with pytest.raises(AnnotationError) as info:
        check_audio_files(["a.flac", "b.flac", "c.flac"], audio, tmp_path / "meta.tsv")
    msg = str(info.value)
    assert "2 of 3 listed audio file(s) missing" in msg
    assert "2 of them are in subfolders, e.g. a.flac is site1/a.flac" in msg
    with pytest.raises(AnnotationError, match="site1/x.flac"):
        check_audio_files(["site1/x.flac"], audio, tmp_path / "meta.tsv")
    with pytest.raises(AnnotationError, match="absolute path"):
        check_audio_files([str(audio / "c.flac")], audio, tmp_path / "meta.tsv")
