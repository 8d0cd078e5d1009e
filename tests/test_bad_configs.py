"""Issue 11, bad configs and arguments: one message naming the thing (exit 2), no traceback, before
any work; ``--resume`` never records settings it does not use.

Catalogue (case -> behaviour):

* a binary file as recipe (train), grid (tune) or feature config (features)  -> "not a YAML text file"
* ``--set`` whose value is not YAML, or without a key  -> error naming the override
* ``--precision``/``trainer.precision`` or ``trainer.accelerator`` not a Lightning name  -> error
  naming the key, before any data is loaded
* ``--device`` unknown (predict, tune, evaluate)  -> "unknown device"
* ``--batch-size 0`` (predict, tune, evaluate), ``--window-hop nan|0|-1`` (predict)  -> error naming the option
* ``--resume`` with a changed recipe key  -> refused, naming each key with both values
  (``trainer.max_epochs`` and the hardware keys may change; documented in ``--resume``'s help)
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from jointsed.cli import main as cli_main
from jointsed.training.config import load_recipe
from jointsed.training.errors import TrainingError
from jointsed.training.phases import train
from test_training import GL_RECIPE, TINY_GL

RUN_SETS = TINY_GL + ["data.max_clips_per_set=8", "validation.event_f1=false", "trainer.max_epochs=1"]


@pytest.fixture
def binary(tmp_path) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_bytes(bytes(range(256)) * 4)
    return path


def _no_traceback(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("command", ["train", "tune", "features"])
def test_binary_file_as_a_config(command, binary, tmp_path, capsys):
    args = {
        "train": ["train", str(binary), "--data-root", str(tmp_path)],
        "tune": ["tune", str(tmp_path / "run"), "--data-root", str(tmp_path), "--grid", str(binary)],
        "features": ["features", str(binary), "--cache", str(tmp_path / "c"), "--config", str(binary)],
    }[command]
    assert cli_main(args) == 2
    err = _no_traceback(capsys)
    assert str(binary) in err and "not a YAML text file" in err


@pytest.mark.parametrize("override,words", [("optimizer.lr=[1,2", "not valid YAML"), ("=3", "key.path=value"),
                                            ("a..b=1", "key.path=value")])
def test_bad_set(override, words, tmp_path, capsys):
    assert cli_main(["train", str(GL_RECIPE), "--data-root", str(tmp_path), "--set", override]) == 2
    err = _no_traceback(capsys)
    assert words in err and override in err


@pytest.mark.parametrize("override,key", [("trainer.precision=17-bogus", "trainer.precision"),
                                          ("trainer.accelerator=bogus", "accelerator")])
def test_bad_trainer_names_fail_before_any_data(override, key, tmp_path):
    with pytest.raises(Exception) as info:  # TrainingError or DeviceError, both JointsedError
        train(load_recipe(GL_RECIPE, RUN_SETS + [override]), tmp_path / "no-data", tmp_path / "run", progress=False)
    from jointsed.errors import JointsedError

    assert isinstance(info.value, JointsedError) and key in str(info.value) and "bogus" in str(info.value)


def test_bad_precision_from_the_cli(learnable_dataset, tmp_path, capsys):
    assert cli_main(["train", str(GL_RECIPE), "--data-root", str(learnable_dataset), "--out", str(tmp_path / "r"),
                     "--precision", "bogus"]) == 2
    assert "trainer.precision" in _no_traceback(capsys)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("command", ["predict", "tune", "evaluate"])
def test_unknown_device(command, tmp_path, capsys):
    args = {
        "predict": ["predict", str(tmp_path / "m"), str(tmp_path), "--out", str(tmp_path / "p.tsv")],
        "tune": ["tune", str(tmp_path / "m"), "--data-root", str(tmp_path)],
        "evaluate": ["evaluate", "--run", str(tmp_path / "m"), "--data-root", str(tmp_path)],
    }[command]
    assert cli_main([*args, "--device", "bogus"]) == 2
    assert "--device bogus: unknown device" in _no_traceback(capsys)


@pytest.mark.parametrize("args,words", [
    (["--batch-size", "0"], "--batch-size must be at least 1"),
    (["--window-hop", "nan"], "--window-hop must be a positive number"),
    (["--window-hop", "0"], "--window-hop must be a positive number"),
    (["--window-hop", "-1"], "--window-hop must be a positive number"),
])
def test_bad_predict_numbers(args, words, tmp_path, capsys):
    import numpy as np
    import soundfile as sf

    sf.write(tmp_path / "a.wav", np.zeros(1600, np.float32), 16000)
    assert cli_main(["predict", str(tmp_path / "m"), str(tmp_path / "a.wav"), "--out", str(tmp_path / "p.tsv"),
                     *args]) == 2
    assert words in _no_traceback(capsys)


@pytest.mark.parametrize("command", ["tune", "evaluate"])
def test_batch_size_zero_for_runs(command, tmp_path, capsys):
    args = ["tune", str(tmp_path / "m")] if command == "tune" else ["evaluate", "--run", str(tmp_path / "m")]
    assert cli_main([*args, "--data-root", str(tmp_path), "--batch-size", "0"]) == 2
    assert "--batch-size must be at least 1" in _no_traceback(capsys)


# ----- resume with a changed recipe ----------------------------------------------------------------
@pytest.fixture(scope="module")
def short_run(learnable_dataset, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("resume") / "run"
    train(load_recipe(GL_RECIPE, RUN_SETS), learnable_dataset, run, progress=False)
    return run


def test_resume_with_a_changed_recipe_is_refused_naming_the_keys(short_run, learnable_dataset, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(short_run, run)
    before = (run / "config.yaml").read_text()
    changed = RUN_SETS + ["optimizer.lr=0.5", "seed=3", "trainer.max_epochs=2"]
    with pytest.raises(TrainingError) as info:
        train(load_recipe(GL_RECIPE, changed), learnable_dataset, run, resume=True, progress=False)
    message = str(info.value)
    assert "optimizer.lr: 0.01 in the run, 0.5 now" in message and "seed: 42 in the run, 3 now" in message
    assert "max_epochs" not in message.split("A resumed run")[0]  # allowed to change: not listed as a difference
    assert (run / "config.yaml").read_text() == before  # the run's files still tell the truth


def test_resume_may_train_longer_and_change_hardware_keys(short_run, learnable_dataset, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(short_run, run)
    longer = RUN_SETS + ["trainer.max_epochs=2", "trainer.num_threads=2", "trainer.accelerator=cpu"]
    train(load_recipe(GL_RECIPE, longer), learnable_dataset, run, resume=True, progress=False)
    assert yaml.safe_load((run / "config.yaml").read_text())["trainer"]["max_epochs"] == 2


def test_resume_help_says_what_may_change():
    from jointsed.cli import build_parser

    parser = build_parser()
    train_parser = parser._subparsers._group_actions[0].choices["train"]
    text = train_parser.format_help()
    assert "max_epochs" in text and "--resume" in text
