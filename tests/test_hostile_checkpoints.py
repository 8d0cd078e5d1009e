"""Issue 11, class 1: a checkpoint never runs code, and a broken one gives a clear error.

A checkpoint is a pickle. The hostile one here carries an object whose unpickling creates a
marker file (what an attacker's shell command would do). Every reader (``--resume`` through
Lightning, ``--init``, predict, evaluate/tune/report's readers, the frame teacher) must refuse it
whatever torch's default is: the tests force the old default (``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``,
i.e. torch < 2.6 behaviour, where Lightning's own ``torch.load`` would unpickle anything).
Empty, truncated and garbage files raise a :class:`CheckpointError` naming the file (CLI: exit 2).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import soundfile as sf
import numpy as np
import torch

from jointsed.cli import main as cli_main
from jointsed.runs.checkpoint import CheckpointError, read_checkpoint
from jointsed.training.config import load_recipe
from jointsed.runs.checkpoint import read_state_dict
from jointsed.training.errors import TrainingError
from jointsed.training.phases import load_frame_teacher, train
from jointsed.training.trainer import AtomicCheckpointIO
from jointsed.recipes import recipes_root
from test_training import GL_RECIPE, TINY_GL

REPO = Path(__file__).resolve().parents[1]
JOINT_RECIPE = recipes_root() / "cpu" / "joint.yaml"
RUN_SETS = TINY_GL + ["data.max_clips_per_set=8", "validation.event_f1=false", "trainer.max_epochs=1"]


class _Payload:
    """Unpickling this calls ``open(marker, "w")``: it creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.fixture(autouse=True)
def old_torch_default(monkeypatch):
    """Make every ``torch.load`` that does not pass ``weights_only`` unpickle anything (torch < 2.6)."""
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")


@pytest.fixture(scope="module")
def run(learnable_dataset, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("hostile") / "run"
    train(load_recipe(GL_RECIPE, RUN_SETS), learnable_dataset, run, progress=False)
    return run


def _copy(run: Path, tmp_path: Path) -> Path:
    target = tmp_path / "run"
    shutil.copytree(run, target)
    return target


def _hostile(path: Path, marker: Path, base: Path | None = None) -> Path:
    """A checkpoint with the payload; from ``base`` it is a real checkpoint plus the payload."""
    ckpt = torch.load(base, map_location="cpu", weights_only=True) if base else {"state_dict": {}}
    ckpt["callbacks"] = {"x": _Payload(marker)}
    torch.save(ckpt, path)
    return path


def _train_args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["train", str(GL_RECIPE), "--data-root", str(data), "--out", str(out), "--no-progress",
            *[f"--set={s}" for s in RUN_SETS], *extra]


def test_resume_refuses_a_pickled_payload(run, learnable_dataset, tmp_path, capsys):
    run = _copy(run, tmp_path)
    marker = tmp_path / "pwned"
    last = run / "checkpoints" / "last.ckpt"
    _hostile(last, marker, base=last)
    assert cli_main(_train_args(learnable_dataset, run, "--resume")) == 2
    assert not marker.exists()
    err = capsys.readouterr().err
    assert str(last) in err and "refuses" in err


def test_lightnings_load_path_refuses_the_payload_too(run, tmp_path):
    """Lightning's resume load goes through our checkpoint IO plugin, even when the up-front
    verification is skipped (a file swapped between the check and the load)."""
    marker = tmp_path / "pwned"
    evil = _hostile(tmp_path / "last.ckpt", marker, base=run / "checkpoints" / "last.ckpt")
    with pytest.raises(CheckpointError, match="last.ckpt"):
        AtomicCheckpointIO().load_checkpoint(evil, weights_only=False)
    assert not marker.exists()


def test_predict_refuses_a_pickled_payload(run, tmp_path, capsys):
    marker = tmp_path / "pwned"
    evil = _hostile(tmp_path / "model.ckpt", marker, base=run / "checkpoints" / "last.ckpt")
    audio = tmp_path / "a.wav"
    sf.write(audio, np.zeros(16000, dtype=np.float32), 16000)
    assert cli_main(["predict", str(evil), str(audio), "--out", str(tmp_path / "p.tsv"), "--no-progress"]) == 2
    assert not marker.exists()
    assert str(evil) in capsys.readouterr().err
    assert not (tmp_path / "p.tsv").exists()


def test_init_refuses_a_pickled_payload_before_training(run, learnable_dataset, tmp_path, capsys):
    marker = tmp_path / "pwned"
    evil = _hostile(tmp_path / "init.ckpt", marker, base=run / "checkpoints" / "last.ckpt")
    args = ["train", str(JOINT_RECIPE), "--data-root", str(learnable_dataset), "--out", str(tmp_path / "j"),
            "--stage", "2", "--init", str(evil), "--no-progress"]
    assert cli_main(args) == 2
    assert not marker.exists()
    err = capsys.readouterr().err
    assert "--init" in err and str(evil) in err
    assert not (tmp_path / "j" / "frame_teacher").exists()


@pytest.mark.parametrize("reader", ["read_checkpoint", "state_dict", "inference", "workflow", "frame_teacher"])
def test_every_reader_refuses_the_payload(reader, run, tmp_path):
    from jointsed.runs.checkpoint import read_checkpoint as load_checkpoint
    from jointsed.systems import load_system
    from jointsed.pipeline.scoring import _checkpoint_config

    marker = tmp_path / "pwned"
    evil = _hostile(tmp_path / "best.ckpt", marker, base=run / "checkpoints" / "last.ckpt")
    call = {
        "read_checkpoint": lambda: read_checkpoint(evil),
        "state_dict": lambda: read_state_dict(evil),
        "inference": lambda: (load_checkpoint(evil), load_system(evil)),
        "workflow": lambda: _checkpoint_config(evil),
        "frame_teacher": lambda: load_frame_teacher(evil, load_recipe(GL_RECIPE, RUN_SETS)),
    }[reader]
    with pytest.raises((CheckpointError, TrainingError), match="best.ckpt"):
        call()
    assert not marker.exists()


@pytest.mark.parametrize("damage,words", [("empty", "empty file"), ("truncated", "truncated or corrupt"),
                                          ("garbage", "cannot read")])
def test_broken_checkpoints_name_the_file(damage, words, run, tmp_path):
    path = tmp_path / "broken.ckpt"
    good = (run / "checkpoints" / "last.ckpt").read_bytes()
    path.write_bytes({"empty": b"", "truncated": good[: len(good) // 2], "garbage": b"not a checkpoint\n" * 10}[damage])
    with pytest.raises(CheckpointError, match=words) as info:
        read_checkpoint(path)
    assert str(path) in str(info.value)


def test_resume_from_an_empty_last_checkpoint_is_a_message(run, learnable_dataset, tmp_path, capsys):
    run = _copy(run, tmp_path)
    last = run / "checkpoints" / "last.ckpt"
    last.write_bytes(b"")
    assert cli_main(_train_args(learnable_dataset, run, "--resume")) == 2
    err = capsys.readouterr().err
    assert str(last) in err and "empty" in err


def test_a_real_checkpoint_still_loads_safely(run):
    """Lightning 2.6's checkpoint (optimizer, schedulers, loops, callbacks' state) is plain data."""
    ckpt = read_checkpoint(run / "checkpoints" / "last.ckpt")
    assert {"state_dict", "optimizer_states", "loops", "callbacks", "jointsed"} <= set(ckpt)


def test_incompatible_init_fails_before_the_frame_teacher_trains(run, learnable_dataset, tmp_path, capsys):
    """Issue 11, class 8 (late failures): ``--stage 2 --init`` with weights of another model is
    refused before any phase trains (it used to train the frame teacher first)."""
    from test_training import COMMON

    out = tmp_path / "joint"
    init = run / "checkpoints" / "last.ckpt"  # a tiny GL model; the joint recipe's networks are wider
    args = ["train", str(JOINT_RECIPE), "--data-root", str(learnable_dataset), "--out", str(out), "--no-progress",
            "--stage", "2", "--init", str(init), *[f"--set={s}" for s in COMMON + ["data.max_clips_per_set=8"]]]
    assert cli_main(args) == 2
    err = capsys.readouterr().err
    assert "--init" in err and str(init) in err and "do not fit" in err
    assert not (out / "frame_teacher").exists() and not (out / "stage2").exists()
