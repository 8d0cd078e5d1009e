"""What ``jointsed train --resume / --init`` and ``jointsed predict`` say about a hostile or broken
checkpoint (issue 11, class 1): exit 2, the file named, nothing unpickled, nothing started.
The readers themselves are tested in tests/runs/test_checkpoint.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from helpers import hostile_checkpoint
import soundfile as sf

from helpers import COMMON, GL_RECIPE, JOINT_RECIPE, RUN_SETS
from jointsed.cli import main as cli_main


@pytest.fixture
def run(short_gl_run: Path) -> Path:
    """The session's short tiny GL run (conftest ``short_gl_run``)."""
    return short_gl_run


@pytest.fixture(autouse=True)
def old_torch_default(unsafe_torch_load):
    """Every test here runs as if torch still unpickled anything by default (torch < 2.6)."""


def _copy(run: Path, tmp_path: Path) -> Path:
    target = tmp_path / "run"
    shutil.copytree(run, target)
    return target




def _train_args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["train", str(GL_RECIPE), "--data-root", str(data), "--out", str(out), "--no-progress",
            *[f"--set={s}" for s in RUN_SETS], *extra]


def test_resume_refuses_a_pickled_payload(run, learnable_dataset, tmp_path, capsys):
    run = _copy(run, tmp_path)
    marker = tmp_path / "pwned"
    last = run / "checkpoints" / "last.ckpt"
    hostile_checkpoint(last, marker, base=last)
    assert cli_main(_train_args(learnable_dataset, run, "--resume")) == 2
    assert not marker.exists()
    err = capsys.readouterr().err
    assert str(last) in err and "refuses" in err


def test_predict_refuses_a_pickled_payload(run, tmp_path, capsys):
    marker = tmp_path / "pwned"
    evil = hostile_checkpoint(tmp_path / "model.ckpt", marker, base=run / "checkpoints" / "last.ckpt")
    audio = tmp_path / "a.wav"
    sf.write(audio, np.zeros(16000, dtype=np.float32), 16000)
    assert cli_main(["predict", str(evil), str(audio), "--out", str(tmp_path / "p.tsv"), "--no-progress"]) == 2
    assert not marker.exists()
    assert str(evil) in capsys.readouterr().err
    assert not (tmp_path / "p.tsv").exists()


def test_init_refuses_a_pickled_payload_before_training(run, learnable_dataset, tmp_path, capsys):
    marker = tmp_path / "pwned"
    evil = hostile_checkpoint(tmp_path / "init.ckpt", marker, base=run / "checkpoints" / "last.ckpt")
    args = ["train", str(JOINT_RECIPE), "--data-root", str(learnable_dataset), "--out", str(tmp_path / "j"),
            "--stage", "2", "--init", str(evil), "--no-progress"]
    assert cli_main(args) == 2
    assert not marker.exists()
    err = capsys.readouterr().err
    assert "--init" in err and str(evil) in err
    assert not (tmp_path / "j" / "frame_teacher").exists()


def test_resume_from_an_empty_last_checkpoint_is_a_message(run, learnable_dataset, tmp_path, capsys):
    run = _copy(run, tmp_path)
    last = run / "checkpoints" / "last.ckpt"
    last.write_bytes(b"")
    assert cli_main(_train_args(learnable_dataset, run, "--resume")) == 2
    err = capsys.readouterr().err
    assert str(last) in err and "empty" in err


def test_incompatible_init_fails_before_the_frame_teacher_trains(run, learnable_dataset, tmp_path, capsys):
    """Issue 11, class 8 (late failures): ``--stage 2 --init`` with weights of another model is
    refused before any phase trains (it used to train the frame teacher first)."""
    out = tmp_path / "joint"
    init = run / "checkpoints" / "last.ckpt"  # a tiny GL model; the joint recipe's networks are wider
    args = ["train", str(JOINT_RECIPE), "--data-root", str(learnable_dataset), "--out", str(out), "--no-progress",
            "--stage", "2", "--init", str(init), *[f"--set={s}" for s in COMMON + ["data.max_clips_per_set=8"]]]
    assert cli_main(args) == 2
    err = capsys.readouterr().err
    assert "--init" in err and str(init) in err and "do not fit" in err
    assert not (out / "frame_teacher").exists() and not (out / "stage2").exists()
