"""Issue 22: a full disk is named, with the path, by every command that writes (``jointsed
<cmd>: error: the disk is full ...: PATH``, exit 2), and leaves no partial output.

Where this runs as root, a 2 MiB tmpfs is a real full disk (synth, predict); elsewhere, and for
train and features, the write is made to fail as a full disk fails (a short write of numpy or
libsndfile, ``torch.save``'s RuntimeError, ENOSPC without a file name) with no space left.
"""

from __future__ import annotations

import errno
import io
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from helpers import GL_RECIPE, RUN_SETS
from jointsed.cli import main


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs (skipped where mounting is not allowed)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                                            capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


@pytest.fixture
def no_space(monkeypatch):
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(100, 100, 0))


def _full(err: str, path) -> bool:
    return "the disk is full" in err and str(path) in err and "Traceback" not in err


def test_synth_on_a_full_disk(small_disk):
    proc = subprocess.run([sys.executable, "-m", "jointsed", "synth", "--preset", "tiny", "--out",
                           str(small_disk / "ds"), "--no-progress", "--workers", "1"], capture_output=True, text=True)
    assert proc.returncode == 2 and _full(proc.stderr, small_disk / "ds"), proc.stderr[-2000:]
    assert list(small_disk.iterdir()) == []  # not even a temporary


def test_predict_on_a_full_disk_leaves_no_table(small_disk, gl_model, learnable_dataset, capsys):
    (small_disk / "filler").write_bytes(b"\0" * (2 * 1024 * 1024 - 40 * 1024))
    clips = learnable_dataset / "audio" / "validation"
    out, scores = small_disk / "p.tsv", small_disk / "scores"
    assert main(["predict", str(gl_model), str(clips), "--out", str(out), "--scores", str(scores),
                 "--no-progress"]) == 2
    assert _full(capsys.readouterr().err, small_disk)
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]


def test_predict_names_the_file_of_an_enospc_without_one(gl_model, learnable_dataset, tmp_path, monkeypatch, capsys):
    def failing_fsync(fd):
        raise OSError(errno.ENOSPC, "No space left on device")  # as the kernel says it: no file name

    monkeypatch.setattr(os, "fsync", failing_fsync)
    clip = next((learnable_dataset / "audio" / "validation").glob("*.wav"))
    out = tmp_path / "p.tsv"
    assert main(["predict", str(gl_model), str(clip), "--out", str(out), "--no-progress"]) == 2
    assert _full(capsys.readouterr().err, out)
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == []


def test_features_on_a_full_disk(tmp_path, monkeypatch, no_space, capsys):
    wav = tmp_path / "a.wav"
    sf.write(wav, np.zeros(16000, np.float32), 16000)

    real_save = np.save

    def short_write(fh, arr, allow_pickle=False):
        if isinstance(fh, io.BytesIO):  # the cache's entry-size probe
            return real_save(fh, arr, allow_pickle=allow_pickle)
        raise OSError("32000 requested and 8128 written")  # numpy's message, no errno

    monkeypatch.setattr(np, "save", short_write)
    assert main(["features", str(wav), "--cache", str(tmp_path / "cache"), "--workers", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert _full(err, tmp_path / "cache") and ".npy" in err
    assert not list((tmp_path / "cache").rglob("*.npy"))


def test_train_on_a_full_disk(learnable_dataset, tmp_path, monkeypatch, capsys):
    import torch

    from jointsed.training import trainer

    def failing_save(obj, f, *a, **k):
        monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(100, 100, 0))
        raise RuntimeError("[enforce fail at inline_container.cc:783] . PytorchStreamWriter failed writing file")

    monkeypatch.setattr(trainer.torch, "save", failing_save)
    run = tmp_path / "run"
    assert main(["train", str(GL_RECIPE), "--data-root", str(learnable_dataset), "--out", str(run),
                 "--no-progress", *[f"--set={o}" for o in RUN_SETS]]) == 2
    err = capsys.readouterr().err
    assert _full(err, run / "checkpoints") and ".ckpt" in err
    assert not (run / "finished.json").exists()
