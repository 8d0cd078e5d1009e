"""Issue 22: one writer per run folder (``RUN_DIR/train.lock``, :mod:`jointsed.runs.lock`).

A second ``train`` into a folder being trained is refused with who holds it (pid, host, command,
start time) before anything is deleted; the lock of a killed process is taken over with a note.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import GL_RECIPE, RUN_SETS, fresh_run_copy
from jointsed.cli import main
from jointsed.runs.layout import LOCK_FILE
from jointsed.runs.lock import RunLockedError, held_by_other, read_lock, run_lock
from jointsed.training.config import load_recipe
from jointsed.training.phases import train

HOLD = ("import sys, time; from jointsed.runs.lock import run_lock\n"
        "with run_lock(sys.argv[1], command='jointsed train holder'):\n"
        "    print('locked', flush=True); time.sleep(120)\n")


@pytest.fixture
def held(tmp_path):
    """A run folder whose lock another live process holds."""
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(run)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    yield run, proc
    proc.kill()
    proc.wait()


def test_a_second_writer_is_refused_with_the_holder(held):
    run, proc = held
    with pytest.raises(RunLockedError) as info:
        with run_lock(run):
            pass
    text = str(info.value)
    assert f"pid {proc.pid}" in text and socket.gethostname() in text and "jointsed train holder" in text
    assert held_by_other(run)["pid"] == proc.pid


def test_train_into_a_locked_folder_deletes_nothing(held, short_gl_run, learnable_dataset, capsys):
    run, proc = held
    copy = fresh_run_copy(short_gl_run, run.parent / "copy")
    for entry in copy.iterdir():
        os.replace(entry, run / entry.name)
    assert main(["train", str(GL_RECIPE), "--data-root", str(learnable_dataset), "--out", str(run), "--force",
                 "--no-progress", *[f"--set={o}" for o in RUN_SETS]]) == 2
    err = capsys.readouterr().err
    assert "is being trained by" in err and f"pid {proc.pid}" in err
    assert (run / "checkpoints" / "last.ckpt").is_file()  # --force removed nothing


def test_a_killed_holders_lock_is_taken_over_with_a_note(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    (run / LOCK_FILE).write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "command": "jointsed train x",
                                             "started": "2026-01-01 00:00:00"}))
    notes: list[str] = []
    with run_lock(run, note=notes.append) as record:
        assert read_lock(run)["pid"] == os.getpid() == record["pid"]
    assert notes and f"pid {pid}" in notes[0] and "no longer running" in notes[0]
    assert not (run / LOCK_FILE).exists()


def test_the_lock_is_released_and_an_empty_new_folder_removed(tmp_path):
    run = tmp_path / "new"
    with pytest.raises(ValueError):
        with run_lock(run):
            assert (run / LOCK_FILE).is_file()
            raise ValueError("failed before writing anything")
    assert not run.exists()
    with run_lock(run):  # free again
        (run / "config.yaml").write_text("x")
    assert run.is_dir() and not (run / LOCK_FILE).exists()


def test_train_releases_the_lock(short_gl_run):
    assert not (short_gl_run / LOCK_FILE).exists()
