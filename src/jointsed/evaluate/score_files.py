"""Frame scores in memory and on disk: the ``sed_scores_eval`` score-folder format, read fast and
checked line by line.

A score folder holds one ``<audio id>.tsv`` per clip with the header ``onset offset <class 1>
... <class C>`` and one row per frame (what :func:`jointsed.evaluate.write_frame_scores` and
``jointsed predict --scores`` write). :func:`read_score_folder` reads it into a
:class:`FrameScores`: every clip's scores as one ``(C, T)`` float64 array plus its frame
boundaries, without a pandas DataFrame per clip (10,000 DataFrames were a quarter of the
evaluation's time and memory).

Every file is checked, and a problem is an :class:`EvaluationError` naming the file and the line
(``"<file>, line <n>: <problem>"``, lines counted from 1 on the header, as for the annotation
tables): a row with more or fewer fields than the header (a file cut short), a score that is not
a finite number in [0, 1], a frame whose offset is not after its onset, a frame that does not
start where the previous one ended (a gap, an overlap or a jump back in the time column).

Numbers are parsed exactly (each decimal string to its nearest double, like Python's
``float``). pandas' default parser, which ``sed_scores_eval.io`` and the previous reader used, is
up to one unit in the last place off for 17-digit numbers (a third of the values of a file
written from float32 scores), so figures computed from files can move in the last digits.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence, Union

import numpy as np

from jointsed.evaluate.io import EvaluationError, Reference, audio_id

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class FrameScores:
    """Frame scores of a set of clips, one row per class (the metrics read them class by class).

    Attributes:
        classes: the C class names, in row order.
        ids: audio ids, one per clip.
        values: per clip a ``(C, T)`` float64 array; ``values[n][c, t]`` is the score of class c in
            frame t, which covers ``[timestamps[n][t], timestamps[n][t + 1])`` seconds.
        timestamps: per clip the ``(T + 1,)`` frame boundaries.
    """

    classes: tuple[str, ...]
    ids: list[str]
    values: list[np.ndarray]
    timestamps: list[np.ndarray]
    #: what the metrics derive from these scores and a reference, computed once for all of them
    #: (:func:`jointsed.evaluate.score_statistics.ground_truth_views`); not part of the value
    cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.ids)

    def class_index(self, name: str) -> int:
        try:
            return self.classes.index(name)
        except ValueError:
            raise EvaluationError(f"frame scores have no column for class {name!r}") from None

    def frame(self, n: int) -> "pd.DataFrame":
        """Clip ``n`` as the DataFrame ``sed_scores_eval`` reads (``onset offset <classes>``)."""
        from sed_scores_eval.base_modules.scores import create_score_dataframe

        return create_score_dataframe(self.values[n].T, self.timestamps[n], list(self.classes))

    def to_dataframes(self) -> dict[str, "pd.DataFrame"]:
        """``{audio id: DataFrame}``, the input of ``sed_scores_eval``'s own functions."""
        return {key: self.frame(n) for n, key in enumerate(self.ids)}

    def clip_maxima(self) -> np.ndarray:
        """``(N, C)``: every class's highest frame score in every clip."""
        return np.stack([v.max(axis=1) for v in self.values]) if self.values else np.zeros((0, len(self.classes)))

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, np.ndarray], timestamps: Mapping[str, np.ndarray], classes: Sequence[str]
    ) -> "FrameScores":
        """From ``{audio id: (T, C) array}`` and ``{audio id: (T + 1,) boundaries}``."""
        ids = list(arrays)
        values = [np.ascontiguousarray(np.asarray(arrays[k], dtype=np.float64).T) for k in ids]
        return cls(tuple(classes), ids, values, [np.asarray(timestamps[k], dtype=np.float64) for k in ids])

    @classmethod
    def from_dataframes(cls, frames: Mapping[str, "pd.DataFrame"]) -> "FrameScores":
        """From ``sed_scores_eval`` DataFrames (``onset offset <classes>``), all with the same columns."""
        ids = list(frames)
        if not ids:
            return cls((), [], [], [])
        classes = tuple(frames[ids[0]].columns[2:])
        values, stamps = [], []
        for key in ids:
            frame = frames[key]
            if tuple(frame.columns[2:]) != classes:
                raise EvaluationError(f"frame scores of {key}: columns {list(frame.columns[2:])}, expected {list(classes)}")
            values.append(np.ascontiguousarray(frame[list(classes)].to_numpy(dtype=np.float64).T))
            onsets, offsets = frame["onset"].to_numpy(dtype=np.float64), frame["offset"].to_numpy(dtype=np.float64)
            stamps.append(np.concatenate([onsets, offsets[-1:]]))
        return cls(classes, ids, values, stamps)


#: what the metric functions computed from frame scores take: FrameScores, or the
#: ``{audio id: DataFrame}`` of ``sed_scores_eval`` (as :func:`jointsed.evaluate.read_frame_scores` returns)
ScoreInput = Union[FrameScores, Mapping[str, "pd.DataFrame"]]


def as_frame_scores(scores: ScoreInput) -> FrameScores:
    return scores if isinstance(scores, FrameScores) else FrameScores.from_dataframes(scores)


# ------------------------------------------------------------------------ reading one file


def _header(path: Path, line: str) -> list[str]:
    columns = line.rstrip("\r").split("\t")
    if len(columns) < 3 or columns[:2] != ["onset", "offset"]:
        raise EvaluationError(
            f"{path}, line 1: not a frame-score file: expected the header 'onset<TAB>offset<TAB><class 1>...', "
            f"got {line.strip()[:80]!r}"
        )
    dup = sorted({c for c in columns if columns.count(c) > 1})
    if dup:
        raise EvaluationError(f"{path}, line 1: column {dup[0]!r} appears twice")
    return columns


def _parse_slowly(path: Path, lines: list[bytes], width: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows of a file the fast parse refused, line by line, to name the line at fault.
    Returns ``(values (T, width), line numbers (T,))``; blank lines are skipped."""
    rows, numbers = [], []
    for index, raw in enumerate(lines[1:], start=2):
        text = raw.decode("utf-8", errors="replace").rstrip("\r")
        if not text.strip():
            continue
        fields = text.split("\t")
        if len(fields) != width:
            cut = " (file cut short?)" if index >= len(lines) - 1 and len(fields) < width else ""
            raise EvaluationError(
                f"{path}, line {index}: expected {width} tab-separated fields (onset, offset and one score "
                f"per class, as in the header), got {len(fields)}{cut}"
            )
        try:
            rows.append([float(f) for f in fields])
        except ValueError:
            bad = next(f for f in fields if not _is_number(f))
            raise EvaluationError(f"{path}, line {index}: {bad.strip()!r} is not a number") from None
        numbers.append(index)
    return np.array(rows, dtype=np.float64).reshape(-1, width), np.array(numbers, dtype=np.int64)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_score_file(path: str | os.PathLike) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Read and check one frame-score file: ``(classes, timestamps (T + 1,), scores (C, T))``.

    Raises:
        EvaluationError: ``"<file>, line <n>: <problem>"`` (see the module docstring).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EvaluationError(f"{path}: cannot be read ({exc.strerror})") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    first_newline = data.find(b"\n")
    header_bytes = data if first_newline < 0 else data[:first_newline]
    try:
        header_text = header_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise EvaluationError(f"{path}: not a UTF-8 text file") from None
    columns = _header(path, header_text)
    width = len(columns)
    body = b"" if first_newline < 0 else data[first_newline + 1:]
    # fast path: the tabs and newlines are (width - 1 tabs, a newline) per line, and the
    # whitespace-separated tokens fill the rows exactly; anything else (blank or short lines,
    # spaces, bad tokens) goes line by line, which names the line
    raw = np.frombuffer(body if body.endswith(b"\n") or not body else body + b"\n", dtype=np.uint8)
    separators = raw[(raw == 9) | (raw == 10)]
    n_rows = separators.size // width
    values = None
    if (n_rows and separators.size == n_rows * width and b" " not in body
            and (separators.reshape(n_rows, width)[:, -1] == 10).all()
            and (separators.reshape(n_rows, width)[:, :-1] == 9).all()):
        try:
            values = np.array(body.split(), dtype=np.float64)
        except ValueError:
            values = None
        if values is not None and values.size == n_rows * width:
            values = values.reshape(n_rows, width)
            line_of = np.arange(2, n_rows + 2)
        else:
            values = None
    if values is None:
        values, line_of = _parse_slowly(path, data.split(b"\n"), width)
    if len(values) == 0:
        raise EvaluationError(f"{path}: no frame (only the header)")
    _check_times(path, values[:, 0], values[:, 1], line_of)
    scores = values[:, 2:]
    bad = ~((scores >= 0.0) & (scores <= 1.0))  # also NaN
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        value = float(scores[row, col])
        what = "not a number" if np.isnan(value) else ("not finite" if np.isinf(value) else "outside [0, 1]")
        raise EvaluationError(
            f"{path}, line {line_of[row]}: score {value!r} of {columns[2 + col]} is {what} "
            "(frame scores are probabilities in [0, 1])"
        )
    timestamps = np.concatenate([values[:, 0], values[-1:, 1]])
    return columns[2:], timestamps, np.ascontiguousarray(scores.T)


def _check_times(path: Path, onsets: np.ndarray, offsets: np.ndarray, line_of: np.ndarray) -> None:
    """Frames of positive length, each starting where the previous one ended."""
    finite = np.isfinite(onsets) & np.isfinite(offsets)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        raise EvaluationError(
            f"{path}, line {line_of[row]}: frame times {float(onsets[row])!r}, {float(offsets[row])!r} are not finite"
        )
    short = offsets <= onsets
    if short.any():
        row = int(np.flatnonzero(short)[0])
        raise EvaluationError(
            f"{path}, line {line_of[row]}: frame offset {offsets[row]:g} is not after its onset {onsets[row]:g}"
        )
    jump = onsets[1:] != offsets[:-1]
    if jump.any():
        row = int(np.flatnonzero(jump)[0]) + 1
        kind = "a gap" if onsets[row] > offsets[row - 1] else "an overlap or a jump back"
        raise EvaluationError(
            f"{path}, line {line_of[row]}: frame onset {onsets[row]:g} is not the previous frame's offset "
            f"{offsets[row - 1]:g} ({kind} in the time column)"
        )


# ------------------------------------------------------------------------ reading a folder


def score_files(folder: str | os.PathLike, reference: Reference | None = None) -> dict[str, Path]:
    """``{audio id: file}`` of a score folder; with a ``reference``, exactly its clips, in its
    order (every clip must have a file; extra files are ignored)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise EvaluationError(f"{folder}: score folder not found")
    files = {p.name[: -len(".tsv")]: p for p in folder.iterdir() if p.name.endswith(".tsv")}
    if reference is None:
        return dict(sorted(files.items()))
    missing = [key for key in reference.events if key not in files]
    if missing:
        shown = ", ".join(m + ".tsv" for m in missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise EvaluationError(
            f"{folder}: no score file for {len(missing)} of {len(reference.events)} "
            f"clip(s) of {reference.path}: {shown}"
        )
    return {key: files[key] for key in reference.events}


def _parse_many(paths: Sequence[Path]) -> list[tuple[list[str], np.ndarray, np.ndarray]]:
    return [parse_score_file(p) for p in paths]


def _workers(n_files: int) -> int:
    """Processes for reading: one per CPU this process may use, none below 2,000 files (a pool's
    start-up costs more than it saves on small folders)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return 1 if n_files < 2000 else max(1, min(cpus, 8))


def read_score_folder(
    folder: str | os.PathLike, reference: Reference | None = None, *, workers: int | None = None
) -> FrameScores:
    """Read a score folder (see the module docstring) into :class:`FrameScores`.

    With a ``reference``: its clips in its order, every one needed, and the score columns must
    be the reference classes. Files are parsed in ``workers`` processes (default: one per CPU
    for large folders); the first problem found, in clip order, is raised.
    """
    files = score_files(folder, reference)
    keys, paths = list(files), list(files.values())
    n_workers = _workers(len(paths)) if workers is None else max(1, workers)
    if n_workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        chunk = max(1, -(-len(paths) // (n_workers * 8)))
        chunks = [paths[i:i + chunk] for i in range(0, len(paths), chunk)]
        with ProcessPoolExecutor(max_workers=n_workers) as pool:
            parsed = [item for part in pool.map(_parse_many, chunks) for item in part]
    else:
        parsed = _parse_many(paths)
    expected = list(reference.classes) if reference is not None else (parsed[0][0] if parsed else [])
    for path, (columns, _, _) in zip(paths, parsed):
        if columns != expected:
            what = "the classes" if reference is not None else "the columns of the first file"
            raise EvaluationError(f"{path}: score columns {columns} do not match {what} {expected}")
    return FrameScores(tuple(expected), keys, [p[2] for p in parsed], [p[1] for p in parsed])


def scores_of_reference(frame_scores: FrameScores, reference: Reference) -> FrameScores:
    """``frame_scores`` reduced to the reference clips, in their order (audio ids matched with or
    without an audio extension); an EvaluationError if a clip has none."""
    index = {audio_id(key): n for n, key in enumerate(frame_scores.ids)}
    missing = [key for key in reference.events if key not in index]
    if missing:
        raise EvaluationError(
            f"no frame scores for {len(missing)} of {len(reference.events)} clip(s) of "
            f"{reference.path}, e.g. {missing[0]}"
        )
    order = [index[key] for key in reference.events]
    return FrameScores(frame_scores.classes, list(reference.events), [frame_scores.values[n] for n in order],
                       [frame_scores.timestamps[n] for n in order])


def check_scores_of(frame_scores: FrameScores, names: Iterable[str]) -> None:
    """Every frame score finite and in [0, 1] (in-memory scores get the check files get)."""
    for key, values in zip(names, frame_scores.values):
        bad = ~((values >= 0.0) & (values <= 1.0))
        if bad.any():
            c, t = (int(i) for i in np.argwhere(bad)[0])
            raise EvaluationError(
                f"frame scores of {key}: score {float(values[c, t])!r} of {frame_scores.classes[c]} in frame {t} is "
                "not a number in [0, 1]"
            )


def check_scores_cover(frame_scores: FrameScores, reference: Reference, where: str) -> int:
    """Check the frames of every clip against the durations of ``reference``; returns how many
    clips' frames end more than :data:`jointsed.evaluate.io.DETECTION_END_TOLERANCE` before
    their clip's duration (part of the clip has no score: a durations table of another set, or
    scores cut short; the CLI warns).

    Raises:
        EvaluationError: frames of a clip end after the longest clip of the reference (plus the
            tolerance): no clip is that long, so the frame times or the durations are not those
            of this set (milliseconds for seconds, a durations table of shorter clips). Frames
            past their *own* clip's end but within the longest clip are what padding a short
            clip to the set's clip length gives, as detections (:func:`.io.check_detections_within`).
    """
    from jointsed.evaluate.io import DETECTION_END_TOLERANCE

    if not len(frame_scores) or not reference.durations:
        return 0
    ends = np.array([float(t[-1]) for t in frame_scores.timestamps])
    durations = np.array([reference.durations[audio_id(key)] for key in frame_scores.ids])
    longest = float(max(reference.durations.values()))
    beyond = np.flatnonzero(ends > longest + DETECTION_END_TOLERANCE)
    if beyond.size:
        shown = "; ".join(f"{frame_scores.ids[i]}: frames to {ends[i]:g} s (clip {durations[i]:g} s)" for i in beyond[:3])
        raise EvaluationError(
            f"{where}: the frames of {beyond.size} clip(s) end after {longest:g} s, the longest clip of "
            f"{reference.path}: {shown}{'; ...' if beyond.size > 3 else ''}. Are the frame times in seconds, "
            "and the durations those of this set?"
        )
    return int(np.sum(ends < durations - DETECTION_END_TOLERANCE))


__all__ = [
    "FrameScores",
    "ScoreInput",
    "as_frame_scores",
    "check_scores_cover",
    "check_scores_of",
    "parse_score_file",
    "read_score_folder",
    "score_files",
    "scores_of_reference",
]
