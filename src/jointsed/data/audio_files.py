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
    in the table has no audio file in ``folder``.

    A table's filename is a path relative to ``folder``: ``a.wav`` directly inside it,
    ``site1/a.wav`` in its subfolder ``site1``. A missing bare name that exists in a subfolder
    is named with the path the table should hold.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise AnnotationError(f"{table_path}: audio folder {folder} not found")
    present = {entry.name for entry in os.scandir(folder)}  # one listing: fast for the flat DESED layout
    filenames = list(filenames)
    absolute = [name for name in filenames if Path(name).is_absolute()]
    if absolute:
        raise AnnotationError(f"{table_path}: filename {absolute[0]} is an absolute path; the table's "
                              f"filenames are paths relative to the audio folder {folder}")
    missing = [name for name in filenames
               if not (name in present if "/" not in name else (folder / name).is_file())]
    if missing:
        shown = ", ".join(missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        hint = _subfolder_hint(missing, folder)
        raise AnnotationError(
            f"{table_path}: {len(missing)} of {len(filenames)} listed audio file(s) missing "
            f"from {folder}: {shown}{more} (filenames are paths relative to {folder}, "
            f"e.g. site1/a.wav for {folder / 'site1' / 'a.wav'}){hint}"
        )


def _subfolder_hint(missing: list[str], folder: Path) -> str:
    # the case of audio kept in subfolders while the table holds bare names: say which path fits
    bare = {name for name in missing if "/" not in name}
    if not bare:
        return ""
    found = {}
    for path in folder.rglob("*"):
        if path.name in bare and path.name not in found and path.parent != folder and path.is_file():
            found[path.name] = path.relative_to(folder).as_posix()
    if not found:
        return ""
    name = next(n for n in missing if n in found)  # the table's first
    relative = found[name]
    return (f"; {len(found)} of them are in subfolders, e.g. {name} is {relative}: "
            "write that path in the table")
