"""Labels in other formats to DESED's tables: CSV with other column names, Audacity label
tracks, Raven selection tables, a DataFrame (jointsed.data.label_import, ``jointsed
import-labels``; issue 21 item 1)."""

from __future__ import annotations

import pandas as pd
import pytest

from jointsed.cli import main
from jointsed.data.annotations import AnnotationError, Event, read_strong_tsv, read_weak_tsv
from jointsed.data.label_import import from_dataframe, read_audacity, read_raven, read_table


def test_csv_with_other_columns_round_trips_through_the_cli(tmp_path, capsys):
    labels = tmp_path / "labels.csv"
    labels.write_text("file,start,end,label,annotator\n"
                      "site1/a.flac,1.5,3.25,siren,ann\n"
                      "site1/a.flac,4,6,hum,ann\n"
                      "site2/b.flac,,,,ann\n"
                      "c.flac,0.5,2,\"siren\",bob\n")
    strong, weak = tmp_path / "out" / "strong.tsv", tmp_path / "out" / "weak.tsv"
    assert main(["import-labels", str(labels), "--columns", "file,start,end,label",
                 "--strong", str(strong), "--weak", str(weak)]) == 0
    assert "3 event(s) of 2 class(es) (hum, siren) in 3 clip(s) (1 without events)" in capsys.readouterr().out
    read = read_strong_tsv(strong, None)
    assert read.events == [Event("site1/a.flac", 1.5, 3.25, "siren"), Event("site1/a.flac", 4.0, 6.0, "hum"),
                           Event("c.flac", 0.5, 2.0, "siren")]
    assert set(read.filenames) == {"site1/a.flac", "site2/b.flac", "c.flac"}
    assert read_weak_tsv(weak, None).labels == {"site1/a.flac": ("siren", "hum"), "site2/b.flac": (),
                                                "c.flac": ("siren",)}
    # outputs are not replaced without --force; bad rows name the file and line, nothing is written
    before = strong.read_text()
    assert main(["import-labels", str(labels), "--columns", "file,start,end,label", "--strong", str(strong)]) == 2
    assert "exists; give --force" in capsys.readouterr().err
    labels.write_text("file,start,end,label\na.flac,3,2,siren\n")
    assert main(["import-labels", str(labels), "--columns", "file,start,end,label",
                 "--strong", str(strong), "--force"]) == 2
    assert "labels.csv, line 2: onset 3 is after offset 2" in capsys.readouterr().err
    assert strong.read_text() == before
    assert main(["import-labels", str(labels), "--strong", str(strong), "--force"]) == 2
    assert "missing column(s) filename, onset, offset, event_label" in capsys.readouterr().err


def test_table_errors_name_file_and_line(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("f,s,e,l\na.wav,0,1,x\na.wav,zero,1,x\n")
    with pytest.raises(AnnotationError, match=r"t.csv, line 3: onset 'zero' is not a number"):
        read_table(table, "f,s,e,l")
    table.write_text("f,s,e,l\na.wav,0,1,x\na.wav,1,1,x\n")
    with pytest.raises(AnnotationError, match=r"t.csv, line 3: a point label"):
        read_table(table, "f,s,e,l")
    table.write_text("f,s,e,l\na.wav,0,1,x\n")
    with pytest.raises(AnnotationError, match=r"t.csv, line 2: unknown label 'x'; valid labels: y"):
        read_table(table, "f,s,e,l", classes=["y"])


def test_audacity_label_tracks(tmp_path, capsys):
    folder = tmp_path / "labels"
    folder.mkdir()
    (folder / "rec1.txt").write_text("1.000000\t2.500000\tsiren\n\\\t300.0\t4000.0\n3.2\t4.0\tdog bark\n")
    (folder / "rec2.txt").write_text("")
    read = read_audacity(sorted(folder.iterdir()), audio_extension="flac")
    assert read.events == [Event("rec1.flac", 1.0, 2.5, "siren"), Event("rec1.flac", 3.2, 4.0, "dog bark")]
    assert read.filenames == ["rec1.flac", "rec2.flac"]
    strong = tmp_path / "strong.tsv"
    assert main(["import-labels", str(folder), "--audio-extension", ".flac", "--strong", str(strong)]) == 0
    assert "from 2 audacity file(s)" in capsys.readouterr().out
    assert read_strong_tsv(strong, None).filenames == ["rec1.flac", "rec2.flac"]
    (folder / "rec2.txt").write_text("1.0\t1.0\tclick\n")  # a point label
    with pytest.raises(AnnotationError, match=r"rec2.txt, line 1: a point label"):
        read_audacity([folder / "rec2.txt"])
    # --audio: every labelled file must exist (paths relative to the folder)
    audio = tmp_path / "audio"
    audio.mkdir()
    (audio / "rec1.flac").write_bytes(b"")
    (folder / "rec2.txt").write_text("")
    assert main(["import-labels", str(folder), "--audio-extension", ".flac", "--strong", str(strong),
                 "--force", "--audio", str(audio)]) == 2
    assert "1 of 2 listed audio file(s) missing" in capsys.readouterr().err


RAVEN = ("Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\tSpecies\n"
         "1\tWaveform 1\t1\t0.5\t1.75\t0\t0\twren\n"
         "1\tSpectrogram 1\t1\t0.5\t1.75\t2000\t8000\twren\n"
         "2\tSpectrogram 1\t1\t3.0\t4.5\t1000\t3000\trobin\n")


def test_raven_selection_tables(tmp_path):
    table = tmp_path / "dawn.Table.1.selections.txt"
    table.write_text(RAVEN)
    read = read_raven([table])
    assert read.events == [Event("dawn.wav", 0.5, 1.75, "wren"), Event("dawn.wav", 3.0, 4.5, "robin")]
    with pytest.raises(AnnotationError, match="no label column Annotation"):
        read_raven([table], label_column="Annotation")
    multi = tmp_path / "multi.txt"
    multi.write_text("Selection\tBegin Time (s)\tEnd Time (s)\tBegin File\tFile Offset (s)\tAnnotation\n"
                     "1\t12.0\t13.5\tA.wav\t2.0\tcall\n"
                     "2\t25.0\t26.0\tsub/B.wav\t5.0\tsong\n")
    assert read_raven([multi]).events == [Event("A.wav", 2.0, 3.5, "call"), Event("B.wav", 5.0, 6.0, "song")]
    # the CLI guesses the format from the header
    strong = tmp_path / "strong.tsv"
    assert main(["import-labels", str(table), "--strong", str(strong)]) == 0
    assert [e.event_label for e in read_strong_tsv(strong, None).events] == ["wren", "robin"]


def test_dataframe(tmp_path):
    frame = pd.DataFrame({"clip": ["a.wav", "a.wav", "b.wav"], "t0": [0.0, 2.0, None],
                          "t1": [1.0, 3.0, None], "cls": ["beep", "hum", None]})
    read = from_dataframe(frame, ["clip", "t0", "t1", "cls"])
    assert read.events == [Event("a.wav", 0.0, 1.0, "beep"), Event("a.wav", 2.0, 3.0, "hum")]
    assert read.filenames == ["a.wav", "b.wav"]
    frame.loc[1, "t1"] = -1.0
    with pytest.raises(AnnotationError, match=r"DataFrame row 1: offset -1.0 is not a time"):
        from_dataframe(frame, ["clip", "t0", "t1", "cls"])
    with pytest.raises(AnnotationError, match="missing column"):
        from_dataframe(frame)


def test_folder_of_tables_and_mixed_formats(tmp_path, capsys):
    folder = tmp_path / "labels"
    folder.mkdir()
    (folder / "part1.csv").write_text("filename,onset,offset,event_label\na.wav,0,1,beep\n")
    (folder / "part2.csv").write_text("filename,onset,offset,event_label\nb.wav,2,3,hum\n")
    strong = tmp_path / "strong.tsv"
    assert main(["import-labels", str(folder), "--strong", str(strong)]) == 0
    assert read_strong_tsv(strong, None).filenames == ["a.wav", "b.wav"]
    (folder / "rec.txt").write_text("1\t2\tbeep\n")
    assert main(["import-labels", str(folder), "--strong", str(strong), "--force"]) == 2
    assert "convert one format per call" in capsys.readouterr().err
