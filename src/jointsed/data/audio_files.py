"""Audio files in folders: the extensions picked up, listing a folder, a table's clips against it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from jointsed.data.annotations import AnnotationError

#: Audio file extensions picked up in folders (formats libsndfile reads).
AUDIO_EXTENSIONS: tuple[str, ...] = (
    ".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au", ".w64", ".rf64", ".caf",
)


def list_audio_files(folder: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """Audio files (by extension, case-insensitive) inside ``folder``, sorted by path.

    Only the folder itself is searched unless ``recursive``. Hidden files (e.g. temporaries of
    interrupted writes) are skipped.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise AnnotationError(f"{folder}: audio folder not found")
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(
        p
        for p in candidates
        if p.suffix.lower() in AUDIO_EXTENSIONS and not p.name.startswith(".") and p.is_file()
    )


def check_audio_files(
    filenames: Iterable[str], folder: str | os.PathLike, table_path: str | os.PathLike | None
) -> None:
    """Raise ``AnnotationError`` naming ``table_path`` and the missing files if any clip listed
    in the table has no audio file in ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise AnnotationError(f"{table_path}: audio folder {folder} not found")
    present = {entry.name for entry in os.scandir(folder)}
    filenames = list(filenames)
    missing = [name for name in filenames if name not in present]
    if missing:
        shown = ", ".join(missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise AnnotationError(
            f"{table_path}: {len(missing)} of {len(filenames)} listed audio file(s) missing "
            f"from {folder}: {shown}{more}"
        )
