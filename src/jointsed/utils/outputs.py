"""Output paths checked before any work: never overwrite an input or a folder jointsed did not write.

Every command checks its outputs up front (a wrong ``--out`` used to surface only after all the
computation, as a traceback), with these rules:

* an output file may replace an earlier file, but never one of the command's inputs, and never a
  folder;
* an output folder is replaced (``--force``) only when jointsed wrote it: it holds the marker of
  its kind (``synth.json`` for a dataset, :data:`OWNER_FILE` for prediction scores, ``index.html``
  for a report) or is empty; otherwise the message says what is there;
* the place where the output goes must be writable (the nearest existing folder is checked).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, Optional, Sequence

from jointsed.errors import JointsedError

__all__ = ["OutputError", "OWNER_FILE", "check_output_file", "check_output_dir", "check_writable",
           "mark_owned", "describe_folder"]

#: marker left in output folders that have no other recognisable file (``predict --scores``)
OWNER_FILE = ".jointsed-output.json"


class OutputError(JointsedError):
    """An output path that would overwrite something it must not, or that cannot be written."""


def _nearest_existing(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_writable(path: str | os.PathLike, flag: str = "--out") -> None:
    """Raise :class:`OutputError` unless ``path`` (a file or folder to create) can be written:
    its nearest existing ancestor must be a writable folder."""
    path = Path(path)
    anchor = _nearest_existing(path.parent if not path.exists() else path)
    if anchor.is_file() and anchor.resolve() != path.resolve():
        raise OutputError(f"{flag} {path}: {anchor} is a file, not a folder")
    folder = anchor if anchor.is_dir() else anchor.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{flag} {path}: cannot write in {folder} (permission denied)")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output_file(path: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (), flag: str = "--out") -> None:
    """An output file: not an existing folder, not one of ``inputs``, writable."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{flag} {path}: is a folder; give a file name")
    for source in inputs:
        if _same_file(path, Path(source)):
            raise OutputError(f"{flag} {path}: is one of the inputs; it would be overwritten, give another file")
    check_writable(path, flag)


def describe_folder(folder: Path, limit: int = 5) -> str:
    """``'3 entries: a.wav, b.wav, notes/'``: what a folder holds, for messages."""
    entries = sorted(folder.iterdir(), key=lambda p: p.name)
    shown = [p.name + ("/" if p.is_dir() else "") for p in entries[:limit]]
    more = f", ... ({len(entries) - limit} more)" if len(entries) > limit else ""
    return f"{len(entries)} entries: {', '.join(shown)}{more}" if entries else "nothing"


def check_output_dir(
    path: str | os.PathLike,
    *,
    force: bool,
    owner_files: Sequence[str] = (OWNER_FILE,),
    inputs: Iterable[str | os.PathLike] = (),
    flag: str = "--out",
    kind: str = "output",
) -> None:
    """An output folder that will be created, or replaced with ``force`` if jointsed wrote it.

    Args:
        path: the folder.
        force: the user allows replacing an earlier output.
        owner_files: a file any of whose names in the folder proves jointsed wrote it.
        inputs: files and folders the command reads; none may lie inside ``path``.
        flag, kind: the option and the kind of output, for messages.
    Raises:
        OutputError: ``path`` is a file, holds an input, exists without ``force``, is not
            recognisably a jointsed output, or cannot be written.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{flag} {path}: is a file, not a folder")
    if path.is_dir():
        root = path.resolve()
        for source in inputs:
            src = Path(source).resolve()
            if src == root or root in src.parents:
                raise OutputError(f"{flag} {path}: holds the input {source}; replacing it would delete it, "
                                  "give another folder")
        if not force:
            raise OutputError(f"{flag} {path}: already exists (use --force to replace it)")
        if any(path.iterdir()) and not any((path / name).is_file() for name in owner_files):
            raise OutputError(
                f"{flag} {path}: exists and is not a jointsed {kind} (no {' or '.join(owner_files)}; it holds "
                f"{describe_folder(path)}); --force only replaces what jointsed wrote, choose another folder"
            )
    check_writable(path, flag)


def mark_owned(folder: str | os.PathLike, kind: str, extra: Optional[dict] = None) -> None:
    """Leave :data:`OWNER_FILE` in an output folder jointsed wrote (so ``--force`` may replace it)."""
    from jointsed import __version__
    from jointsed.utils.atomic import atomic_write_text

    info = {"written_by": f"jointsed {__version__}", "kind": kind, **(extra or {})}
    atomic_write_text(Path(folder) / OWNER_FILE, json.dumps(info, indent=2) + "\n")
