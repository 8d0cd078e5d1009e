"""The sound event classes of DESED (DCASE 2019-2023 Task 4), in the official order, and the
class lists of one's own data (given as ``a,b,c`` or a file, or read from a ground truth)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence

from jointsed.errors import JointsedError


class ClassListError(JointsedError, ValueError):
    """A class list that cannot be used (empty, duplicate names, unreadable file)."""


DESED_CLASSES: tuple[str, ...] = (
    "Alarm_bell_ringing",
    "Blender",
    "Cat",
    "Dishes",
    "Dog",
    "Electric_shaver_toothbrush",
    "Frying",
    "Running_water",
    "Speech",
    "Vacuum_cleaner",
)

#: sizes of the real DESED / DCASE 2019 sets (the synthesizer's layouts come from their metadata)
N_REAL_VALIDATION = 1168
N_REAL_PUBLIC_EVAL = 692
N_REAL_SYNTHETIC = 2045
N_REAL_WEAK = 1578
N_REAL_UNLABELLED = 14412  # size of DESED's unlabel_in_domain set (the file list is not shipped)


def parse_classes(spec: str | os.PathLike | Sequence[str]) -> tuple[str, ...]:
    """A class list from ``a,b,c``, from a text file of one class per line (``#`` comments and
    blank lines skipped), or from a sequence of names; the order given is the official order.

    Raises:
        ClassListError: an empty list, an empty or duplicate name, an unreadable file.
    """
    source = "classes"
    if isinstance(spec, os.PathLike) or (isinstance(spec, str) and Path(spec).is_file()):
        path = Path(spec)
        source = str(path)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ClassListError(f"{path}: cannot read the class list ({exc})") from None
        names = [line.split("#", 1)[0].strip() for line in lines]
        names = [n for n in names if n]
    elif isinstance(spec, str):
        names = [n.strip() for n in spec.split(",")]
        if any(not n for n in names):
            raise ClassListError(f"classes {spec!r}: an empty class name (give a,b,c or a file of one class per line)")
    else:
        names = [str(n) for n in spec]
        if any(not n.strip() for n in names):
            raise ClassListError(f"classes {names!r}: an empty class name")
    if not names:
        raise ClassListError(f"{source}: no class names")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ClassListError(f"{source}: class {name!r} is listed twice")
        seen.add(name)
    return tuple(names)


def resolve_classes(
    spec: str | os.PathLike | Sequence[str] | None,
    ground_truth: str | os.PathLike,
) -> tuple[tuple[str, ...], Optional[str]]:
    """The classes to evaluate ``ground_truth`` with, and a note saying where they came from
    when they were not given.

    ``spec`` given: :func:`parse_classes`. Otherwise DESED's classes when every label of the
    ground truth is one of them (the DESED evaluation sets, whose class list is fixed even
    where a set misses a class), else the ground truth's own labels in sorted order: a class
    the ground truth never names (but the predictions do) then needs ``spec``.
    """
    if spec is not None:
        return parse_classes(spec), None
    from jointsed.data.annotations import read_strong_tsv

    labels = {e.event_label for e in read_strong_tsv(ground_truth, None).events}
    if labels <= set(DESED_CLASSES):  # also a truth without any event
        return DESED_CLASSES, None
    inferred = tuple(sorted(labels))
    note = (f"classes inferred from the labels of {ground_truth}: {', '.join(inferred)} "
            "(give the classes, e.g. --classes a,b,c, to set them and their order)")
    return inferred, note


def explain_unknown_label(exc: Exception, inferred: bool, how: str) -> Exception:
    """``exc`` with a hint when it is an unknown label and the classes were inferred from the
    ground truth (a class the predictions use but the truth never names): say how to give them."""
    if inferred and "unknown label" in str(exc):
        return type(exc)(f"{exc} (the classes were read from the ground truth's labels; give the full "
                         f"class list with {how})")
    return exc
