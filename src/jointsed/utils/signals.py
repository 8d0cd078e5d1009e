"""SIGTERM as an exception, so that a terminated command cleans up like an interrupted one.

Python's default SIGTERM action kills the process on the spot: no ``finally`` runs, atomic
writers leave their temporaries, the run lock stays, nothing says where the command stopped.
:func:`install_sigterm_handler` (called by the CLI) makes SIGTERM raise :class:`Terminated`
instead, the SIGTERM counterpart of ``KeyboardInterrupt``.

While Lightning trains, its ``_SignalConnector`` owns SIGTERM: it replaces the handler, keeps ours
in a chain and stops the fit gracefully at the next batch boundary (``SIGTERMException``). Our
handler then does nothing: it raises only when it is the process's handler itself, so a SIGTERM
before Lightning registered its own (while the data loads, while a checkpoint is restored) still
stops the command.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Optional


class Terminated(BaseException):
    """SIGTERM received (a ``BaseException``, like ``KeyboardInterrupt``: ``except Exception``
    blocks must not swallow it)."""

    signum = int(signal.SIGTERM)


def _on_sigterm(signum: int, frame: Optional[FrameType]) -> None:
    if signal.getsignal(signal.SIGTERM) is not _on_sigterm:
        return  # called through Lightning's handler chain: it stops the fit at the next batch
    raise Terminated()


def install_sigterm_handler() -> None:
    """Make SIGTERM raise :class:`Terminated` in this process (main thread only; a no-op where the
    default action was changed on purpose, e.g. ignored by ``nohup``-like launchers)."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _on_sigterm)


def signal_name(signum: int) -> str:
    """``SIGTERM``, ``SIGINT``... (``signal 42`` for unnamed ones)."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"
