"""Issue 11, classes 2 and 5 (outputs): ``--force`` replaces only what jointsed wrote, an input is
never overwritten, and a bad output path is a message before any work (exit 2, no traceback).

Catalogue (command: case -> behaviour):

* predict --scores DIR --force, DIR holds the input audio -> refused ("holds the input"), nothing deleted
* predict --scores DIR --force, DIR is someone else's folder -> refused, names what is there
* predict --scores DIR --force, DIR written by an earlier predict (marker file) -> replaced
* predict --out INPUT.wav -> refused ("is one of the inputs"), the wav is untouched
* predict/tune/evaluate --json: --out an existing folder -> refused before the model is loaded
* synth --out DIR --force, DIR not a synth dataset -> refused, names what is there
* unwritable output place (predict, synth, train, report, tune, evaluate --json) -> message, exit 2
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from helpers import GL_RECIPE
from jointsed.cli import main as cli_main
from jointsed.utils.outputs import OWNER_FILE


@pytest.fixture
def model(short_gl_run: Path) -> Path:
    """The session's short tiny GL run (conftest ``short_gl_run``)."""
    return short_gl_run


def _wav(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, 0.1 * np.random.default_rng(0).standard_normal(16000).astype(np.float32), 16000)
    return path


def _predict(model: Path | str, *args: str) -> int:
    return cli_main(["predict", str(model), *args, "--no-progress"])


def test_scores_folder_holding_the_input_audio_is_never_deleted(tmp_path, capsys):
    audio = _wav(tmp_path / "recordings" / "a.wav")
    before = audio.read_bytes()
    code = _predict(tmp_path / "no-model", str(audio.parent), "--out", str(tmp_path / "p.tsv"),
                    "--scores", str(audio.parent), "--force")
    assert code == 2
    assert audio.read_bytes() == before
    assert "holds the input" in capsys.readouterr().err


def test_force_does_not_replace_a_foreign_scores_folder(tmp_path, capsys):
    audio = _wav(tmp_path / "a.wav")
    foreign = tmp_path / "thesis"
    foreign.mkdir()
    (foreign / "chapter1.tex").write_text("years of work")
    assert _predict(tmp_path / "no-model", str(audio), "--out", str(tmp_path / "p.tsv"),
                    "--scores", str(foreign), "--force") == 2
    assert (foreign / "chapter1.tex").read_text() == "years of work"
    err = capsys.readouterr().err
    assert "not a jointsed scores folder" in err and "chapter1.tex" in err


def test_force_replaces_an_earlier_scores_folder(model, tmp_path):
    audio = _wav(tmp_path / "in" / "a.wav")
    scores = tmp_path / "scores"
    assert _predict(model, str(audio), "--out", str(tmp_path / "p.tsv"), "--scores", str(scores)) == 0
    assert (scores / OWNER_FILE).is_file() and (scores / "a.tsv").is_file()
    assert _predict(model, str(audio), "--out", str(tmp_path / "p.tsv"), "--scores", str(scores)) == 2  # no --force
    assert _predict(model, str(audio), "--out", str(tmp_path / "p.tsv"), "--scores", str(scores), "--force") == 0
    assert (scores / OWNER_FILE).is_file() and (scores / "a.tsv").is_file()


def test_out_equal_to_an_input_is_refused(tmp_path, capsys):
    audio = _wav(tmp_path / "a.wav")
    before = audio.read_bytes()
    assert _predict(tmp_path / "no-model", str(audio), "--out", str(audio)) == 2
    assert audio.read_bytes() == before
    assert "is one of the inputs" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["predict", "tune", "evaluate"])
def test_out_that_is_a_folder_is_refused_before_any_work(command, tmp_path, capsys):
    audio = _wav(tmp_path / "a.wav")
    folder = tmp_path / "existing"
    folder.mkdir()
    args = {
        # the model does not exist: the output check must come first
        "predict": ["predict", str(tmp_path / "no-model"), str(audio), "--out", str(folder)],
        "tune": ["tune", str(tmp_path / "no-model"), "--data-root", str(tmp_path), "--out", str(folder)],
        "evaluate": ["evaluate", "--run", str(tmp_path / "no-model"), "--data-root", str(tmp_path),
                     "--json", str(folder)],
    }[command]
    assert cli_main(args) == 2
    err = capsys.readouterr().err
    assert "is a folder" in err and str(folder) in err


def test_synth_force_over_a_foreign_folder_is_refused(tmp_path, capsys):
    home = tmp_path / "photos"
    home.mkdir()
    (home / "holiday.jpg").write_bytes(b"\xff\xd8 jpeg")
    assert cli_main(["synth", "--preset", "tiny", "--out", str(home), "--force", "--no-progress"]) == 2
    assert (home / "holiday.jpg").read_bytes() == b"\xff\xd8 jpeg"
    err = capsys.readouterr().err
    assert "not a jointsed synth dataset" in err and "holiday.jpg" in err and "synth.json" in err


def _unwritable_cases(tmp_path: Path, model: Path) -> dict[str, list[str]]:
    """Every command with its output under a regular file (cannot be created, even as root)."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    audio = _wav(tmp_path / "a.wav")
    under = blocker / "sub"
    return {
        "predict": ["predict", str(model), str(audio), "--out", str(under / "p.tsv")],
        "synth": ["synth", "--preset", "tiny", "--out", str(under / "data"), "--no-progress"],
        "train": ["train", str(GL_RECIPE), "--data-root", str(tmp_path), "--out", str(under / "run")],
        "report": ["report", str(model), "--out", str(under / "report")],
        "tune": ["tune", str(model), "--data-root", str(tmp_path), "--out", str(under / "pp.json")],
        "evaluate": ["evaluate", "--run", str(model), "--data-root", str(tmp_path), "--json", str(under / "r.json")],
    }


@pytest.mark.parametrize("command", ["predict", "synth", "train", "report", "tune", "evaluate"])
def test_unwritable_output_is_a_message(command, model, tmp_path, capsys):
    args = _unwritable_cases(tmp_path, model)[command]
    if command == "train":  # give train a data root that passes its own check
        data = tmp_path / "data" / "metadata" / "train"
        data.mkdir(parents=True)
        (data / "weak.tsv").write_text("filename\tevent_labels\n")
        args[3] = str(tmp_path / "data")
    assert cli_main(args) == 2
    err = capsys.readouterr().err
    assert "blocker" in err and "Traceback" not in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_read_only_folder_is_a_message(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert cli_main(["synth", "--preset", "tiny", "--out", str(locked / "data"), "--no-progress"]) == 2
        assert "permission denied" in capsys.readouterr().err
    finally:
        locked.chmod(0o700)


def test_permission_error_while_running_is_a_message(monkeypatch, tmp_path, capsys):
    """What changes while a command runs (a folder made read-only, a full disk) is still a message."""
    import jointsed.cli.synth as synth_cli

    def denied(args):
        raise PermissionError(13, "Permission denied", str(tmp_path / "x"))

    monkeypatch.setattr(synth_cli, "run", denied)
    assert cli_main(["synth", "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert "Permission denied" in err and str(tmp_path / "x") in err
