"""Atomic file and folder writes: a crash never leaves a half-written output behind.

Every output of jointsed (checkpoints, caches, predictions, reports, datasets) goes through these
helpers: data is written to a temporary sibling first and renamed into place, which is atomic on
POSIX file systems. Temporaries are named after their process (``.<name>.<host>-<pid>.*.tmp``):
what a killed process left behind is removed by the next run (:func:`remove_stale_temporaries`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Any, Iterator, Optional


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _owner() -> str:
    """``<host>-<pid>``: written into every temporary's name, so that a later run can tell the
    leftovers of a killed process (same host, dead pid) from another process's work in progress."""
    host = re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname())[:40] or "host"
    return f"{host}-{os.getpid()}"


#: ``.<name>.<host>-<pid>.<random><suffix>.tmp`` (or ``.old``): a temporary of this module
_TMP_NAME = re.compile(r"^\.(?P<name>.+)\.(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)\.[^.]+(\..*)?\.(tmp|old)$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_temporaries(folder: str | os.PathLike, name: str | None = None) -> list[Path]:
    """Remove the temporaries that killed processes left in ``folder`` (a ``kill -9`` gives no
    chance to clean up): only ours (their name says so), of this host, whose process is dead.

    Args:
        folder: where to look (not recursive).
        name: only temporaries of this output name (``None``: all).
    Returns:
        the paths removed.
    """
    folder = Path(folder)
    host = _owner().rsplit("-", 1)[0]
    removed = []
    try:
        entries = [e for e in os.scandir(folder) if e.name.startswith(".") and e.name.endswith((".tmp", ".old"))]
    except (FileNotFoundError, NotADirectoryError):
        return removed
    for entry in entries:
        m = _TMP_NAME.match(entry.name)
        if not m or m["host"] != host or (name is not None and m["name"] != name):
            continue
        pid = int(m["pid"])
        if pid == os.getpid() or _pid_alive(pid):
            continue
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        removed.append(path)
    return removed


#: free bytes below which a failed write is taken for a full disk (writers like numpy's
#: ``tofile``, libsndfile and ``torch.save`` report a short write without the ENOSPC errno)
DISK_FULL_MARGIN = 1 << 20


def disk_full_error(path: str | os.PathLike, exc: BaseException) -> Optional[OSError]:
    """The error to raise for ``exc``, a failed write of ``path``, when the disk is full:
    ``OSError(ENOSPC or EDQUOT)`` naming ``path`` (the CLI prints it as one line). None when the
    failure is something else (or not a failure of the write: a signal, a bug in the caller).

    ENOSPC / EDQUOT errors without a file name get ``path``; other write errors (``OSError`` of a
    short write, ``RuntimeError`` of libsndfile or torch) count as a full disk when the file
    system has less than :data:`DISK_FULL_MARGIN` bytes left.
    """
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return exc if exc.filename else OSError(exc.errno, os.strerror(exc.errno), str(path))
    if not isinstance(exc, (OSError, RuntimeError)):
        return None
    folder = Path(path)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return None
    if free >= DISK_FULL_MARGIN:
        return None
    return OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} ({free // 1024} KiB free)", str(path))


def _tmp_sibling(path: Path, suffix: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.{_owner()}.", suffix=suffix + ".tmp", dir=path.parent)
    # mkstemp makes 0600 files; an output should get the permissions of a normally created file.
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    return Path(name)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` if the block succeeds.

    Use for writers that want a file name (``soundfile.write``, ``torch.save``, ``savefig``).
    The temporary keeps the final suffix so format sniffing by extension still works.
    """
    path = Path(path)
    try:
        tmp = _tmp_sibling(path, suffix=path.suffix)
    except OSError as exc:
        full = disk_full_error(path, exc)
        if full is None:
            raise
        raise full from None
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as exc:
        full = disk_full_error(path, exc)  # before the temporary goes and frees its space
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if full is not None and full is not exc:
            raise full from exc
        raise


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs: Any) -> Iterator[Any]:
    """``open`` that writes to a temporary file and renames it onto ``path`` on success."""
    if not any(m in mode for m in "wx"):
        raise ValueError(f"atomic_open is for writing, got mode {mode!r}")
    with atomic_path(path) as tmp:
        with open(tmp, mode.replace("x", "w"), **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def read_json_object(path: str | os.PathLike) -> dict[str, Any]:
    """A JSON object written by :func:`atomic_write_json`; ``{}`` when the file is absent,
    unreadable, not JSON or not an object (state files: a missing state is no state)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Build a folder under a temporary name and move it to ``path`` when the block succeeds.

    An existing ``path`` is never half-overwritten: it is only replaced (``overwrite=True``)
    after the new folder is complete; otherwise ``FileExistsError`` is raised up front.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists (use --force to replace it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent, path.name)  # left by a killed earlier run
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.{_owner()}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700 folders
    try:
        yield tmp
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.{_owner()}.", suffix=".old", dir=path.parent))
            os.replace(path, old / "x")
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException as exc:
        full = disk_full_error(path, exc)  # a writer inside the folder that does not name its file
        shutil.rmtree(tmp, ignore_errors=True)
        if full is not None and full is not exc:
            raise full from exc
        raise
