"""A training run stopped by a signal: a non-zero exit, where it stopped, how to go on.

Lightning's own handling (2.6) is what runs while a trainer fits, and is kept: its
``_SignalConnector`` turns SIGTERM into a flag, the loops stop at the next batch boundary with
``SIGTERMException`` (DDP ranks agree through a broadcast, the launcher forwards the signal to the
re-launched ranks), and Ctrl-C becomes ``sys.exit(1)`` after the callbacks' ``on_exception``. Both
are ``SystemExit``: left alone, SIGTERM ends the command with status 0 and no ``finished.json``,
and ``train ... && tune ...`` goes on with a half-trained model.

:class:`InterruptionRecorder` (a callback) notes which signal stopped the fit;
:func:`stopped_by_signal` turns that ``SystemExit`` (or a ``KeyboardInterrupt`` / SIGTERM outside
the fit) into :class:`TrainingInterrupted`, which the CLI prints and exits with 128 + the signal
number (143, 130). The folder keeps ``checkpoints/last.ckpt`` of the last completed epoch and no
``finished.json``: ``--resume`` continues it, and tune / evaluate / predict see an unfinished run
(:func:`jointsed.runs.state.unfinished_reason`).
"""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path
from typing import Any, Iterator, Optional

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities.exceptions import SIGTERMException

from jointsed.errors import Interrupted
from jointsed.runs.layout import last_checkpoint
from jointsed.utils.signals import Terminated, signal_name


class TrainingInterrupted(Interrupted):
    """``jointsed train`` stopped by SIGTERM / SIGINT; the message says where and how to resume."""

    def __init__(self, signum: int, phase: str, run_dir: Path, epoch: Optional[int], epochs: Optional[int]) -> None:
        self.phase, self.run_dir, self.epoch, self.epochs = phase, Path(run_dir), epoch, epochs
        #: the folder given as --out (the top of a multi-phase run; set by ``train``)
        self.out_dir: Optional[Path] = None
        super().__init__("", signum)

    def completed_epochs(self) -> int:
        """Epochs saved in ``last.ckpt`` (0 when there is none)."""
        from jointsed.runs.checkpoint import CheckpointError, read_checkpoint

        last = last_checkpoint(self.run_dir)
        if not last.is_file():
            return 0
        try:
            return int(read_checkpoint(last).get("epoch", -1)) + 1
        except (CheckpointError, TypeError, ValueError):
            return 0

    def __str__(self) -> str:
        out = self.out_dir or self.run_dir
        where = f"{'training' if self.phase == 'run' else self.phase} ({self.run_dir})"
        if self.epoch is not None:
            where += f" in epoch {self.epoch + 1}" + (f" of {self.epochs}" if self.epochs else "")
        done = self.completed_epochs()
        if done:
            then = (f"{done} epoch(s) are saved in {last_checkpoint(self.run_dir)}; continue with the same "
                    f"`jointsed train` command plus --resume --out {out}")
        else:
            then = (f"no epoch of this phase was completed, so nothing to resume here: run the same "
                    f"`jointsed train` command again{' with --resume' if out != self.run_dir else ''} "
                    f"(--out {out}) to start it over")
        return (f"interrupted by {signal_name(self.signum)} during {where}; the run is unfinished "
                f"(no finished.json). {then}")


class InterruptionRecorder(Callback):
    """Notes the signal (and epoch) behind the exception that ended a fit."""

    def __init__(self) -> None:
        self.signum: Optional[int] = None
        self.epoch: Optional[int] = None

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        if isinstance(exception, (SIGTERMException, Terminated)):
            self.signum = int(signal.SIGTERM)
        elif isinstance(exception, KeyboardInterrupt):
            self.signum = int(signal.SIGINT)
        self.epoch = trainer.current_epoch


@contextlib.contextmanager
def stopped_by_signal(phase: str, run_dir: Path, epochs: Optional[int] = None,
                      recorder: Optional[InterruptionRecorder] = None, trainer: Any = None) -> Iterator[None]:
    """Raise :class:`TrainingInterrupted` for a signal that stops the block.

    Args:
        phase: what was running (``run``, ``stage 1``, ``frame teacher``, ``loading the data``).
        run_dir: the phase's folder.
        epochs: the phase's number of epochs (for the message).
        recorder, trainer: of a ``trainer.fit`` in the block (the epoch it stopped in).
    """
    def interrupted(signum: int) -> TrainingInterrupted:
        epoch = recorder.epoch if recorder is not None and recorder.epoch is not None else (
            getattr(trainer, "current_epoch", None))
        return TrainingInterrupted(signum, phase, run_dir, epoch, epochs)

    try:
        yield
    except SystemExit as exc:  # Lightning's ways out: SIGTERMException, sys.exit(1) after Ctrl-C
        signum = int(signal.SIGTERM) if isinstance(exc, SIGTERMException) else (recorder.signum if recorder else None)
        if signum is None:
            raise
        raise interrupted(signum) from None
    except KeyboardInterrupt:
        raise interrupted(int(signal.SIGINT)) from None
    except Terminated:
        raise interrupted(int(signal.SIGTERM)) from None
