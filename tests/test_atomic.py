from __future__ import annotations

import pytest

from jointsed.utils.atomic import atomic_dir, atomic_open, atomic_write_json


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
