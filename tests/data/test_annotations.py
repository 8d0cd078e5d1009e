"""Annotation tables: the real DESED metadata, every error kind, and writer round trips."""

from __future__ import annotations

from pathlib import Path

import pytest

from jointsed.data.annotations import (
    AnnotationError,
    Event,
    read_durations_tsv,
    read_filenames_tsv,
    read_strong_tsv,
    read_weak_tsv,
    write_durations_tsv,
    write_filenames_tsv,
    write_strong_tsv,
    write_weak_tsv,
)
from jointsed.data.classes import DESED_CLASSES


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


def test_backslash_label_in_a_table_names_the_line(tmp_path):
    table = tmp_path / "t.tsv"
    table.write_text("filename\tonset\toffset\tevent_label\na.wav\t0\t1\tDog\\Cat\n")
    with pytest.raises(AnnotationError, match="line 2.*backslash"):
        read_strong_tsv(table, classes=None)


def test_detection_times_are_written_in_whole_milliseconds(tmp_path):
    from jointsed.data.annotations import DETECTION_DECIMALS

    event = Event("a.wav", 3 * 0.1, 251 * 0.04, "Dog")  # 0.30000000000000004, 10.040000000000001
    write_strong_tsv(tmp_path / "d.tsv", [event], decimals=DETECTION_DECIMALS)
    assert (tmp_path / "d.tsv").read_text().splitlines()[1] == "a.wav\t0.3\t10.04\tDog"
    write_strong_tsv(tmp_path / "exact.tsv", [event])  # labels: exact, they round-trip bit for bit
    assert read_strong_tsv(tmp_path / "exact.tsv").events == [event]
