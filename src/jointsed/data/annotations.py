"""Reading and writing DESED annotation tables (tab-separated files).

Formats (DESED / DCASE Task 4):

* strong: ``filename  onset  offset  event_label`` (seconds). A clip without any event has one
  row with empty onset, offset and label.
* weak: ``filename  event_labels`` with comma-separated labels.
* durations: ``filename  duration`` (seconds).
* filename lists: a ``filename`` column (e.g. ``unlabel_in_domain.tsv``).

The tables are parsed line by line (not with pandas) so that every problem is reported as
``AnnotationError("<file>, line <n>: <problem>")``, with line numbers counted from 1 on the
header line. Extra columns (e.g. the ``index`` column written by the DCASE baseline) are
ignored; the columns are located by header name, in any order.

Checks of the tables against the class list and the clips' lengths are in
:mod:`.annotation_checks`; audio files in folders (extensions, listing, a table's clips against a
folder) in :mod:`.audio_files`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import csv
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence


from jointsed.data.classes import DESED_CLASSES
from jointsed.errors import JointsedError
from jointsed.utils.atomic import atomic_open

STRONG_COLUMNS = ("filename", "onset", "offset", "event_label")
WEAK_COLUMNS = ("filename", "event_labels")
DURATION_COLUMNS = ("filename", "duration")
_SEPARATED = {"\t": "tab-separated", ",": "comma-separated"}


if TYPE_CHECKING:
    import pandas as pd


class AnnotationError(JointsedError, ValueError):
    """A malformed annotation table; the message reads ``"<file>, line <n>: <problem>"``."""


class AnnotationWarning(UserWarning):
    """A table that is used, but not entirely as written (e.g. events cut at the clip's end)."""


@dataclass(frozen=True)
class Event:
    """One sound event: ``event_label`` active in ``filename`` from ``onset`` to ``offset`` (s)."""

    filename: str
    onset: float
    offset: float
    event_label: str


@dataclass
class StrongAnnotations:
    """Strong (time-stamped) labels of a set of clips.

    ``filenames`` lists every clip in first-seen order, including clips without any event.
    """

    path: Path | None
    events: list[Event]
    filenames: list[str] = field(default_factory=list)

    def by_file(self) -> dict[str, list[Event]]:
        """Events grouped per clip; every clip of ``filenames`` is a key (``[]`` if no event)."""
        grouped: dict[str, list[Event]] = {name: [] for name in self.filenames}
        for event in self.events:
            grouped.setdefault(event.filename, []).append(event)
        return grouped

    def to_dataframe(self) -> "pd.DataFrame":
        """Event rows only, columns ``filename, onset, offset, event_label``."""
        import pandas as pd  # imported here: inference and the CLI start faster without pandas

        return pd.DataFrame(
            [(e.filename, e.onset, e.offset, e.event_label) for e in self.events],
            columns=list(STRONG_COLUMNS),
        ).astype({"filename": str, "onset": float, "offset": float, "event_label": str})


@dataclass
class WeakAnnotations:
    """Clip-level labels: ``labels[filename]`` is the tuple of classes present (file order)."""

    path: Path | None
    labels: dict[str, tuple[str, ...]]

    @property
    def filenames(self) -> list[str]:
        return list(self.labels)


# --------------------------------------------------------------------------------------------
# parsing helpers


@dataclass
class _Row:
    line: int  # 1-based line number in the file
    values: dict[str, str]


def _read_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: tolerate a byte-order mark
    except FileNotFoundError:
        raise AnnotationError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise AnnotationError(f"{path}: is a folder, expected a .tsv file") from None
    except UnicodeDecodeError as exc:
        raise AnnotationError(f"{path}: not a UTF-8 text file ({exc.reason})") from None
    except OSError as exc:
        raise AnnotationError(f"{path}: cannot be read ({exc.strerror})") from None
    # split on "\n" only (str.splitlines would also split on form feeds etc.); tolerate CRLF
    return [line.rstrip("\r") for line in text.split("\n")]


def _split(line: str, delimiter: str) -> list[str]:
    if delimiter == "\t":
        return line.split("\t")  # DESED tsvs have no quoting: a quote is an ordinary character
    return next(csv.reader([line], delimiter=delimiter))


def _iter_rows(
    path: Path, required: Sequence[str], delimiter: str = "\t"
) -> tuple[list[str], Iterator[_Row]]:
    """Check the header of ``path`` and yield its data rows as ``column -> text`` dicts.

    Fully blank lines are skipped (trailing newlines); every other line must have as many
    fields as the header.
    """
    lines = _read_lines(path)
    if not any(line.strip() for line in lines):
        raise AnnotationError(
            f"{path}, line 1: empty file, expected a header line "
            f"'{delimiter.join(required)}' ({_SEPARATED[delimiter]})"
        )
    header_index = next(i for i, line in enumerate(lines) if line.strip())
    header_line = lines[header_index]
    header = [name.strip() for name in _split(header_line, delimiter)]
    missing = [name for name in required if name not in header]
    if missing:
        raise AnnotationError(
            f"{path}, line {header_index + 1}: missing column(s) {', '.join(missing)}; "
            f"expected a {_SEPARATED[delimiter]} header '{delimiter.join(required)}', "
            f"got '{header_line.strip()}'"
        )
    duplicated = sorted({name for name in header if header.count(name) > 1 and name})
    if duplicated:
        raise AnnotationError(
            f"{path}, line {header_index + 1}: column(s) {', '.join(duplicated)} appear twice"
        )

    def rows() -> Iterator[_Row]:
        for index in range(header_index + 1, len(lines)):
            line = lines[index]
            if not line.strip(" "):
                continue  # blank line
            fields = _split(line, delimiter)
            if [f.strip() for f in fields] == header:
                raise AnnotationError(
                    f"{path}, line {index + 1}: duplicate header line "
                    f"(files concatenated?); the header belongs on line {header_index + 1} only"
                )
            if len(fields) != len(header):
                raise AnnotationError(
                    f"{path}, line {index + 1}: expected {len(header)} "
                    f"{_SEPARATED[delimiter]} fields "
                    f"({', '.join(header)}), got {len(fields)}"
                )
            yield _Row(index + 1, {name: value.strip() for name, value in zip(header, fields)})

    return header, rows()


def _parse_time(path: Path, row: _Row, column: str) -> float:
    text = row.values[column]
    try:
        value = float(text)
    except ValueError:
        raise AnnotationError(
            f"{path}, line {row.line}: {column} {text!r} is not a number"
        ) from None
    if not math.isfinite(value):
        raise AnnotationError(f"{path}, line {row.line}: {column} {text!r} is not a finite number")
    if value < 0:
        raise AnnotationError(f"{path}, line {row.line}: negative {column} {text}")
    return value


def _check_label(path: Path, line: int, label: str, classes: Sequence[str] | None) -> str:
    if not label:
        raise AnnotationError(f"{path}, line {line}: empty event label")
    if classes is None and "\\" in label:  # a known class list is checked as a whole
        raise AnnotationError(f"{path}, line {line}: event label {label!r} contains a backslash, which "
                              "sed_scores_eval (PSDS, frame scores) cannot store; rename the class")
    if classes is not None and label not in classes:
        raise AnnotationError(
            f"{path}, line {line}: unknown label {label!r}; valid labels: {', '.join(classes)}"
        )
    return label


def _check_filename(path: Path, row: _Row) -> str:
    name = row.values["filename"]
    if not name:
        raise AnnotationError(f"{path}, line {row.line}: empty filename")
    return name


# --------------------------------------------------------------------------------------------
# readers


def read_strong_tsv(
    path: str | os.PathLike,
    classes: Sequence[str] | None = DESED_CLASSES,
    *,
    delimiter: str = "\t",
) -> StrongAnnotations:
    """Read a strong-label tsv (``filename onset offset event_label``).

    A row whose onset, offset and label are all empty marks a clip without events; a row with
    only some of them empty is an error. ``classes=None`` accepts any label. ``delimiter=","``
    reads the same table stored as CSV (e.g. the DCASE baseline's ``predictions*.csv``, whose
    unnamed index column is ignored like any extra column).
    """
    if delimiter not in _SEPARATED:
        raise ValueError(f"delimiter must be a tab or a comma, got {delimiter!r}")
    path = Path(path)
    _, rows = _iter_rows(path, STRONG_COLUMNS, delimiter)
    events: list[Event] = []
    filenames: dict[str, None] = {}  # ordered set
    for row in rows:
        filename = _check_filename(path, row)
        filenames.setdefault(filename)
        parts = [row.values[c] for c in ("onset", "offset", "event_label")]
        if not any(parts):
            continue  # clip without any event
        if not all(parts):
            empty = [c for c, v in zip(("onset", "offset", "event_label"), parts) if not v]
            raise AnnotationError(
                f"{path}, line {row.line}: empty {', '.join(empty)} (leave onset, offset and "
                "event_label all empty only for a clip without events)"
            )
        onset = _parse_time(path, row, "onset")
        offset = _parse_time(path, row, "offset")
        if onset >= offset:
            raise AnnotationError(
                f"{path}, line {row.line}: onset {row.values['onset']} is not before "
                f"offset {row.values['offset']}"
            )
        label = _check_label(path, row.line, row.values["event_label"], classes)
        events.append(Event(filename, onset, offset, label))
    return StrongAnnotations(path=path, events=events, filenames=list(filenames))


def read_weak_tsv(
    path: str | os.PathLike, classes: Sequence[str] | None = DESED_CLASSES
) -> WeakAnnotations:
    """Read a weak-label tsv (``filename event_labels``, labels comma-separated).

    An empty ``event_labels`` field means a clip with no class present. Each clip may appear
    only once.
    """
    path = Path(path)
    _, rows = _iter_rows(path, WEAK_COLUMNS)
    labels: dict[str, tuple[str, ...]] = {}
    first_line: dict[str, int] = {}
    for row in rows:
        filename = _check_filename(path, row)
        if filename in labels:
            raise AnnotationError(
                f"{path}, line {row.line}: clip {filename} already listed on line "
                f"{first_line[filename]}"
            )
        text = row.values["event_labels"]
        names = [name.strip() for name in text.split(",")] if text else []
        clip_labels: list[str] = []
        for name in names:
            _check_label(path, row.line, name, classes)
            if name not in clip_labels:
                clip_labels.append(name)
        labels[filename] = tuple(clip_labels)
        first_line[filename] = row.line
    return WeakAnnotations(path=path, labels=labels)


def read_durations_tsv(path: str | os.PathLike) -> dict[str, float]:
    """Read a ``filename duration`` tsv into ``{filename: seconds}`` (durations > 0)."""
    path = Path(path)
    _, rows = _iter_rows(path, DURATION_COLUMNS)
    durations: dict[str, float] = {}
    first_line: dict[str, int] = {}
    for row in rows:
        filename = _check_filename(path, row)
        if filename in durations:
            raise AnnotationError(
                f"{path}, line {row.line}: clip {filename} already listed on line "
                f"{first_line[filename]}"
            )
        duration = _parse_time(path, row, "duration")
        if duration == 0:
            raise AnnotationError(f"{path}, line {row.line}: duration of {filename} is zero")
        durations[filename] = duration
        first_line[filename] = row.line
    return durations


def read_filenames_tsv(path: str | os.PathLike) -> list[str]:
    """Read the ``filename`` column of a tsv (e.g. ``unlabel_in_domain.tsv``); no duplicates."""
    path = Path(path)
    _, rows = _iter_rows(path, ("filename",))
    first_line: dict[str, int] = {}
    for row in rows:
        filename = _check_filename(path, row)
        if filename in first_line:
            raise AnnotationError(
                f"{path}, line {row.line}: clip {filename} already listed on line "
                f"{first_line[filename]}"
            )
        first_line[filename] = row.line
    return list(first_line)


# --------------------------------------------------------------------------------------------
# writers (atomic; what they write reads back identically)


def _format_time(value: float) -> str:
    # repr of a Python float is the shortest text that parses back to the same float
    return repr(float(value))


def _check_field(value: str, what: str) -> str:
    if not value or any(c in value for c in "\t\n\r"):
        raise ValueError(f"{what} {value!r} is empty or contains a tab or newline")
    return value


#: decimals of the times of detection tables (``jointsed predict --out``): whole milliseconds,
#: far finer than any frame hop, and ``10.04`` rather than the ``10.040000000000001`` of 251 * 0.04
DETECTION_DECIMALS = 3


def write_strong_tsv(
    path: str | os.PathLike, events: Iterable[Event], empty_files: Iterable[str] = (),
    decimals: int | None = None,
) -> None:
    """Write events (in the given order) as a strong tsv, then one empty row per clip of
    ``empty_files`` that has no event, so that such clips survive a round trip.

    ``decimals``: round the times to this many decimals (detections, see
    :data:`DETECTION_DECIMALS`); ``None`` writes them exactly (labels round-trip bit for bit).
    """
    events = list(events)
    if decimals is not None:
        events = [Event(e.filename, round(e.onset, decimals), round(e.offset, decimals), e.event_label)
                  for e in events]
    with_events = {e.filename for e in events}
    lines = ["\t".join(STRONG_COLUMNS)]
    for e in events:
        if not e.onset < e.offset or e.onset < 0:
            raise ValueError(f"invalid event times {e}")
        lines.append(
            "\t".join(
                (
                    _check_field(e.filename, "filename"),
                    _format_time(e.onset),
                    _format_time(e.offset),
                    _check_field(e.event_label, "event label"),
                )
            )
        )
    written_empty: set[str] = set()
    for name in empty_files:
        if name not in with_events and name not in written_empty:
            lines.append(f"{_check_field(name, 'filename')}\t\t\t")
            written_empty.add(name)
    _write_lines(path, lines)


def write_weak_tsv(path: str | os.PathLike, labels: Mapping[str, Sequence[str]]) -> None:
    """Write ``{filename: labels}`` as a weak tsv (labels comma-separated)."""
    lines = ["\t".join(WEAK_COLUMNS)]
    for name, clip_labels in labels.items():
        for label in clip_labels:
            if "," in label:
                raise ValueError(f"event label {label!r} contains a comma")
            _check_field(label, "event label")
        lines.append(f"{_check_field(name, 'filename')}\t{','.join(clip_labels)}")
    _write_lines(path, lines)


def write_durations_tsv(path: str | os.PathLike, durations: Mapping[str, float]) -> None:
    """Write ``{filename: seconds}`` as a durations tsv."""
    lines = ["\t".join(DURATION_COLUMNS)]
    lines += [
        f"{_check_field(name, 'filename')}\t{_format_time(d)}" for name, d in durations.items()
    ]
    _write_lines(path, lines)


def write_filenames_tsv(path: str | os.PathLike, filenames: Iterable[str]) -> None:
    """Write a one-column ``filename`` tsv."""
    lines = ["filename"] + [_check_field(name, "filename") for name in filenames]
    _write_lines(path, lines)


def _write_lines(path: str | os.PathLike, lines: list[str]) -> None:
    with atomic_open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("\n".join(lines) + "\n")
