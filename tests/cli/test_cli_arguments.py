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

from pathlib import Path

import numpy as np
import pytest

from helpers import GL_RECIPE
from jointsed.cli import main as cli_main


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


def test_resume_help_says_what_may_change():
    from jointsed.cli import build_parser

    parser = build_parser()
    train_parser = parser._subparsers._group_actions[0].choices["train"]
    text = train_parser.format_help()
    assert "max_epochs" in text and "--resume" in text


def test_cli_reports_bad_recipe_key(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"base: {GL_RECIPE}\ntrainer:\n  max_epoch: 3\n")
    code = cli_main(["train", str(bad), "--data-root", str(tmp_path), "--out", str(tmp_path / "run")])
    assert code == 2
    assert "trainer.max_epoch" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
