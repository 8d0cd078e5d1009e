"""The evaluation folder of a run: everything the report needs about one evaluated split.

Layout (``RUN_DIR/eval/<split>/``, written by the evaluation pipeline with
:func:`write_eval_folder`, read by the report with :func:`read_eval_folder`)::

    predictions.tsv     post-processed events, DESED strong format (filename onset offset
                        event_label); clips without any detection have an empty row
    scores/<id>.tsv     frame scores, one sed_scores_eval file per clip
                        (``jointsed.evaluate.write_frame_scores``)
    clip_scores.tsv     filename + one column per class: clip (tagging) probabilities
    metrics.json        the dict returned by ``jointsed.evaluate.evaluate_run``
    info.json           {"ground_truth", "durations", "audio_dir", "checkpoint", "postprocess",
                         "split", "classes", "frame_hop", "features"}

Clips are keyed by *audio id* (file name without its audio extension,
``jointsed.evaluate.audio_id``) once read back, as in ``jointsed.evaluate``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from jointsed.data.annotations import AnnotationError, Event, read_strong_tsv, write_strong_tsv
from jointsed.errors import JointsedError
from jointsed.evaluate.io import EvaluationError, audio_id, read_frame_scores, write_frame_scores
from jointsed.utils.atomic import atomic_dir, atomic_open, atomic_write_json

PREDICTIONS_FILE = "predictions.tsv"
SCORES_DIR = "scores"
CLIP_SCORES_FILE = "clip_scores.tsv"
METRICS_FILE = "metrics.json"
from jointsed.runs.layout import EVAL_INFO_FILE as INFO_FILE  # noqa: E402

#: keys every info.json must have (``checkpoint``, ``postprocess``, ``features`` are optional)
REQUIRED_INFO_KEYS = ("ground_truth", "durations", "audio_dir", "split", "classes", "frame_hop")
#: keys whose values are paths (``None`` allowed)
PATH_INFO_KEYS = ("ground_truth", "durations", "audio_dir", "checkpoint", "postprocess")


class ReportError(JointsedError):
    """An evaluation folder or run folder the report cannot use (missing or malformed files)."""


@dataclass
class EvalFolder:
    """Contents of one evaluation folder (see the module docstring).

    Attributes:
        path: the folder.
        info: ``info.json`` (paths as strings, see :meth:`info_path`).
        metrics: ``metrics.json`` (``jointsed.evaluate.evaluate_run`` result).
        classes: class names = columns of the scores.
        frame_hop: seconds per frame of the frame scores.
        predictions: post-processed events as written in ``predictions.tsv``.
        prediction_files: every clip listed in ``predictions.tsv`` (incl. clips without events).
        score_frames: ``{audio id: sed_scores_eval DataFrame (onset, offset, classes)}``.
        frame_scores: ``{audio id: (T, C) float array}`` (the same scores as arrays).
        clip_scores: ``{audio id: (C,) float array}``.
    """

    path: Path
    info: dict[str, Any]
    metrics: dict[str, Any]
    classes: list[str]
    frame_hop: float
    predictions: list[Event]
    prediction_files: list[str] = field(default_factory=list)
    score_frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    frame_scores: dict[str, np.ndarray] = field(default_factory=dict)
    clip_scores: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def split(self) -> str:
        return str(self.info.get("split", self.path.name))

    def info_path(self, key: str) -> Path | None:
        """A path of ``info.json`` (``None`` if unset). A relative path is taken relative to the
        current folder if it exists there, else relative to the evaluation folder."""
        value = self.info.get(key)
        if value in (None, ""):
            return None
        path = Path(value)
        if path.is_absolute() or path.exists():
            return path
        return self.path / path

    def predictions_by_id(self) -> dict[str, list[Event]]:
        """Predicted events per audio id (every clip of the scores is a key)."""
        grouped: dict[str, list[Event]] = {key: [] for key in self.frame_scores}
        for event in self.predictions:
            grouped.setdefault(audio_id(event.filename), []).append(event)
        return grouped


# ------------------------------------------------------------------------------- writing


def _json_ready(value: Any, where: str) -> Any:
    """Plain JSON data: paths -> str, numpy scalars/arrays -> Python, NaN/inf -> None."""
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, np.ndarray):
        return _json_ready(value.tolist(), where)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    raise TypeError(f"{where}: {type(value).__name__} value {value!r} cannot be written as JSON")


def _check_info(info: Mapping[str, Any], where: str) -> None:
    missing = [key for key in REQUIRED_INFO_KEYS if key not in info]
    if missing:
        raise ReportError(f"{where}: missing key(s) {', '.join(missing)}")
    classes = info["classes"]
    if (
        not isinstance(classes, (list, tuple))
        or not classes
        or not all(isinstance(c, str) and c for c in classes)
        or len(set(classes)) != len(classes)
    ):
        raise ReportError(f"{where}: 'classes' must be a non-empty list of distinct names")
    hop = info["frame_hop"]
    if isinstance(hop, bool) or not isinstance(hop, (int, float)) or not hop > 0:
        raise ReportError(f"{where}: 'frame_hop' must be a positive number of seconds, got {hop!r}")
    features = info.get("features")
    if features is not None and not isinstance(features, Mapping):
        raise ReportError(f"{where}: 'features' must be a mapping (FeatureConfig fields)")


def _format_score(value: float) -> str:
    return f"{float(value):.9g}"


def write_eval_folder(
    folder: str | os.PathLike,
    *,
    predictions: Sequence[Event],
    frame_scores: Mapping[str, np.ndarray],
    clip_scores: Mapping[str, np.ndarray],
    metrics: Mapping[str, Any],
    info: Mapping[str, Any],
    overwrite: bool = True,
) -> Path:
    """Write an evaluation folder, atomically (the whole folder appears at once or not at all).

    Args:
        folder: the folder to write (``RUN_DIR/eval/<split>``).
        predictions: post-processed events (``filename`` as in the ground truth).
        frame_scores: ``{filename: (T, C) frame probabilities}``, frame ``t`` covering
            ``[t, t + 1) * info["frame_hop"]`` seconds; one entry per evaluated clip.
        clip_scores: ``{filename: (C,) clip probabilities}`` for the same clips.
        metrics: the ``jointsed.evaluate.evaluate_run`` result.
        info: ``ground_truth``, ``durations``, ``audio_dir``, ``checkpoint``, ``postprocess``
            (paths or ``None``), ``split``, ``classes``, ``frame_hop``, ``features``
            (``FeatureConfig`` as a dict). Paths are stored as strings.
        overwrite: replace an existing folder (only once the new one is complete); the
            evaluation folder is derived data, so this is the default.

    Returns:
        The folder.
    """
    folder = Path(folder)
    info_data = _json_ready(dict(info), INFO_FILE)
    _check_info(info_data, f"info for {folder}")
    classes = list(info_data["classes"])
    metrics_data = _json_ready(dict(metrics), METRICS_FILE)

    clip_rows = []
    for filename, probs in clip_scores.items():
        probs = np.asarray(probs, dtype=np.float64).reshape(-1)
        if probs.shape != (len(classes),):
            raise ValueError(f"clip scores of {filename}: {probs.size} values for {len(classes)} classes")
        clip_rows.append("\t".join([filename, *map(_format_score, probs)]))
    unknown = sorted({e.event_label for e in predictions} - set(classes))
    if unknown:
        raise ValueError(f"predictions use label(s) {unknown} that are not in info['classes']")

    with atomic_dir(folder, overwrite=overwrite) as tmp:
        write_strong_tsv(tmp / PREDICTIONS_FILE, predictions, empty_files=list(frame_scores))
        write_frame_scores(tmp / SCORES_DIR, frame_scores, float(info_data["frame_hop"]), classes)
        with atomic_open(tmp / CLIP_SCORES_FILE, "w", encoding="utf-8", newline="\n") as fh:
            fh.write("\n".join(["\t".join(["filename", *classes]), *clip_rows]) + "\n")
        atomic_write_json(tmp / METRICS_FILE, metrics_data)
        atomic_write_json(tmp / INFO_FILE, info_data)
    return folder


# ------------------------------------------------------------------------------- reading


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ReportError(f"{path}: file not found (incomplete evaluation folder)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ReportError(f"{path}: expected a JSON object")
    return data


def _read_clip_scores(path: Path, classes: list[str]) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise ReportError(f"{path}: file not found (incomplete evaluation folder)")
    try:
        table = pd.read_csv(path, sep="\t", dtype={"filename": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot read the table ({exc})") from None
    if list(table.columns) != ["filename", *classes]:
        raise ReportError(
            f"{path}: columns {list(table.columns)} should be filename + the classes {classes}"
        )
    values = table[classes].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values).all(axis=1))
    if bad.size:
        # line numbers counted from 1 on the header line, as in jointsed.data.annotations
        raise ReportError(f"{path}, line {bad[0] + 2}: clip scores must be numbers")
    return {audio_id(name): row for name, row in zip(table["filename"], values)}


def read_eval_folder(folder: str | os.PathLike) -> EvalFolder:
    """Read an evaluation folder written by :func:`write_eval_folder`.

    Raises:
        ReportError: naming the file when the folder or one of its files is missing or
            malformed, or when the files disagree (classes, clips).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ReportError(f"{folder}: evaluation folder not found")
    info = _read_json(folder / INFO_FILE)
    _check_info(info, str(folder / INFO_FILE))
    metrics = _read_json(folder / METRICS_FILE)
    classes = list(info["classes"])

    predictions_path = folder / PREDICTIONS_FILE
    if not predictions_path.is_file():
        raise ReportError(f"{predictions_path}: file not found (incomplete evaluation folder)")
    try:
        predictions = read_strong_tsv(predictions_path, classes)
        score_frames = read_frame_scores(folder / SCORES_DIR)
    except (AnnotationError, EvaluationError) as exc:
        raise ReportError(str(exc)) from None
    if not score_frames:
        raise ReportError(f"{folder / SCORES_DIR}: no frame-score file")
    for key, frame in score_frames.items():
        if list(frame.columns[2:]) != classes:
            raise ReportError(
                f"{folder / SCORES_DIR / (key + '.tsv')}: score columns {list(frame.columns[2:])} "
                f"do not match the classes of {folder / INFO_FILE}"
            )
    clip_scores = _read_clip_scores(folder / CLIP_SCORES_FILE, classes)
    missing = sorted(set(score_frames) - set(clip_scores))
    if missing:
        raise ReportError(
            f"{folder / CLIP_SCORES_FILE}: no clip scores for {len(missing)} clip(s) with frame "
            f"scores, e.g. {missing[0]}"
        )
    return EvalFolder(
        path=folder,
        info=info,
        metrics=metrics,
        classes=classes,
        frame_hop=float(info["frame_hop"]),
        predictions=list(predictions.events),
        prediction_files=list(predictions.filenames),
        score_frames=score_frames,
        frame_scores={key: frame[classes].to_numpy(dtype=np.float64) for key, frame in score_frames.items()},
        clip_scores=clip_scores,
    )
