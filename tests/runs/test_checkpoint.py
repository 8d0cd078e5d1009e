"""Issue 11, class 1: a checkpoint never runs code, and a broken one gives a clear error.

A checkpoint is a pickle. The hostile one here carries an object whose unpickling creates a
marker file (what an attacker's shell command would do). Every reader (``--resume`` through
Lightning, ``--init``, predict, evaluate/tune/report's readers, the frame teacher) must refuse it
whatever torch's default is: the tests force the old default (``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``,
i.e. torch < 2.6 behaviour, where Lightning's own ``torch.load`` would unpickle anything).
Empty, truncated and garbage files raise a :class:`CheckpointError` naming the file (CLI: exit 2).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import hostile_checkpoint

from helpers import GL_RECIPE, RUN_SETS
from jointsed.runs.checkpoint import CheckpointError, read_checkpoint, read_state_dict
from jointsed.training.config import load_recipe
from jointsed.training.errors import TrainingError
from jointsed.training.phases import load_frame_teacher
from jointsed.training.trainer import AtomicCheckpointIO


@pytest.fixture
def run(short_gl_run: Path) -> Path:
    """The session's short tiny GL run (conftest ``short_gl_run``)."""
    return short_gl_run


@pytest.fixture(autouse=True)
def old_torch_default(unsafe_torch_load):
    """Every test here runs as if torch still unpickled anything by default (torch < 2.6)."""




def test_lightnings_load_path_refuses_the_payload_too(run, tmp_path):
    """Lightning's resume load goes through our checkpoint IO plugin, even when the up-front
    verification is skipped (a file swapped between the check and the load)."""
    marker = tmp_path / "pwned"
    evil = hostile_checkpoint(tmp_path / "last.ckpt", marker, base=run / "checkpoints" / "last.ckpt")
    with pytest.raises(CheckpointError, match="last.ckpt"):
        AtomicCheckpointIO().load_checkpoint(evil, weights_only=False)
    assert not marker.exists()


@pytest.mark.parametrize("reader", ["read_checkpoint", "state_dict", "inference", "pipeline", "frame_teacher"])
def test_every_reader_refuses_the_payload(reader, run, tmp_path):
    from jointsed.runs.checkpoint import read_checkpoint as load_checkpoint
    from jointsed.systems import load_system
    from jointsed.pipeline.scoring import _checkpoint_config

    marker = tmp_path / "pwned"
    evil = hostile_checkpoint(tmp_path / "best.ckpt", marker, base=run / "checkpoints" / "last.ckpt")
    call = {
        "read_checkpoint": lambda: read_checkpoint(evil),
        "state_dict": lambda: read_state_dict(evil),
        "inference": lambda: (load_checkpoint(evil), load_system(evil)),
        "pipeline": lambda: _checkpoint_config(evil),
        "frame_teacher": lambda: load_frame_teacher(evil, load_recipe(GL_RECIPE, RUN_SETS)),
    }[reader]
    with pytest.raises((CheckpointError, TrainingError), match="best.ckpt"):
        call()
    assert not marker.exists()


@pytest.mark.parametrize("damage,words", [("empty", "empty file"), ("truncated", "truncated or corrupt"),
                                          ("garbage", "neither a zip archive nor a pickle")])
def test_broken_checkpoints_name_the_file(damage, words, run, tmp_path):
    path = tmp_path / "broken.ckpt"
    good = (run / "checkpoints" / "last.ckpt").read_bytes()
    path.write_bytes({"empty": b"", "truncated": good[: len(good) // 2], "garbage": b"not a checkpoint\n" * 10}[damage])
    with pytest.raises(CheckpointError, match=words) as info:
        read_checkpoint(path)
    assert str(path) in str(info.value)


def test_a_checkpoint_linked_to_a_text_file_is_named_as_such(tmp_path):
    """Issue 22: ``best.ckpt -> /etc/passwd`` gave torch's "IndexError: list index out of range"."""
    text = tmp_path / "passwd"
    text.write_text("root:x:0:0:root:/root:/bin/bash\n")
    link = tmp_path / "best.ckpt"
    link.symlink_to(text)
    with pytest.raises(CheckpointError, match="symbolic link to .*passwd.*neither a zip archive nor a pickle") as info:
        read_checkpoint(link)
    assert "root:x:0:0" in str(info.value)  # what the file starts with


def test_a_real_checkpoint_still_loads_safely(run):
    """Lightning 2.6's checkpoint (optimizer, schedulers, loops, callbacks' state) is plain data."""
    ckpt = read_checkpoint(run / "checkpoints" / "last.ckpt")
    assert {"state_dict", "optimizer_states", "loops", "callbacks", "jointsed"} <= set(ckpt)
