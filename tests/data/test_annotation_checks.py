"""Checks of tables against their clips and of class names (jointsed.data.annotation_checks;
issue 11, bad tables): a label starting after its clip is an error naming the table (before
training), one ending after it a warning with the count; class names the downstream tools cannot
take are refused before any data is loaded.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest

from helpers import GL_RECIPE, TINY_GL, make_numpy_dataset
from jointsed.data.annotation_checks import check_events_within
from jointsed.data.annotations import AnnotationError, AnnotationWarning, Event, StrongAnnotations, read_strong_tsv
from jointsed.training.config import load_recipe
from jointsed.training.phases import train


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
