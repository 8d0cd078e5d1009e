"""Inputs of the evaluation: ground truth, clip durations, detections and frame-score files.

Three kinds of system output are evaluated:

* a detection table (``filename onset offset event_label``; tsv, or csv as written by the DCASE
  baseline) = one operating point;
* a folder of detection tables, one per decision threshold (``*_<threshold>.tsv``, as in the
  DCASE baseline's ``predictions_operating_points/``), for PSDS with ``psds_eval``;
* a folder of frame-score files in the ``sed_scores_eval`` format: one ``<audio id>.tsv`` per
  clip with columns ``onset offset <class 1> ... <class C>`` (one row per frame).

Clips are matched by *audio id*: the filename without its audio extension, so ``a.wav`` in the
ground truth matches ``a`` or ``a.wav`` in a system output.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from jointsed.data.annotation_checks import check_events_within
from jointsed.data.annotations import (
    AnnotationError,
    Event,
    StrongAnnotations,
    read_durations_tsv,
    read_strong_tsv,
)
from jointsed.data.audio_files import AUDIO_EXTENSIONS
from jointsed.data.classes import DESED_CLASSES
from jointsed.errors import JointsedError
from jointsed.utils.atomic import atomic_dir


class EvaluationError(JointsedError):
    """Evaluation inputs that do not fit together (missing clips, wrong classes, bad folders)."""


def audio_id(filename: str) -> str:
    """``filename`` without its audio extension (``"a.wav"`` -> ``"a"``, ``"a"`` -> ``"a"``)."""
    stem, ext = os.path.splitext(filename)
    return stem if ext.lower() in AUDIO_EXTENSIONS else filename


@dataclass
class Reference:
    """Ground truth of an evaluation set, keyed by audio id.

    Attributes:
        events: ``{audio id: [(onset, offset, label), ...]}`` for every clip (empty if none).
        durations: ``{audio id: seconds}`` for the same clips.
        classes: the class list (official order).
        path: the ground-truth table.
        merged_events: overlapping same-class events merged while loading (see
            ``merge_overlaps``).
    """

    events: dict[str, list[tuple[float, float, str]]]
    durations: dict[str, float]
    classes: tuple[str, ...]
    path: Path | None = None
    merged_events: int = 0

    @property
    def ids(self) -> list[str]:
        return list(self.events)

    def tags(self) -> dict[str, set[str]]:
        """Clip-level tags ``{audio id: {labels}}``."""
        return {key: {label for _, _, label in events} for key, events in self.events.items()}

    def events_dataframe(self) -> pd.DataFrame:
        """Event rows ``filename onset offset event_label`` (filename = audio id)."""
        return events_frame(self.events)

    def durations_dataframe(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"filename": list(self.durations), "duration": list(self.durations.values())}
        )


def events_frame(events: Mapping[str, Sequence[tuple[float, float, str]]]) -> pd.DataFrame:
    """``{audio id: [(onset, offset, label)]}`` as the table ``psds_eval`` reads (columns
    ``filename onset offset event_label``, filename = audio id; typed even when empty)."""
    rows = [(key, on, off, label) for key, evs in events.items() for on, off, label in evs]
    return pd.DataFrame(rows, columns=["filename", "onset", "offset", "event_label"]).astype(
        {"filename": object, "onset": float, "offset": float, "event_label": object}
    )


def load_reference(
    ground_truth_tsv: str | os.PathLike,
    durations_tsv: str | os.PathLike,
    classes: Sequence[str] = DESED_CLASSES,
) -> Reference:
    """Read the ground truth and the durations of its clips (extra durations are ignored)."""
    truth = read_strong_tsv(ground_truth_tsv, classes)
    if not truth.filenames:
        raise EvaluationError(f"{ground_truth_tsv}: the ground truth lists no clip")
    durations = {audio_id(name): d for name, d in read_durations_tsv(durations_tsv).items()}
    events, merged = merge_overlaps_per_clip(_group_by_id(truth))
    missing = [key for key in events if key not in durations]
    if missing:
        raise EvaluationError(
            f"{durations_tsv}: no duration for {len(missing)} clip(s) of {ground_truth_tsv}: "
            f"{_first(missing)}"
        )
    # an event that starts at or after its clip's end contradicts the durations (it would be
    # scored as a missed event of audio that does not exist); one that runs past the end is kept,
    # as DCASE does (DESED's validation set has 16, by up to 0.115 s), hence no tolerance
    check_events_within(
        truth, {name: durations[audio_id(name)] for name in truth.filenames},
        f"ground truth, with the durations of {durations_tsv}", tolerance=math.inf,
    )
    return Reference(
        events=events,
        durations={key: durations[key] for key in events},
        classes=tuple(classes),
        path=Path(ground_truth_tsv),
        merged_events=merged,
    )


def _group_by_id(annotations: StrongAnnotations) -> dict[str, list[tuple[float, float, str]]]:
    grouped: dict[str, list[tuple[float, float, str]]] = {
        audio_id(name): [] for name in annotations.filenames
    }
    for e in annotations.events:
        grouped[audio_id(e.filename)].append((e.onset, e.offset, e.event_label))
    return grouped


def merge_overlaps(
    events: Sequence[tuple[float, float, str]],
) -> tuple[list[tuple[float, float, str]], int]:
    """Merge overlapping or touching events of the same class into their union.

    ``psds_eval`` rejects tables with intersecting same-class events and ``sed_scores_eval``
    also rejects touching ones (DESED's synthetic2019.tsv has 6 overlaps); a frame-based view
    of the labels cannot tell them apart anyway. Returns the events (sorted by onset, then
    label) and how many were absorbed into another.
    """
    merged: list[list] = []
    last: dict[str, list] = {}
    absorbed = 0
    for on, off, label in sorted(events, key=lambda e: (e[0], e[1], e[2])):
        previous = last.get(label)
        if previous is not None and on <= previous[1]:
            previous[1] = max(previous[1], off)
            absorbed += 1
            continue
        last[label] = [on, off, label]
        merged.append(last[label])
    return [(on, off, label) for on, off, label in merged], absorbed


def merge_overlaps_per_clip(
    events: Mapping[str, Sequence[tuple[float, float, str]]],
) -> tuple[dict[str, list[tuple[float, float, str]]], int]:
    """:func:`merge_overlaps` of every clip of ``{audio id: events}``; the merged events and
    how many events were absorbed in all."""
    out, total = {}, 0
    for key, evs in events.items():
        out[key], absorbed = merge_overlaps(evs)
        total += absorbed
    return out, total


def _first(names: Sequence[str], n: int = 5) -> str:
    more = f" and {len(names) - n} more" if len(names) > n else ""
    return ", ".join(names[:n]) + more


def read_detections(
    path: str | os.PathLike, reference: Reference
) -> dict[str, list[tuple[float, float, str]]]:
    """Read one detection table (tsv, or csv for ``.csv`` files) restricted to the reference
    clips: ``{audio id: [(onset, offset, label), ...]}`` with every reference clip as a key.

    Detections of clips that are not in the reference are dropped (as in the DCASE baseline);
    ``outside_reference`` lists those clips. Overlapping same-class detections are merged
    (``merge_overlaps``).
    """
    return read_detections_with_outside(path, reference)[0]


def outside_reference(path: str | os.PathLike, reference: Reference) -> list[str]:
    """Audio ids of a detection table that are not reference clips (first-seen order)."""
    return read_detections_with_outside(path, reference)[1]


def read_detections_with_outside(
    path: str | os.PathLike, reference: Reference
) -> tuple[dict[str, list[tuple[float, float, str]]], list[str]]:
    """:func:`read_detections` and :func:`outside_reference` of one table, read once."""
    path = Path(path)
    delimiter = "," if path.suffix.lower() == ".csv" else "\t"
    table = read_strong_tsv(path, reference.classes, delimiter=delimiter)
    detections: dict[str, list[tuple[float, float, str]]] = {key: [] for key in reference.events}
    outside = [key for key in map(audio_id, table.filenames) if key not in detections]
    for e in table.events:
        key = audio_id(e.filename)
        if key in detections:
            detections[key].append((e.onset, e.offset, e.event_label))
    check_detections_within(detections, reference, str(path))
    return merge_overlaps_per_clip(detections)[0], outside


#: seconds a detection may end after its clip (rounding of frame times), as the ground-truth
#: check of training allows (``data.annotation_checks.check_events_within``)
DETECTION_END_TOLERANCE = 0.05


def check_detections_within(
    detections: Mapping[str, Sequence[tuple[float, float, str]]], reference: Reference, where: str
) -> None:
    """Raise an :class:`EvaluationError` naming ``where`` and the first detections if a
    detection ends after the longest clip of the reference (plus
    :data:`DETECTION_END_TOLERANCE`): no clip is that long, so the times or the durations are not
    those of this set (milliseconds for seconds, another set's table).

    A detection past its *own* clip's end but within the longest clip is legitimate: systems pad
    short clips to the set's clip length, and the DCASE 2021 baseline's stored outputs have such
    detections (up to 7.6 s past a 2.4 s clip). They are scored as false positives, as the
    official libraries score them; :func:`detections_past_clip_end` counts them.
    """
    if not reference.durations:
        return
    longest = max(reference.durations.values())
    limit = longest + DETECTION_END_TOLERANCE
    bad = [(key, on, off, label) for key, evs in detections.items() for on, off, label in evs if off > limit]
    if bad:
        shown = "; ".join(f"{key} {label} {on:g}-{off:g} s (clip {reference.durations[key]:g} s)"
                          for key, on, off, label in bad[:3])
        raise EvaluationError(
            f"{where}: {len(bad)} detection(s) end after {longest:g} s, the longest clip of {reference.path}: "
            f"{shown}{'; ...' if len(bad) > 3 else ''}. Are the times in seconds, and the durations those of "
            "this set?"
        )


def detections_past_clip_end(
    detections: Mapping[str, Sequence[tuple[float, float, str]]], reference: Reference
) -> int:
    """How many detections end after their clip (by more than :data:`DETECTION_END_TOLERANCE`)."""
    return sum(1 for key, evs in detections.items() for _, off, _ in evs
               if off > reference.durations[key] + DETECTION_END_TOLERANCE)


def detections_to_events(
    detections: Mapping[str, Sequence[tuple[float, float, str]]],
) -> list[Event]:
    """Flatten ``{audio id: [(onset, offset, label)]}`` into events named by audio id."""
    return [Event(key, on, off, label) for key, evs in detections.items() for on, off, label in evs]


# the number before ".tsv"; a minus sign counts after "_" or at the start ("pred-0.5.tsv" is 0.5)
_THRESHOLD_RE = re.compile(r"(?:(?<=_)-|^-)?\d+(?:\.\d+)?(?=\.tsv$)")


def read_operating_points(
    folder: str | os.PathLike, reference: Reference
) -> dict[float, dict[str, list[tuple[float, float, str]]]]:
    """Read a folder of detection tables named ``..._<threshold>.tsv``, sorted by threshold."""
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.suffix == ".tsv" and not p.name.startswith("."))
    if not files:
        raise EvaluationError(f"{folder}: no operating-point .tsv file in this folder")
    points: dict[float, dict[str, list[tuple[float, float, str]]]] = {}
    for path in files:
        match = _THRESHOLD_RE.search(path.name)
        if not match:
            raise EvaluationError(
                f"{path}: cannot read the decision threshold from the file name "
                "(expected e.g. predictions_th_0.50.tsv)"
            )
        threshold = float(match.group(0))
        if not 0.0 <= threshold <= 1.0:
            raise EvaluationError(
                f"{path}: decision threshold {match.group(0)} (read from the file name) is outside [0, 1]"
            )
        if threshold in points:
            raise EvaluationError(f"{path}: a second operating point for threshold {threshold}")
        points[threshold] = read_detections(path, reference)
    return dict(sorted(points.items()))


# ------------------------------------------------------------------------ frame scores


def frame_timestamps(n_frames: int, frame_hop: float) -> np.ndarray:
    """Frame boundaries ``0, hop, ..., n_frames * hop`` rounded to the microsecond, (T+1,)."""
    return np.round(np.arange(n_frames + 1) * frame_hop, 6)


def write_frame_scores(
    folder: str | os.PathLike,
    scores: Mapping[str, np.ndarray],
    frame_hop: float,
    classes: Sequence[str],
    *,
    overwrite: bool = False,
) -> None:
    """Write frame scores as a ``sed_scores_eval`` folder, atomically (all files or none).

    Args:
        folder: output folder, one ``<audio id>.tsv`` per clip.
        scores: ``{filename: (T, C) array}`` of frame probabilities; frame ``t`` covers
            ``[t * frame_hop, (t + 1) * frame_hop)``.
        frame_hop: seconds per frame.
        classes: the C class names, in column order.
        overwrite: replace an existing folder (only once the new one is complete).
    """
    from sed_scores_eval.base_modules.io import write_sed_scores

    classes = list(classes)
    with atomic_dir(folder, overwrite=overwrite) as tmp:
        for filename, array in scores.items():
            array = np.asarray(array, dtype=np.float64)
            if array.ndim != 2 or array.shape[1] != len(classes):
                raise ValueError(
                    f"scores of {filename} have shape {array.shape}, expected (T, {len(classes)})"
                )
            write_sed_scores(
                array,
                tmp / f"{audio_id(filename)}.tsv",
                timestamps=frame_timestamps(len(array), frame_hop),
                event_classes=classes,
            )


def read_frame_scores(
    folder: str | os.PathLike, reference: Reference | None = None
) -> dict[str, pd.DataFrame]:
    """Read a ``sed_scores_eval`` score folder: ``{audio id: DataFrame(onset, offset, classes)}``.

    Every file is checked (:mod:`jointsed.evaluate.score_files`, which the evaluation reads
    without DataFrames). With a ``reference``, every reference clip must have a score file (extra
    files are ignored) and the score columns must be the reference classes; without, all files
    of the folder, with the columns of the first one.
    """
    from jointsed.evaluate.score_files import read_score_folder  # imports this module

    return read_score_folder(folder, reference).to_dataframes()


def detect_prediction_kind(path: str | os.PathLike) -> str:
    """``"detections"`` for a file, ``"operating_points"`` or ``"scores"`` for a folder
    (decided from the header of its first .tsv file)."""
    path = Path(path)
    if path.is_file():
        return "detections"
    if not path.is_dir():
        raise EvaluationError(f"{path}: predictions not found")
    first = next((p for p in sorted(path.iterdir()) if p.suffix == ".tsv"), None)
    if first is None:
        raise EvaluationError(f"{path}: folder holds no .tsv file")
    with open(first, encoding="utf-8") as fh:
        header = fh.readline().rstrip("\r\n").split("\t")
    if "event_label" in header and "filename" in header:
        return "operating_points"
    if header[:2] == ["onset", "offset"]:
        return "scores"
    raise EvaluationError(
        f"{first}: neither a detection table (filename onset offset event_label) nor a "
        "frame-score file (onset offset <classes>)"
    )


__all__ = [
    "DETECTION_END_TOLERANCE",
    "AnnotationError",
    "EvaluationError",
    "Reference",
    "audio_id",
    "check_detections_within",
    "detect_prediction_kind",
    "detections_past_clip_end",
    "detections_to_events",
    "events_frame",
    "frame_timestamps",
    "load_reference",
    "merge_overlaps",
    "merge_overlaps_per_clip",
    "outside_reference",
    "read_detections",
    "read_detections_with_outside",
    "read_frame_scores",
    "read_operating_points",
    "write_frame_scores",
]
