"""``jointsed evaluate``: files mode and ``--run`` mode as a command (exit codes, what it prints
and writes). The metrics themselves are tested in tests/evaluate and tests/pipeline.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import (
    EVAL_CLASSES,
    EVAL_EMPTY_CLIP,
    EVAL_HOP,
    EVAL_TRUTH,
    VALIDATION_DUR,
    VALIDATION_TSV,
    fresh_run_copy,
    write_eval_dataset,
)
from jointsed.cli import main
from jointsed.data.annotations import Event, read_strong_tsv, write_durations_tsv, write_strong_tsv
from jointsed.data.classes import DESED_CLASSES
from jointsed.evaluate import write_frame_scores


CLASSES, HOP, TRUTH, EMPTY_CLIP = EVAL_CLASSES, EVAL_HOP, EVAL_TRUTH, EVAL_EMPTY_CLIP


@pytest.fixture()
def dataset(tmp_path):
    return write_eval_dataset(tmp_path)


def test_cli_writes_json(dataset, tmp_path, capsys):
    gt, durations = dataset
    predictions = tmp_path / "pred.tsv"
    write_strong_tsv(predictions, TRUTH[:3])
    out = tmp_path / "out" / "results.json"
    assert main(["evaluate", str(gt), "--durations", str(durations),
                 "--predictions", str(predictions), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Event-based F1, macro" in printed and "Alarm_bell_ringing" in printed
    saved = json.loads(out.read_text())
    assert 0 < saved["event_based"]["macro_f1"] < 1
    assert saved["inputs"]["detections"] == str(predictions)
    assert main(["evaluate", str(gt), "--durations", str(durations)]) == 2
    assert "give at least one" in capsys.readouterr().err
    write_strong_tsv(tmp_path / "bad.tsv", [Event("a.wav", 0, 1, "Dog")])
    (tmp_path / "bad.tsv").write_text("filename\tonset\toffset\tevent_label\na.wav\t0\t1\tDogg\n")
    assert main(["evaluate", str(gt), "--durations", str(durations),
                 "--predictions", str(tmp_path / "bad.tsv")]) == 2
    assert "bad.tsv, line 2" in capsys.readouterr().err


def test_predictions_of_clips_outside_the_ground_truth_are_counted(tmp_path, capsys):
    gt, durations, predictions = tmp_path / "gt.tsv", tmp_path / "dur.tsv", tmp_path / "pred.tsv"
    write_strong_tsv(gt, [Event("a.wav", 1.0, 3.0, "Cat")], empty_files=["a.wav", "b.wav"])
    write_durations_tsv(durations, {"a.wav": 10.0, "b.wav": 10.0})
    write_strong_tsv(predictions, [Event("a.wav", 1.0, 3.0, "Cat"), Event("x.wav", 1.0, 2.0, "Dog"),
                                   Event("y.wav", 1.0, 2.0, "Dog")])
    assert main(["evaluate", str(gt), "--durations", str(durations), "--predictions", str(predictions)]) == 0
    err = capsys.readouterr().err
    assert "warning: 2 clip(s) of the predictions are not in the ground truth" in err


def test_frame_scores_short_of_their_clip_are_a_warning(tmp_path, capsys):
    """Durations longer than the frame scores (another set's durations, or scores cut short):
    the rest of the clip has no score, said on stderr."""
    gt, durations, folder = tmp_path / "gt.tsv", tmp_path / "dur.tsv", tmp_path / "scores"
    write_strong_tsv(gt, [Event("a.wav", 1.0, 3.0, "Cat")], empty_files=["b.wav"])
    write_durations_tsv(durations, {"a.wav": 10.0, "b.wav": 10.0})
    rng = np.random.default_rng(0)
    write_frame_scores(folder, {"a.wav": rng.uniform(0, 1, (500, len(DESED_CLASSES))),
                                "b.wav": rng.uniform(0, 1, (250, len(DESED_CLASSES)))}, 0.02, DESED_CLASSES)
    assert main(["evaluate", str(gt), "--durations", str(durations), "--scores", str(folder)]) == 0
    assert "warning: the frame scores of 1 clip(s) end before the clip's duration" in capsys.readouterr().err


def test_detections_after_their_clip_end_are_a_warning(tmp_path, capsys):
    """A short clip padded to the set's length can get detections after its end (the DCASE
    baseline's outputs have them): scored as false positives, and said on stderr."""
    gt, durations, predictions = tmp_path / "gt.tsv", tmp_path / "dur.tsv", tmp_path / "pred.tsv"
    write_strong_tsv(gt, [Event("a.wav", 1.0, 3.0, "Cat")], empty_files=["a.wav", "b.wav"])
    write_durations_tsv(durations, {"a.wav": 10.0, "b.wav": 4.0})
    write_strong_tsv(predictions, [Event("a.wav", 1.0, 3.0, "Cat"), Event("b.wav", 5.0, 9.5, "Dog")])
    assert main(["evaluate", str(gt), "--durations", str(durations), "--predictions", str(predictions)]) == 0
    err = capsys.readouterr().err
    assert "warning: 1 detection(s) end after the end of their clip" in err

def test_cli_evaluate_keeps_the_files_mode_and_checks_modes(tiny_dataset, tmp_path, capsys):
    gt, dur = tiny_dataset / VALIDATION_TSV, tiny_dataset / VALIDATION_DUR
    truth = read_strong_tsv(gt)
    write_frame_scores(tmp_path / "s", {f: np.full((500, 10), 0.3) for f in truth.filenames}, 0.02, DESED_CLASSES)
    assert main(["evaluate", str(gt), "--durations", str(dur), "--scores", str(tmp_path / "s")]) == 0
    assert "PSDS1" in capsys.readouterr().out
    assert main(["evaluate", "--run", str(tmp_path)]) == 2
    assert "--data-root" in capsys.readouterr().err
    assert main(["evaluate", str(gt), "--scores", str(tmp_path / "s")]) == 2
    assert "--durations" in capsys.readouterr().err



def test_cli_evaluate_run_prints_the_table_and_writes_the_eval_folder(trained_run, tiny_dataset, tmp_path, capsys):
    run = fresh_run_copy(trained_run, tmp_path)
    code = main(["evaluate", "--run", str(run), "--data-root", str(tiny_dataset), "--no-progress"])
    assert code == 0
    out = capsys.readouterr().out
    assert "Event-based F1, macro" in out and "PSDS1" in out and "default (Lin et al.)" in out
    assert (run / "eval" / "validation" / "metrics.json").is_file()
