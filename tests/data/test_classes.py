"""Class lists of one's own data: given as ``a,b,c`` or a file, or read from the ground truth;
and ``jointsed evaluate`` / ``api.evaluate_files`` in file mode on such classes (issue 21 item 2)."""

from __future__ import annotations

import json

import pytest

from jointsed import api
from jointsed.cli import main
from jointsed.data.annotations import Event, write_durations_tsv, write_strong_tsv
from jointsed.data.classes import DESED_CLASSES, ClassListError, parse_classes, resolve_classes
from jointsed.errors import JointsedError

TRUTH = [Event("a.flac", 1.0, 3.0, "siren"), Event("a.flac", 5.0, 6.0, "hum"),
         Event("b.flac", 0.5, 4.0, "dog_bark"), Event("b.flac", 6.0, 8.0, "siren")]


def test_parse_classes_from_text_file_and_sequence(tmp_path):
    assert parse_classes("siren, hum,dog_bark") == ("siren", "hum", "dog_bark")
    listed = tmp_path / "classes.txt"
    listed.write_text("# my classes\nsiren\n\nhum  # the fridge\n")
    assert parse_classes(str(listed)) == ("siren", "hum")
    assert parse_classes(listed) == ("siren", "hum")
    assert parse_classes(["b", "a"]) == ("b", "a")
    with pytest.raises(ClassListError, match="'hum' is listed twice"):
        parse_classes("hum,siren,hum")
    with pytest.raises(ClassListError, match="empty class name"):
        parse_classes("hum,,siren")
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(ClassListError, match="empty.txt: no class names"):
        parse_classes(str(tmp_path / "empty.txt"))


def test_resolve_classes_defaults_to_desed_or_the_ground_truth(tmp_path):
    desed = tmp_path / "desed.tsv"
    write_strong_tsv(desed, [Event("a.wav", 0, 1, "Dog")], empty_files=["b.wav"])
    assert resolve_classes(None, desed) == (DESED_CLASSES, None)
    own = tmp_path / "own.tsv"
    write_strong_tsv(own, TRUTH)
    classes, note = resolve_classes(None, own)
    assert classes == ("dog_bark", "hum", "siren")
    assert "inferred from the labels of" in note and "--classes" in note
    assert resolve_classes("siren,hum,dog_bark", own) == (("siren", "hum", "dog_bark"), None)


@pytest.fixture()
def own_set(tmp_path):
    gt, durations, predictions = tmp_path / "gt.tsv", tmp_path / "dur.tsv", tmp_path / "pred.tsv"
    write_strong_tsv(gt, TRUTH)
    write_durations_tsv(durations, {"a.flac": 10.0, "b.flac": 10.0})
    # hum and dog_bark found exactly, one of the two sirens missed: siren's event F1 is 2/3
    write_strong_tsv(predictions, TRUTH[1:3] + [Event("b.flac", 6.05, 8.0, "siren")])
    return gt, durations, predictions


def test_cli_evaluate_files_on_own_classes(own_set, tmp_path, capsys):
    gt, durations, predictions = own_set
    out = tmp_path / "m.json"
    assert main(["evaluate", str(gt), "--durations", str(durations), "--predictions", str(predictions),
                 "--json", str(out)]) == 0
    captured = capsys.readouterr()
    assert "note: classes inferred from the labels of" in captured.err
    saved = json.loads(out.read_text())
    assert saved["classes"] == ["dog_bark", "hum", "siren"]
    per_class = saved["event_based"]["per_class"]
    assert per_class["siren"]["f1"] == pytest.approx(2 / 3)
    assert per_class["hum"]["f1"] == pytest.approx(1.0)
    # the order given is the order of the results; a class the truth lacks is listed
    listed = tmp_path / "classes.txt"
    listed.write_text("siren\nhum\ndog_bark\nbeep\n")
    assert main(["evaluate", str(gt), "--durations", str(durations), "--predictions", str(predictions),
                 "--classes", str(listed), "--json", str(out)]) == 0
    assert "note:" not in capsys.readouterr().err
    assert json.loads(out.read_text())["classes"] == ["siren", "hum", "dog_bark", "beep"]
    # a predicted label the ground truth never names, classes inferred: the hint says how to give them
    (tmp_path / "more.tsv").write_text(predictions.read_text() + "a.flac\t8.0\t9.0\tbeep\n")
    assert main(["evaluate", str(gt), "--durations", str(durations), "--predictions",
                 str(tmp_path / "more.tsv")]) == 2
    err = capsys.readouterr().err
    assert "more.tsv, line 5: unknown label 'beep'" in err and "give the full class list with --classes" in err
    # a predicted label outside the given classes: the file and line, exit 2
    assert main(["evaluate", str(gt), "--durations", str(durations), "--predictions", str(predictions),
                 "--classes", "siren,hum"]) == 2
    err = capsys.readouterr().err
    assert "dog_bark" in err and "line" in err and "Traceback" not in err


def test_api_evaluate_files_on_own_classes(own_set):
    gt, durations, predictions = own_set
    inferred = api.evaluate_files(gt, durations, predictions=predictions)
    assert inferred["classes"] == ["dog_bark", "hum", "siren"]
    assert "inferred" in inferred["classes_inferred"]
    given = api.evaluate_files(gt, durations, predictions=predictions, classes=["siren", "hum", "dog_bark"])
    assert given["classes"] == ["siren", "hum", "dog_bark"] and "classes_inferred" not in given
    assert given["event_based"]["macro_f1"] == pytest.approx(inferred["event_based"]["macro_f1"])
    assert given["event_based"]["macro_f1"] == pytest.approx((1 + 1 + 2 / 3) / 3)
    with pytest.raises(JointsedError, match="gt.tsv, line 3: unknown label .hum."):
        api.evaluate_files(gt, durations, predictions=predictions, classes="siren")
