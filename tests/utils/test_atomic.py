"""Atomic outputs (jointsed.utils.atomic) and the removal of a dead process's temporaries."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from jointsed.utils.atomic import _owner, atomic_dir, atomic_open, atomic_write_json, remove_stale_temporaries


def test_atomic_open_keeps_old_file_on_crash(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_open(target) as fh:
            fh.write("half")
            raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_json(tmp_path):
    atomic_write_json(tmp_path / "a" / "b.json", {"x": 1})
    assert (tmp_path / "a" / "b.json").read_text().strip().startswith("{")


def test_atomic_dir_replaces_only_when_complete(tmp_path):
    out = tmp_path / "ds"
    with atomic_dir(out) as tmp:
        (tmp / "f").write_text("1")
    assert (out / "f").read_text() == "1"
    with pytest.raises(FileExistsError):
        with atomic_dir(out):
            pass
    with pytest.raises(RuntimeError):
        with atomic_dir(out, overwrite=True) as tmp:
            (tmp / "f").write_text("2")
            raise RuntimeError("crash")
    assert (out / "f").read_text() == "1"
    with atomic_dir(out, overwrite=True) as tmp:
        (tmp / "g").write_text("3")
    assert sorted(p.name for p in out.iterdir()) == ["g"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_outputs_get_normal_permissions(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        atomic_write_json(tmp_path / "a.json", {})
        with atomic_dir(tmp_path / "d") as tmp:
            (tmp / "f").write_text("x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o755


def test_only_dead_processes_temporaries_of_this_host_are_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = _owner().rsplit("-", 1)[0]
    stale = tmp_path / f".ds.{host}-{dead.pid}.abc123xy.tmp"
    live = tmp_path / f".ds.{host}-{os.getppid()}.abc123xy.tmp"
    other_host = tmp_path / f".ds.otherhost-{dead.pid}.abc123xy.tmp"
    entry = tmp_path / f".k.npy.{host}-{dead.pid}.zz9_aa11.npy.tmp"
    user = tmp_path / ".ds.notes.tmp"  # not named like ours: not ours
    for d in (stale, live, other_host, user):
        d.mkdir()
        (d / "x").write_text("x")
    entry.write_bytes(b"half")
    removed = remove_stale_temporaries(tmp_path)
    assert sorted(removed) == sorted([stale, entry])
    assert live.is_dir() and other_host.is_dir() and user.is_dir()


# ----- issue 22: a full disk is named, with the path ---------------------------------------------------
def test_a_short_write_on_a_full_disk_becomes_enospc_naming_the_file(tmp_path, monkeypatch):
    import errno
    import shutil

    from jointsed.utils.atomic import atomic_path

    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(100, 100, 0))
    target = tmp_path / "x.npy"
    with pytest.raises(OSError) as info:  # numpy's tofile: "32000 requested and 8128 written", no errno
        with atomic_path(target):
            raise OSError("32000 requested and 8128 written")
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(target)
    with pytest.raises(OSError) as info:  # libsndfile / torch.save: RuntimeError
        with atomic_dir(tmp_path / "ds"):
            raise RuntimeError("System error.")
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(tmp_path / "ds")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no temporaries left


def test_other_write_errors_are_left_alone(tmp_path):
    from jointsed.utils.atomic import atomic_path

    with pytest.raises(RuntimeError, match="a bug"):
        with atomic_path(tmp_path / "x"):
            raise RuntimeError("a bug")  # plenty of space: not a full disk
