"""Labels in the formats people have, converted to DESED's strong and weak tables.

Sources (``jointsed import-labels``, or these functions):

* a CSV/TSV table with its own column names (:func:`read_table`; ``columns`` names the file,
  onset, offset and label columns, e.g. ``file,start,end,label``);
* Audacity label tracks (:func:`read_audacity`): one ``.txt`` per audio file, lines
  ``start<TAB>end<TAB>label``; the lines of spectral selections (starting with ``\\``) are
  skipped; the audio file is the label file's name with the audio extension;
* Raven selection tables (:func:`read_raven`): ``Begin Time (s)``, ``End Time (s)`` and a label
  column (``Annotation`` unless named); the rows of a selection repeated per view (waveform,
  spectrogram) count once; a ``Begin File`` column (with ``File Offset (s)``) names the audio
  file of each row, else the table is of one audio file (``rec1.Table.1.selections.txt`` is
  of ``rec1`` + the audio extension);
* a pandas DataFrame (:func:`from_dataframe`).

Each gives a :class:`~jointsed.data.annotations.StrongAnnotations`; :func:`write_labels` writes
it as a strong table and, if asked, the weak table derived from it. Every problem is an
:class:`~jointsed.data.annotations.AnnotationError` naming the file and line.
"""

from __future__ import annotations

import csv
import math
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Optional, Sequence

from jointsed.data.annotations import AnnotationError, Event, StrongAnnotations, write_strong_tsv, write_weak_tsv

if TYPE_CHECKING:
    import pandas as pd

#: the roles of the columns of a table, in the order ``columns`` names them
ROLES = ("filename", "onset", "offset", "label")
#: the columns a table is read with unless told (DESED's own names)
DEFAULT_COLUMNS = ("filename", "onset", "offset", "event_label")
RAVEN_LABEL_COLUMNS = ("Annotation", "Label", "Species", "Class")
FORMATS = ("table", "audacity", "raven")


def parse_columns(text: str | Sequence[str]) -> tuple[str, str, str, str]:
    """``"file,start,end,label"`` (or four names) -> the column names of the four roles."""
    names = [n.strip() for n in text.split(",")] if isinstance(text, str) else [str(n) for n in text]
    if len(names) != 4 or not all(names):
        raise AnnotationError(f"columns {text!r}: give four column names, file,onset,offset,label "
                              "(e.g. --columns file,start,end,label)")
    return names[0], names[1], names[2], names[3]


def _time(where: str, what: str, text: Any) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise AnnotationError(f"{where}: {what} {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise AnnotationError(f"{where}: {what} {text!r} is not a time in seconds (finite, >= 0)")
    return value


def _event(where: str, filename: Any, onset: Any, offset: Any, label: Any,
           classes: Optional[Sequence[str]]) -> Event:
    # ``where``: "<file>, line <n>" (or a DataFrame's row), the start of every message
    name = "" if filename is None else str(filename).strip()
    if not name:
        raise AnnotationError(f"{where}: empty filename")
    start, end = _time(where, "onset", onset), _time(where, "offset", offset)
    if not start < end:
        what = "a point label (onset = offset)" if start == end else f"onset {onset} is after offset {offset}"
        raise AnnotationError(f"{where}: {what}; a strong label needs onset < offset")
    text = "" if label is None else str(label).strip()
    if not text:
        raise AnnotationError(f"{where}: empty label")
    if any(c in text for c in "\t\n\r,\\"):  # the weak table separates labels by commas
        raise AnnotationError(f"{where}: label {text!r} contains a tab, comma, newline or backslash")
    if classes is not None and text not in classes:
        raise AnnotationError(f"{where}: unknown label {text!r}; valid labels: {', '.join(classes)}")
    return Event(name, start, end, text)


def _read_text(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8-sig").replace("\r\n", "\n").split("\n")
    except FileNotFoundError:
        raise AnnotationError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise AnnotationError(f"{path}: is a folder, expected a label file") from None
    except UnicodeDecodeError as exc:
        raise AnnotationError(f"{path}: not a UTF-8 text file ({exc.reason})") from None


def _header_table(path: Path, delimiter: Optional[str] = None) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    lines = _read_text(path)
    numbered = [(i + 1, line) for i, line in enumerate(lines) if line.strip()]
    if not numbered:
        raise AnnotationError(f"{path}, line 1: empty file, expected a header line")
    if delimiter is None:  # a .csv is comma-separated unless its header has tabs; anything else tab
        first = numbered[0][1]
        delimiter = "\t" if "\t" in first or path.suffix.lower() != ".csv" else ","
    parsed = list(csv.reader([line for _, line in numbered], delimiter=delimiter))
    header = [h.strip() for h in parsed[0]]
    rows = []
    for (number, _), fields in zip(numbered[1:], parsed[1:]):
        if len(fields) != len(header):
            raise AnnotationError(f"{path}, line {number}: expected {len(header)} fields "
                                  f"({', '.join(header)}), got {len(fields)}")
        rows.append((number, {h: f.strip() for h, f in zip(header, fields)}))
    return header, rows


def _require(path: Path, header: Sequence[str], names: Iterable[str], hint: str) -> None:
    missing = [n for n in names if n not in header]
    if missing:
        raise AnnotationError(f"{path}, line 1: missing column(s) {', '.join(missing)}; the header has "
                              f"{', '.join(header)} ({hint})")


def read_table(
    path: str | os.PathLike,
    columns: str | Sequence[str] = DEFAULT_COLUMNS,
    *,
    classes: Optional[Sequence[str]] = None,
    delimiter: Optional[str] = None,
) -> StrongAnnotations:
    """A CSV/TSV of events, its columns named by ``columns`` (file, onset, offset, label).

    A row whose onset, offset and label are all empty is a clip without events. ``delimiter``:
    default comma for ``.csv`` files (unless the header has tabs), tab otherwise.
    """
    path = Path(path)
    names = parse_columns(columns)
    header, rows = _header_table(path, delimiter)
    _require(path, header, names, "name the columns with --columns file,onset,offset,label")
    events, filenames = [], {}
    for number, row in rows:
        values = [row[n] for n in names]
        if values[0] and not any(values[1:]):
            filenames.setdefault(values[0])
            continue
        event = _event(f"{path}, line {number}", *values, classes)
        filenames.setdefault(event.filename)
        events.append(event)
    return StrongAnnotations(path=path, events=events, filenames=list(filenames))


def read_audacity(
    paths: Iterable[str | os.PathLike],
    *,
    audio_extension: str = ".wav",
    classes: Optional[Sequence[str]] = None,
) -> StrongAnnotations:
    """Audacity label tracks (``Export Labels``), one file per audio file: ``<name>.txt`` labels
    ``<name><audio_extension>``. A file without labels is a clip without events."""
    events, filenames = [], {}
    for path in map(Path, paths):
        filename = path.stem + _extension(audio_extension)
        filenames.setdefault(filename)
        for number, line in enumerate(_read_text(path), start=1):
            if not line.strip() or line.startswith("\\"):
                continue  # blank, or the frequency range of the label above (spectral selection)
            fields = line.split("\t")
            if len(fields) < 2:
                raise AnnotationError(f"{path}, line {number}: expected start<TAB>end<TAB>label "
                                      "(an Audacity label track)")
            label = "\t".join(fields[2:]) if len(fields) > 2 else ""
            events.append(_event(f"{path}, line {number}", filename, fields[0], fields[1], label, classes))
    return StrongAnnotations(path=None, events=events, filenames=list(filenames))


def _extension(text: str) -> str:
    return text if text.startswith(".") else f".{text}"


_RAVEN_SUFFIX = re.compile(r"\.Table\.\d+\.selections$", re.IGNORECASE)


def read_raven(
    paths: Iterable[str | os.PathLike],
    *,
    label_column: Optional[str] = None,
    audio_extension: str = ".wav",
    classes: Optional[Sequence[str]] = None,
) -> StrongAnnotations:
    """Raven selection tables (tab-separated, ``Begin Time (s)``, ``End Time (s)``, a label
    column: ``label_column`` or the first of :data:`RAVEN_LABEL_COLUMNS` present)."""
    events, filenames = [], {}
    for path in map(Path, paths):
        header, rows = _header_table(path, "\t")
        _require(path, header, ("Begin Time (s)", "End Time (s)"), "a Raven selection table")
        column = label_column or next((c for c in RAVEN_LABEL_COLUMNS if c in header), None)
        if column is None or column not in header:
            raise AnnotationError(f"{path}, line 1: no label column "
                                  f"{column or ' / '.join(RAVEN_LABEL_COLUMNS)}; the header has "
                                  f"{', '.join(header)} (name it with --label-column)")
        per_row_file = "Begin File" in header
        own_file = _RAVEN_SUFFIX.sub("", path.stem) + _extension(audio_extension)
        if not per_row_file:
            filenames.setdefault(own_file)
        seen: set[str] = set()
        for number, row in rows:
            selection = row.get("Selection", "")
            if selection and selection in seen:
                continue  # the same selection in another view (waveform / spectrogram)
            seen.add(selection)
            onset, offset = row["Begin Time (s)"], row["End Time (s)"]
            filename = own_file
            if per_row_file:  # times of a multi-file table run over the files: the offset is in the file
                filename = Path(row["Begin File"]).name
                if "File Offset (s)" in row:
                    start = _time(f"{path}, line {number}", "File Offset (s)", row["File Offset (s)"])
                    length = _time(f"{path}, line {number}", "End Time (s)", offset) - _time(f"{path}, line {number}", "Begin Time (s)", onset)
                    onset, offset = start, start + length
            event = _event(f"{path}, line {number}", filename, onset, offset, row[column], classes)
            filenames.setdefault(event.filename)
            events.append(event)
    return StrongAnnotations(path=None, events=events, filenames=list(filenames))


def from_dataframe(
    frame: "pd.DataFrame",
    columns: str | Sequence[str] = DEFAULT_COLUMNS,
    *,
    classes: Optional[Sequence[str]] = None,
) -> StrongAnnotations:
    """A DataFrame of events (columns named by ``columns``); errors name the row's index.
    A row with missing onset, offset and label (NaN/None) is a clip without events."""
    names = parse_columns(columns)
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise AnnotationError(f"DataFrame: missing column(s) {', '.join(missing)}; it has "
                              f"{', '.join(map(str, frame.columns))}")
    events, filenames = [], {}
    for index, *values in frame[list(names)].itertuples(name=None):
        empty = [v is None or (isinstance(v, float) and math.isnan(v)) or v == "" for v in values[1:]]
        where = f"DataFrame row {index!r}"
        if all(empty) and values[0] not in (None, ""):
            filenames.setdefault(str(values[0]))
            continue
        event = _event(where, *values, classes)
        filenames.setdefault(event.filename)
        events.append(event)
    return StrongAnnotations(path=None, events=events, filenames=list(filenames))


def write_labels(annotations: StrongAnnotations, strong: str | os.PathLike,
                 weak: Optional[str | os.PathLike] = None) -> None:
    """Write the strong table (clips without events as rows with empty fields) and, if asked,
    the weak table derived from it (each clip's labels in first-seen order; a clip without
    events has an empty label list). Both are written atomically."""
    write_strong_tsv(strong, annotations.events, empty_files=annotations.filenames)
    if weak is not None:
        labels = {name: list(dict.fromkeys(e.event_label for e in events))
                  for name, events in annotations.by_file().items()}
        write_weak_tsv(weak, labels)
