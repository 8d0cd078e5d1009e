"""Annotation tables: the real DESED metadata, every error kind, and writer round trips."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest

from helpers import GL_RECIPE, TINY_GL, make_numpy_dataset
from jointsed.data.annotations import (
    AnnotationError,
    AnnotationWarning,
    Event,
    StrongAnnotations,
    read_durations_tsv,
    read_filenames_tsv,
    read_strong_tsv,
    read_weak_tsv,
    write_durations_tsv,
    write_filenames_tsv,
    write_strong_tsv,
    write_weak_tsv,
)
from jointsed.data.annotation_checks import check_events_within
from jointsed.data.audio_files import check_audio_files, list_audio_files
from jointsed.data.classes import DESED_CLASSES
from jointsed.training.config import load_recipe
from jointsed.training.phases import train


META = Path("/work/shared/desed_meta")
needs_meta = pytest.mark.skipif(
    not META.is_dir(), reason="real DESED metadata folder /work/shared/desed_meta not available"
)


def _count_data_lines(path: Path) -> int:
    return sum(1 for line in path.read_text().split("\n")[1:] if line)


@needs_meta
def test_weak_tsv_counts():
    weak = read_weak_tsv(META / "weak.tsv")
    assert len(weak.filenames) == 1578
    assert all(weak.labels[name] for name in weak.filenames)
    assert {label for labels in weak.labels.values() for label in labels} == set(DESED_CLASSES)


@needs_meta
def test_validation_tsv_counts():
    val = read_strong_tsv(META / "validation.tsv")
    assert len(val.filenames) == 1168
    assert _count_data_lines(META / "validation.tsv") == 4239
    empty = [name for name, events in val.by_file().items() if not events]
    assert len(empty) == 15
    assert len(val.events) == 4239 - 15
    assert all(e.onset < e.offset for e in val.events)
    frame = val.to_dataframe()
    assert list(frame.columns) == ["filename", "onset", "offset", "event_label"]
    assert len(frame) == len(val.events)


@needs_meta
def test_synthetic2019_counts():
    synth = read_strong_tsv(META / "synthetic2019.tsv")
    assert len(synth.filenames) == 2045
    # the file has 6,032 event rows (and no trailing newline): DESIGN's figure is events, not lines
    assert len(synth.events) == _count_data_lines(META / "synthetic2019.tsv") == 6032
    assert all(synth.by_file().values())


@needs_meta
def test_public_eval_and_unlabelled_counts():
    public = read_strong_tsv(META / "public_eval.tsv")
    assert len(public.filenames) == 692
    names = read_filenames_tsv(META / "unlabel_in_domain.tsv")
    assert len(names) == 14412 == len(set(names))


@needs_meta
def test_real_strong_file_round_trip(tmp_path):
    val = read_strong_tsv(META / "validation.tsv")
    out = tmp_path / "val.tsv"
    write_strong_tsv(out, val.events, empty_files=val.filenames)
    back = read_strong_tsv(out)
    assert back.events == val.events
    assert set(back.filenames) == set(val.filenames)
    assert back.by_file() == val.by_file()


def test_writers_round_trip(tmp_path):
    events = [
        Event("a.wav", 0.0, 1.5, "Speech"),
        Event("a.wav", 0.1 + 0.2, 9.999999999999, "Dog"),
        Event("b.wav", 1 / 3, 2 / 3, "Cat"),
    ]
    write_strong_tsv(tmp_path / "s.tsv", events, empty_files=["c.wav", "a.wav"])
    strong = read_strong_tsv(tmp_path / "s.tsv")
    assert strong.events == events
    assert strong.filenames == ["a.wav", "b.wav", "c.wav"]
    assert strong.by_file()["c.wav"] == []

    labels = {"a.wav": ("Speech", "Dog"), "b.wav": ("Cat",), "c.wav": ()}
    write_weak_tsv(tmp_path / "w.tsv", labels)
    assert read_weak_tsv(tmp_path / "w.tsv").labels == labels

    durations = {"a.wav": 10.0, "b.wav": 7.123456789}
    write_durations_tsv(tmp_path / "d.tsv", durations)
    assert read_durations_tsv(tmp_path / "d.tsv") == durations

    write_filenames_tsv(tmp_path / "f.tsv", ["x.wav", "y.wav"])
    assert read_filenames_tsv(tmp_path / "f.tsv") == ["x.wav", "y.wav"]


def test_float_formats_extra_columns_and_crlf(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_text(
        "event_label\tonset\toffset\tfilename\tindex\r\n"
        "Dog\t0.000\t1.50\ta.wav\t0\r\n"
        "Cat\t2\t3e0\ta.wav\t1\r\n\r\n"
    )
    strong = read_strong_tsv(path)
    assert strong.events == [Event("a.wav", 0.0, 1.5, "Dog"), Event("a.wav", 2.0, 3.0, "Cat")]


def test_custom_classes_and_any_label(tmp_path):
    path = tmp_path / "s.tsv"
    path.write_text("filename\tonset\toffset\tevent_label\na.wav\t0\t1\tBird\n")
    assert read_strong_tsv(path, classes=["Bird"]).events[0].event_label == "Bird"
    assert read_strong_tsv(path, classes=None).events[0].event_label == "Bird"
    with pytest.raises(AnnotationError):
        read_strong_tsv(path)


def test_writer_is_atomic_on_bad_data(tmp_path):
    path = tmp_path / "s.tsv"
    path.write_text("old")
    with pytest.raises(ValueError):
        write_strong_tsv(path, [Event("a.wav", 0, 1, "Dog"), Event("a\tb.wav", 0, 1, "Dog")])
    assert path.read_text() == "old"
    assert list(tmp_path.iterdir()) == [path]


STRONG_HEADER = "filename\tonset\toffset\tevent_label\n"


def _error(tmp_path: Path, text: str, reader=read_strong_tsv, name="bad.tsv") -> str:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(AnnotationError) as info:
        reader(path)
    return str(info.value)


def test_error_unknown_label(tmp_path):
    msg = _error(tmp_path, STRONG_HEADER + "a.wav\t0\t1\tDog\na.wav\t0\t1\tDogg\n")
    assert msg.startswith(f"{tmp_path / 'bad.tsv'}, line 3:")
    assert "'Dogg'" in msg and "Alarm_bell_ringing" in msg and "Vacuum_cleaner" in msg


def test_error_unknown_weak_label(tmp_path):
    msg = _error(tmp_path, "filename\tevent_labels\na.wav\tDog,Speach\n", read_weak_tsv)
    assert "bad.tsv, line 2:" in msg and "'Speach'" in msg and "Speech" in msg


def test_error_onset_not_before_offset(tmp_path):
    msg = _error(tmp_path, STRONG_HEADER + "a.wav\t2.0\t2.0\tDog\n")
    assert "bad.tsv, line 2:" in msg and "onset" in msg and "offset" in msg


def test_error_negative_time(tmp_path):
    msg = _error(tmp_path, STRONG_HEADER + "a.wav\t0\t1\tDog\n\na.wav\t-0.5\t1\tDog\n")
    assert "bad.tsv, line 4:" in msg and "negative onset" in msg


def test_error_missing_column(tmp_path):
    msg = _error(tmp_path, "filename\tonset\tevent_label\na.wav\t0\tDog\n")
    assert "bad.tsv, line 1:" in msg and "offset" in msg
    assert "filename\tonset\toffset\tevent_label" in msg
    msg = _error(tmp_path, "name\tduration\na.wav\t10\n", read_durations_tsv)
    assert "bad.tsv, line 1:" in msg and "filename" in msg


def test_error_non_numeric_time(tmp_path):
    msg = _error(tmp_path, STRONG_HEADER + "a.wav\t0\tten\tDog\n")
    assert "bad.tsv, line 2:" in msg and "'ten'" in msg
    msg = _error(tmp_path, "filename\tduration\na.wav\t10\nb.wav\tnan\n", read_durations_tsv)
    assert "bad.tsv, line 3:" in msg


def test_error_duplicate_header(tmp_path):
    msg = _error(tmp_path, STRONG_HEADER + "a.wav\t0\t1\tDog\n" + STRONG_HEADER)
    assert "bad.tsv, line 3:" in msg and "duplicate header" in msg


def test_error_wrong_number_of_fields(tmp_path):
    msg = _error(tmp_path, STRONG_HEADER + "a.wav\t0\t1\tDog\na.wav 0 1 Dog\n")
    assert "bad.tsv, line 3:" in msg and "expected 4" in msg and "got 1" in msg


def test_error_empty_file(tmp_path):
    for reader in (read_strong_tsv, read_weak_tsv, read_durations_tsv, read_filenames_tsv):
        msg = _error(tmp_path, "\n", reader)
        assert "bad.tsv, line 1:" in msg and "empty file" in msg


def test_error_partially_empty_row(tmp_path):
    msg = _error(tmp_path, STRONG_HEADER + "a.wav\t\t\t\nb.wav\t0\t\tDog\n")
    assert "bad.tsv, line 3:" in msg and "empty offset" in msg


def test_error_duplicate_clip(tmp_path):
    msg = _error(tmp_path, "filename\tevent_labels\na.wav\tDog\na.wav\tCat\n", read_weak_tsv)
    assert "bad.tsv, line 3:" in msg and "line 2" in msg


def test_error_missing_file(tmp_path):
    with pytest.raises(AnnotationError, match="nothere.tsv: file not found"):
        read_strong_tsv(tmp_path / "nothere.tsv")


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


CLASSES = ["Alarm_bell_ringing", "Blender", "Cat", "Dishes"]
SETS = [s for s in TINY_GL if not s.startswith(("features.clip_duration", "data.classes"))] + [
    "features.clip_duration=2.0", f"data.classes=[{','.join(CLASSES)}]", "trainer.max_epochs=1",
    "validation.event_f1=false"]


@pytest.fixture(scope="module")
def small_data(tmp_path_factory) -> Path:
    return make_numpy_dataset(tmp_path_factory.mktemp("tables") / "data", 4, 4, 0, 4, seed=3, classes=CLASSES,
                              clip_seconds=2.0)


def _append_row(table: Path, row: str) -> None:
    table.write_text(table.read_text().rstrip("\n") + "\n" + row + "\n")


@pytest.mark.parametrize("table", ["metadata/train/synthetic.tsv", "metadata/validation/validation.tsv"])
def test_label_starting_after_the_clip_is_an_error(table, small_data, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(small_data, data)
    name = read_strong_tsv(data / table, CLASSES).filenames[1]
    _append_row(data / table, f"{name}\t2.5\t3.0\tCat")  # the clips are 2 s long
    with pytest.raises(AnnotationError, match="start after the end of their clip") as info:
        train(load_recipe(GL_RECIPE, SETS), data, tmp_path / "run", progress=False)
    assert table.split("/")[-1] in str(info.value) and name in str(info.value)
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_label_ending_after_the_clip_is_a_warning_with_the_count(tmp_path):
    events = [Event("a.wav", 0.5, 1.0, "Cat"), Event("a.wav", 1.5, 2.6, "Dog"), Event("b.wav", 1.0, 2.01, "Dog")]
    table = StrongAnnotations(tmp_path / "t.tsv", events, ["a.wav", "b.wav"])
    with pytest.warns(AnnotationWarning, match="1 of 3 event"):
        assert check_events_within(table, 2.0, "test") == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_events_within(table, {"a.wav": 3.0, "b.wav": 3.0}, "test") == 0


@pytest.mark.parametrize("name", ["Dog\\Cat", "Dog\tCat", "Dog,Cat"])
def test_class_names_the_tools_cannot_take_are_refused_up_front(name, tmp_path):
    config = load_recipe(GL_RECIPE, SETS)
    config.data.classes = [*CLASSES[:3], name]
    with pytest.raises(AnnotationError, match="data.classes") as info:
        train(config, tmp_path / "no-data", tmp_path / "run", progress=False)  # no data: refused before loading
    assert repr(name) in str(info.value)


def test_backslash_label_in_a_table_names_the_line(tmp_path):
    table = tmp_path / "t.tsv"
    table.write_text("filename\tonset\toffset\tevent_label\na.wav\t0\t1\tDog\\Cat\n")
    with pytest.raises(AnnotationError, match="line 2.*backslash"):
        read_strong_tsv(table, classes=None)
