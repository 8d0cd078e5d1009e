"""Issue 22: data accepted without a word. Strong labels against each file's own length,
clips shared by two sets, and ``--resume`` on other data (:mod:`jointsed.training.data_checks`)."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest
import soundfile as sf

from helpers import GL_RECIPE, LEARNABLE_CLASSES, RUN_SETS, TINY_GL, fresh_run_copy, make_numpy_dataset
from jointsed.data.annotations import AnnotationError, AnnotationWarning
from jointsed.training.config import load_recipe
from jointsed.training.data import load_training_set, load_validation_set
from jointsed.training.data_checks import check_training_data
from jointsed.training.errors import TrainingError
from jointsed.training.phases import train

SMALL = TINY_GL + ["data.max_clips_per_set=4"]


@pytest.fixture
def small_data(tmp_path):
    return make_numpy_dataset(tmp_path / "data", 4, 4, 2, 4, seed=3, classes=LEARNABLE_CLASSES,
                              clip_seconds=5.0)


def _check(data):
    config = load_recipe(GL_RECIPE, SMALL)
    check_training_data(config, load_training_set(config, data, False), load_validation_set(config, data, False))


def _synthetic_rows(data):
    lines = (data / "metadata/train/synthetic.tsv").read_text().splitlines()
    return lines[0], [line.split("\t") for line in lines[1:]]


def test_labels_past_a_short_files_end_are_an_error(small_data):
    _, rows = _synthetic_rows(small_data)
    name = next(r[0] for r in rows if r[1] and float(r[1]) > 0.6)  # an event starting after 0.5 s
    sf.write(small_data / "audio/train/synthetic" / name, np.zeros(8000, np.float32), 16000)  # 0.5 s
    with pytest.raises(AnnotationError, match="start after the end of their clip") as info:
        _check(small_data)
    assert name in str(info.value) and "clip 0.5 s" in str(info.value)


def test_labels_that_run_past_a_short_files_end_are_counted(small_data):
    header, rows = _synthetic_rows(small_data)
    name = rows[0][0]
    rows = [r for r in rows if r[0] != name] + [[name, "0.0", "4.0", LEARNABLE_CLASSES[1]]]
    (small_data / "metadata/train/synthetic.tsv").write_text("\n".join([header, *map("\t".join, rows)]) + "\n")
    sf.write(small_data / "audio/train/synthetic" / name, np.zeros(16000, np.float32), 16000)  # 1 s
    with pytest.warns(AnnotationWarning, match="1 of .* end after their clip"):
        _check(small_data)


def test_a_validation_clip_in_the_synthetic_table_is_named(small_data):
    val = "val_0001.wav"
    shutil.copy(small_data / "audio/validation" / val, small_data / "audio/train/synthetic" / val)
    header, rows = _synthetic_rows(small_data)
    rows.insert(0, [val, "0.0", "1.0", LEARNABLE_CLASSES[0]])  # first: within max_clips_per_set
    (small_data / "metadata/train/synthetic.tsv").write_text("\n".join([header, *map("\t".join, rows)]) + "\n")
    with pytest.warns(AnnotationWarning, match="1 clip\\(s\\) of the validation set are also in the synthetic set") as rec:
        _check(small_data)
    assert any(val in str(w.message) for w in rec)


def test_a_clip_weak_and_synthetic_at_once_is_named(small_data):
    shutil.copy(small_data / "audio/train/synthetic/syn_0000.wav", small_data / "audio/train/weak/syn_0000.wav")
    weak = (small_data / "metadata/train/weak.tsv").read_text().splitlines()
    (small_data / "metadata/train/weak.tsv").write_text("\n".join([weak[0], f"syn_0000.wav\t{LEARNABLE_CLASSES[0]}", *weak[1:]]) + "\n")
    with pytest.warns(AnnotationWarning, match="weak set are also in the synthetic set.*syn_0000.wav"):
        _check(small_data)


def test_clean_data_gives_no_warning(small_data):
    with warnings.catch_warnings():
        warnings.simplefilter("error", AnnotationWarning)
        _check(small_data)


def test_resume_on_other_data_is_refused_naming_what_differs(short_gl_run, learnable_dataset, tmp_path):
    run = fresh_run_copy(short_gl_run, tmp_path)
    assert (run / "data.json").is_file()
    data = tmp_path / "data"
    shutil.copytree(learnable_dataset, data, ignore=shutil.ignore_patterns(".jointsed_cache"))
    weak = (data / "metadata/train/weak.tsv").read_text().splitlines()
    (data / "metadata/train/weak.tsv").write_text("\n".join([weak[0], *weak[2:]]) + "\n")  # first clip gone
    with pytest.raises(TrainingError, match="trained on other data") as info:
        train(load_recipe(GL_RECIPE, RUN_SETS + ["trainer.max_epochs=2"]), data, run, resume=True, progress=False)
    assert "weak: 8 clips in the run" in str(info.value) and "weak_0000.wav" in str(info.value)
