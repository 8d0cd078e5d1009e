"""Issue 11, bad tables: labels past the clip, predictions of clips the ground truth lacks, class
names the downstream tools cannot take.

Catalogue (case -> behaviour):

* a strong label that starts after the end of its clip (training or validation table)  -> error
  naming the table, the count and the first events (it is not in the audio, yet would become a
  clip tag)
* a strong label that ends after its clip  -> AnnotationWarning with the count (cut at the end)
* ``evaluate`` with predictions for clips absent from the ground truth  -> stderr warning with
  the count (was only a number in the JSON); ``report`` repeats it in its notes
* a class name with a backslash (sed_scores_eval), tab, line break or comma  -> error naming
  ``data.classes`` before any data is loaded; a table label with a backslash -> error naming the line
* a class name with ``$`` (matplotlib math text)  -> the report draws it as plain text
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest

from conftest import make_numpy_dataset
from jointsed.cli import main as cli_main
from jointsed.data.annotations import (
    AnnotationError,
    AnnotationWarning,
    Event,
    StrongAnnotations,
    check_events_within,
    read_strong_tsv,
    write_durations_tsv,
    write_strong_tsv,
)
from jointsed.training.config import load_recipe
from jointsed.training.phases import train
from test_training import GL_RECIPE, TINY_GL

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


def test_predictions_of_clips_outside_the_ground_truth_are_counted(tmp_path, capsys):
    gt, durations, predictions = tmp_path / "gt.tsv", tmp_path / "dur.tsv", tmp_path / "pred.tsv"
    write_strong_tsv(gt, [Event("a.wav", 1.0, 3.0, "Cat")], empty_files=["a.wav", "b.wav"])
    write_durations_tsv(durations, {"a.wav": 10.0, "b.wav": 10.0})
    write_strong_tsv(predictions, [Event("a.wav", 1.0, 3.0, "Cat"), Event("x.wav", 1.0, 2.0, "Dog"),
                                   Event("y.wav", 1.0, 2.0, "Dog")])
    assert cli_main(["evaluate", str(gt), "--durations", str(durations), "--predictions", str(predictions)]) == 0
    err = capsys.readouterr().err
    assert "warning: 2 clip(s) of the predictions are not in the ground truth" in err


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


def test_dollar_in_a_class_name_is_plain_text_in_the_report(tmp_path, monkeypatch):
    import test_report
    from jointsed.report import build_report

    classes = list(test_report.CLASSES)
    classes[0] = "Price $x^$ alarm"  # matplotlib math text would fail to parse this
    monkeypatch.setattr(test_report, "CLASSES", classes)
    run = test_report.make_fake_run(tmp_path, n_clips=6)
    index = build_report(run, n_clips=1, progress=False)
    assert "Price $x^$ alarm" in index.read_text() or "Price $x^$ alarm".replace("$", "&#x24;") in index.read_text()
