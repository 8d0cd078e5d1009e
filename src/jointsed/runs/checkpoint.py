"""The one place that reads checkpoints: safely, whatever the torch version.

A checkpoint is a pickle; unpickling an arbitrary one runs arbitrary code. Every checkpoint
jointsed reads (``--resume``, ``--init``, predict, evaluate, tune, report, the frame teacher) goes
through :func:`read_checkpoint`, which always passes ``weights_only=True`` (tensors, containers
and plain data only; an object of any other class is refused before it is built). Lightning's own
loading for ``--resume`` is routed here too (:class:`jointsed.training.engine.AtomicCheckpointIO`),
and :func:`verify_checkpoint` checks a file up front so a bad one fails before any data is
loaded. The torch floor is 2.6 (``pyproject.toml``): older torch's ``weights_only`` unpickler had
a known bypass (CVE-2025-32434).

Corrupt, empty, truncated or foreign files raise :class:`CheckpointError` naming the file.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any, Mapping

import torch

from jointsed.errors import JointsedError

#: the block every jointsed checkpoint carries (``SEDSystem.on_save_checkpoint``)
FORMAT_KEY = "jointsed"
#: its format name (= ``jointsed.training.systems.CHECKPOINT_FORMAT``, repeated here so that reading a
#: checkpoint, e.g. for ``jointsed predict``, does not import Lightning; a test checks they agree)
CHECKPOINT_FORMAT = "jointsed.checkpoint/1"


class CheckpointError(JointsedError):
    """A checkpoint that cannot be read safely or used (the message names the file)."""


def _reason(exc: BaseException) -> str:
    """A short, user-facing reason for a failed ``torch.load``."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    if isinstance(exc, pickle.UnpicklingError) and "weights_only" in str(exc):
        # torch's message: "Weights only load failed ... Unsupported global: GLOBAL os.system"
        globals_ = [line.strip() for line in text if "GLOBAL" in line or "Unsupported" in line]
        detail = f" ({globals_[0]})" if globals_ else ""
        return ("it holds Python objects other than tensors and plain data, which jointsed refuses to "
                f"load because unpickling them could run code{detail}")
    if isinstance(exc, (EOFError, zipfile.BadZipFile)) or "central directory" in str(exc) or "ran out of input" in str(exc).lower():
        return f"the file is truncated or corrupt ({type(exc).__name__}: {first})"
    return f"{type(exc).__name__}: {first}"


def read_checkpoint(path: str | os.PathLike, map_location: Any = "cpu", *, require_jointsed: bool = True) -> dict:
    """Load a checkpoint with ``weights_only=True``.

    Args:
        path: the checkpoint file.
        map_location: as for ``torch.load``.
        require_jointsed: also require the ``jointsed`` block (format name) of our checkpoints.
    Raises:
        CheckpointError: missing, empty, truncated, corrupt, unsafe (arbitrary objects) or foreign
            file; the message names ``path``.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: empty file (0 bytes), not a checkpoint; an interrupted copy? "
                              "Delete it, or resume from another checkpoint")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt, foreign or unsafe files
        raise CheckpointError(f"{path}: cannot read this checkpoint: {_reason(exc)}") from None
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("state_dict"), Mapping):
        raise CheckpointError(f"{path}: not a model checkpoint (no state_dict)")
    if require_jointsed:
        block = ckpt.get(FORMAT_KEY)
        if not isinstance(block, dict) or block.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{path}: not a jointsed checkpoint (no '{CHECKPOINT_FORMAT}' block)")
    return ckpt


def verify_checkpoint(path: str | os.PathLike) -> None:
    """Raise :class:`CheckpointError` unless ``path`` is a jointsed checkpoint that loads safely."""
    read_checkpoint(path)


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The weights (``state_dict``) of a jointsed checkpoint, read safely."""
    return dict(read_checkpoint(path)["state_dict"])
