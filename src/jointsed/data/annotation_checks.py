"""Checks of annotation tables against what they describe: class names and clip lengths.

* :func:`class_name_problem` / :func:`check_class_names` — a class name must be storable in the
  tables and in sed_scores_eval's files;
* :func:`check_events_within` — strong labels against the clips' durations (an event after the
  clip's end is an error, one that runs past it a warning).

Reading and writing the tables is :mod:`.annotations`; audio files against a table is
:mod:`.audio_files`.
"""

from __future__ import annotations

import warnings
from typing import Mapping, Sequence

from jointsed.data.annotations import AnnotationError, AnnotationWarning, StrongAnnotations


#: characters a class name may not contain: field and list separators of the tables, and the
#: backslash, which sed_scores_eval (PSDS, frame-score files) refuses with a bare AssertionError
_FORBIDDEN_IN_CLASS = {
    "\t": "a tab (tables separate their fields with tabs)",
    "\n": "a line break (tables have one row per line)",
    "\r": "a line break (tables have one row per line)",
    ",": "a comma (weak labels are comma-separated)",
    "\\": "a backslash (sed_scores_eval, used for PSDS and frame-score files, refuses it)",
}


def class_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a class name (``None``: it can)."""
    if not name or name != name.strip():
        return "empty or with leading/trailing spaces"
    for char, what in _FORBIDDEN_IN_CLASS.items():
        if char in name:
            return f"contains {what}"
    return None


def check_class_names(classes: Sequence[str], where: str = "data.classes") -> None:
    """Raise :class:`AnnotationError` naming ``where`` and the class if a name cannot be used."""
    for name in classes:
        problem = class_name_problem(str(name))
        if problem:
            raise AnnotationError(f"{where}: class name {name!r} {problem}; rename the class")
    dup = sorted({c for c in classes if list(classes).count(c) > 1})
    if dup:
        raise AnnotationError(f"{where}: class {dup[0]!r} is listed twice")


def check_events_within(
    annotations: StrongAnnotations, durations: Mapping[str, float] | float, what: str,
    tolerance: float = 0.05,
) -> int:
    """Strong labels against the clips' lengths (a single number: every clip's).

    An event that *starts* at or after the end of its clip is not in the audio: it would
    still become a clip tag and a missed event, so it is an error (the table does not match the
    audio). An event that *ends* past the clip (by more than ``tolerance`` s, e.g. rounding) is
    cut at the end of the clip: a warning with the count. Returns the number of such events.

    Raises:
        AnnotationError: naming ``what``'s file, the number of events and the first ones.
    """
    def length(name: str) -> float | None:
        return float(durations) if isinstance(durations, (int, float)) else durations.get(name)

    outside, cut = [], []
    for e in annotations.events:
        d = length(e.filename)
        if d is None:
            continue
        if e.onset >= d:
            outside.append(e)
        elif e.offset > d + tolerance:
            cut.append(e)
    if outside:
        shown = "; ".join(f"{e.filename} {e.event_label} {e.onset:g}-{e.offset:g} s (clip {length(e.filename):g} s)"
                          for e in outside[:3])
        raise AnnotationError(
            f"{annotations.path} ({what}): {len(outside)} event(s) start after the end of their clip, so they are "
            f"not in the audio: {shown}{'; ...' if len(outside) > 3 else ''}. Fix the table (or the durations)"
        )
    if cut:
        warnings.warn(
            f"{annotations.path} ({what}): {len(cut)} of {len(annotations.events)} event(s) end after their clip "
            f"(e.g. {cut[0].filename} {cut[0].event_label} to {cut[0].offset:g} s, clip {length(cut[0].filename):g} s); "
            "they are cut at the end of the clip", AnnotationWarning, stacklevel=2,
        )
    return len(cut)
