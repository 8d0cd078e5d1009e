"""One writer per run folder: ``RUN_DIR/train.lock`` (:data:`~jointsed.runs.layout.LOCK_FILE`).

Two ``jointsed train`` processes on one ``--out`` would both write checkpoints, logs and
``finished.json`` into it and leave a folder that is neither run. :func:`run_lock` holds an
exclusive ``flock`` on the lock file while a run trains; the file says who holds it (pid, host,
command, start time), so a second process is refused with that information.

Why ``flock`` and not only "the file exists": the kernel drops the lock when its holder dies, so a
run killed by ``kill -9`` or a crash of the machine leaves a file but no lock, and the next run
takes the folder over (with a note naming the dead holder) instead of asking the user to delete
it. Where the file system has no ``flock`` (``ENOLCK``, some network mounts), the pid is checked
instead: a lock of a dead pid on this host is stale; one of another host is respected.

Several processes of one run (Lightning DDP) share the lock: rank 0 takes it, the re-launched
ranks find the run folder through ``JOINTSED_RUN_DIR`` and take none
(:func:`jointsed.training.phases.train`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Optional

from jointsed.errors import JointsedError
from jointsed.runs.layout import LOCK_FILE


class RunLockedError(JointsedError):
    """The run folder is being written by another process (the message names it)."""


def lock_path(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / LOCK_FILE


def read_lock(run_dir: str | os.PathLike) -> dict[str, Any]:
    """What the lock file says about its holder ({} when there is none or it is unreadable)."""
    try:
        data = json.loads(lock_path(run_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def describe_holder(info: dict[str, Any]) -> str:
    """``pid 123 on host h since 2026-12-03 14:00:00 (jointsed train ...)``."""
    if not info:
        return "another process"
    text = f"pid {info.get('pid', '?')} on host {info.get('host', '?')} since {info.get('started', '?')}"
    return text + (f" ({info['command']})" if info.get("command") else "")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _stale(info: dict[str, Any]) -> bool:
    """A holder recorded on this host whose process is gone (the fallback without ``flock``)."""
    pid = info.get("pid")
    return info.get("host") == socket.gethostname() and isinstance(pid, int) and not _pid_alive(pid)


def held_by_other(run_dir: str | os.PathLike) -> Optional[dict[str, Any]]:
    """The holder's record when a live process other than this one trains in ``run_dir``, else
    None (no lock file, a stale one, or ours). Does not take the lock."""
    path = lock_path(run_dir)
    if not path.is_file():
        return None
    info = read_lock(run_dir)
    if info.get("pid") == os.getpid() and info.get("host") == socket.gethostname():
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return info or {"pid": "?"}
    except OSError:  # no flock here: judge by the pid
        return None if _stale(info) else (info or None)
    finally:
        os.close(fd)  # closing drops a lock we may just have taken
    return None


def _my_record(command: Optional[str]) -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname(),
            "command": command if command is not None else "jointsed " + " ".join(sys.argv[1:]),
            "started": time.strftime("%Y-%m-%d %H:%M:%S")}


def _refuse(run_dir: Path, info: dict[str, Any]) -> RunLockedError:
    return RunLockedError(
        f"{run_dir} is being trained by {describe_holder(info)}: one writer per run folder. Wait for it, "
        f"stop it, or choose another --out (if that process is surely gone, delete {lock_path(run_dir)})"
    )


@contextlib.contextmanager
def run_lock(run_dir: str | os.PathLike, command: Optional[str] = None,
             note=lambda text: print(text, file=sys.stderr)) -> Iterator[dict[str, Any]]:
    """Hold the run folder's lock for the block (the folder is created if needed; a folder this
    call created and that is still empty at the end is removed again).

    Args:
        command: recorded in the lock file (default: this process's command line).
        note: where the note about a taken-over stale lock goes.
    Yields:
        the record written into the lock file.
    Raises:
        RunLockedError: a live process holds the lock, naming it.
    """
    run_dir = Path(run_dir)
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    path = lock_path(run_dir)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            use_flock = True
        except BlockingIOError:
            os.close(fd)
            raise _refuse(run_dir, read_lock(run_dir)) from None
        except OSError as exc:
            if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                os.close(fd)
                raise
            use_flock = False
        # the holder may have removed the file between our open and our flock: then we hold a
        # lock on a deleted file, and must lock the file that is there now
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    previous = read_lock(run_dir)
    if not use_flock and previous and not _stale(previous) and previous.get("pid") != os.getpid():
        os.close(fd)
        raise _refuse(run_dir, previous)
    if previous:  # a lock file without a lock: its holder died (kill -9, a crash)
        note(f"note: {path}: took over the lock of {describe_holder(previous)}, which is no longer running")
    record = _my_record(command)
    data = (json.dumps(record, indent=2) + "\n").encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)
    try:
        yield record
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # before the close: nobody can lock the old file in between and trust it
        os.close(fd)
        if created:
            with contextlib.suppress(OSError):
                run_dir.rmdir()  # only if empty: a command that failed before writing anything
