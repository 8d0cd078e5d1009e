"""The one place that reads checkpoints: safely, whatever the torch version.

A checkpoint is a pickle; unpickling an arbitrary one runs arbitrary code. Every checkpoint
jointsed reads (``--resume``, ``--init``, predict, evaluate, tune, report, the frame teacher) goes
through :func:`read_checkpoint`, which always passes ``weights_only=True`` (tensors, containers
and plain data only; an object of any other class is refused before it is built). Lightning's own
loading for ``--resume`` is routed here too (:class:`jointsed.training.trainer.AtomicCheckpointIO`),
and :func:`verify_checkpoint` checks a file up front so a bad one fails before any data is
loaded. The torch floor is 2.6 (``pyproject.toml``): older torch's ``weights_only`` unpickler had
a known bypass (CVE-2025-32434).

Corrupt, empty, truncated or foreign files raise :class:`CheckpointError` naming the file.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any, Mapping

import torch

from jointsed.errors import JointsedError
from jointsed.runs.layout import BEST_CHECKPOINT, LAST_CHECKPOINT, model_checkpoint

#: the block every jointsed checkpoint carries besides Lightning's keys (written by
#: :func:`jointsed_block`, through ``SEDSystem.on_save_checkpoint``)
FORMAT_KEY = "jointsed"
#: its format name
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


#: how torch checkpoints start: a zip archive (torch >= 1.6), or a pickle (older, protocol 2+)
_CHECKPOINT_MAGIC = (b"PK\x03\x04", b"\x80")


def _foreign_file(path: Path) -> str | None:
    """Why ``path`` cannot be a torch checkpoint at all (a text file, an image...), or None."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError:
        return None  # torch.load reports it
    if head.startswith(_CHECKPOINT_MAGIC):
        return None
    link = f" (a symbolic link to {os.readlink(path)})" if path.is_symlink() else ""
    shown = head[:24].decode("latin-1").encode("unicode_escape").decode("ascii")
    return (f"the file{link} is neither a zip archive nor a pickle, the two formats of torch checkpoints "
            f"(it starts with {shown!r})")


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
    foreign = _foreign_file(path)
    if foreign:  # torch's errors for these say nothing useful ("IndexError: list index out of range")
        raise CheckpointError(f"{path}: not a checkpoint: {foreign}")
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


def jointsed_block(system: str, config: Mapping[str, Any], meta: Mapping[str, Any],
                   history: list[dict[str, Any]], clips_seen: int) -> dict[str, Any]:
    """The ``checkpoint["jointsed"]`` block (plain data only, so that :func:`read_checkpoint`
    can read it with ``weights_only``).

    Args:
        system: ``config["system"]`` (guided_learning, mean_teacher, frame_teacher).
        config: the resolved recipe as plain data.
        meta: the model's settings (:func:`jointsed.runs.settings.to_meta`).
        history: validation metrics of every epoch so far.
        clips_seen: training clips this process has seen (the run's budget, kept for --resume).
    """
    return {"format": CHECKPOINT_FORMAT, "system": system, "config": dict(config), "meta": dict(meta),
            "history": list(history), "clips_seen": int(clips_seen)}


def weights_checksum(weights: torch.nn.Module | Mapping[str, torch.Tensor]) -> str:
    """SHA-256 of every parameter and buffer (name, dtype, shape, bytes), in name order.

    Accepts a module or a state dict (e.g. a checkpoint's ``state_dict``): both give the same hash.
    """
    state = weights.state_dict() if isinstance(weights, torch.nn.Module) else weights
    h = hashlib.sha256()
    for name, tensor in sorted(state.items()):
        t = tensor.detach().cpu().contiguous()
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """A checkpoint file from a checkpoint path or a run folder (best.ckpt, else last.ckpt).

    Raises:
        CheckpointError: nothing there, or a folder without checkpoints.
    """
    path = Path(path)
    if path.is_file():
        return path
    if path.is_dir():
        # a run folder, or its checkpoints/ folder itself
        for candidate in (model_checkpoint(path), path / BEST_CHECKPOINT, path / LAST_CHECKPOINT):
            if candidate is not None and candidate.is_file():
                return candidate
        raise CheckpointError(f"{path}: no checkpoints/{BEST_CHECKPOINT} or checkpoints/{LAST_CHECKPOINT} in this folder")
    raise CheckpointError(f"{path}: checkpoint or run folder not found")


def run_dir_of(run_or_checkpoint: str | os.PathLike) -> Path:
    """The run folder: the folder itself, or for ``RUN_DIR/checkpoints/x.ckpt`` (or
    ``RUN_DIR/x.ckpt``) the folder above."""
    path = Path(run_or_checkpoint)
    if path.is_dir():
        return path
    parent = path.resolve().parent
    return parent.parent if parent.name == "checkpoints" else parent


def checkpoint_identity(checkpoint: Path) -> dict[str, Any]:
    """Path, size and modification time of a checkpoint: what was derived from it (raw scores)
    is reused only for the same identity (retraining into the same folder changes the time)."""
    stat = checkpoint.stat()
    return {"path": str(checkpoint.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
