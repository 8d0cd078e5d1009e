"""Worker processes that die with their parent.

``kill -9`` of ``jointsed synth`` or ``jointsed features`` used to leave the pool's workers
blocked forever on their task queue (~170 MB each): SIGKILL gives the parent no chance to stop
them, and a worker waiting for work never notices. Every pool worker therefore runs
:func:`exit_with_parent` from its initializer: a daemon thread that checks every
:data:`POLL_SECONDS` whether the process that started it is still its parent (a dead parent's
children are re-parented to init or a sub-reaper) and ends the worker at once when not. This works
on every POSIX system and with ``fork`` and ``spawn`` pools alike (``prctl(PR_SET_PDEATHSIG)`` was
not used: it fires when the parent *thread* that started the worker exits, which is not the same).
"""

from __future__ import annotations

import os
import threading
import time

__all__ = ["POLL_SECONDS", "exit_with_parent"]

#: how often a worker checks its parent (an orphan lives at most this long)
POLL_SECONDS = 0.25


def _parent_alive(parent_pid: int) -> bool:
    return os.getppid() == parent_pid


def exit_with_parent(parent_pid: int) -> None:
    """In a worker process: end it (``os._exit``) as soon as ``parent_pid`` is no longer its parent.

    Args:
        parent_pid: ``os.getpid()`` of the process that created the pool, passed in the
            initializer's arguments (reading ``os.getppid()`` in the worker would miss a parent
            that died before the worker started).
    """
    if not _parent_alive(parent_pid):
        os._exit(1)

    def watch() -> None:
        while _parent_alive(parent_pid):
            time.sleep(POLL_SECONDS)
        os._exit(1)  # no cleanup: the parent that would collect our results is gone

    threading.Thread(target=watch, name="jointsed-parent-watch", daemon=True).start()
