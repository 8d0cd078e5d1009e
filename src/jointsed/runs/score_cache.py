"""The raw-score cache of a run folder: ``RUN_DIR/scores/<split>/`` holds a model's raw clip and
frame probabilities of every clip of a split (``raw_scores.npz`` + ``info.json``), reused by a
later call for the same checkpoint (path, size, modification time), clips, ground truth and
audio folder, so that tuning then evaluating costs one pass over the audio."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np

from jointsed.data.annotations import write_durations_tsv
from jointsed.runs.layout import RAW_SCORES_FILE, SCORES_DURATIONS_FILE, SCORES_INFO_FILE
from jointsed.utils.atomic import atomic_dir, atomic_write_json

#: version of the cache's ``info.json``
SCORES_FORMAT = "jointsed.workflow.raw_scores/1"  # (the name of the module that wrote it first)


def source_record(split: str, ground_truth: Path, audio_dir: Path, durations: Optional[Path]) -> dict[str, Any]:
    """The split a cache was made from (absolute paths), as stored in its ``info.json``."""
    return {
        "split": split,
        "ground_truth": str(Path(ground_truth).resolve()),
        "audio_dir": str(Path(audio_dir).resolve()),
        "durations": str(Path(durations).resolve()) if durations is not None else None,
    }


def load_raw_scores(folder: Path, identity: Mapping[str, Any], source: Mapping[str, Any], filenames: list[str],
                    classes: list[str]) -> Optional[tuple[dict, dict, dict, dict]]:
    """``(clip scores, frame scores, durations, info)`` kept in ``folder`` if they were made by the
    checkpoint ``identity`` (:func:`~jointsed.runs.checkpoint.checkpoint_identity`) for the same
    clips, classes, ground truth and audio folder; None otherwise (score again)."""
    try:
        info = json.loads((folder / SCORES_INFO_FILE).read_text(encoding="utf-8"))
        if (info.get("format") != SCORES_FORMAT or info.get("checkpoint") != dict(identity)
                or info.get("source", {}).get("ground_truth") != source["ground_truth"]
                or info.get("source", {}).get("audio_dir") != source["audio_dir"]
                or info.get("classes") != classes):
            return None
        with np.load(folder / RAW_SCORES_FILE, allow_pickle=False) as data:
            names = [str(n) for n in data["filenames"]]
            if names != filenames:
                return None
            clip, frames, lengths, durations = data["clip"], data["frames"], data["lengths"], data["durations"]
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        return None  # missing or unreadable: score again
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    clip_scores = {n: clip[i] for i, n in enumerate(names)}
    frame_scores = {n: frames[bounds[i]:bounds[i + 1]] for i, n in enumerate(names)}
    return clip_scores, frame_scores, {n: float(d) for n, d in zip(names, durations)}, info


def save_raw_scores(folder: Path, info: dict, clip_scores: Mapping[str, np.ndarray],
                frame_scores: Mapping[str, np.ndarray], durations: Mapping[str, float],
                write_durations: bool) -> None:
    """Keep raw scores in ``folder`` (replaced atomically); ``info`` gets the format name;
    ``write_durations``: also the clips' durations table (the split had none)."""
    info = {**info, "format": SCORES_FORMAT}
    names = list(frame_scores)
    with atomic_dir(folder, overwrite=True) as tmp:
        np.savez(
            tmp / RAW_SCORES_FILE,
            filenames=np.asarray(names, dtype=str),
            clip=np.stack([np.asarray(clip_scores[n], dtype=np.float32) for n in names]),
            frames=np.concatenate([np.asarray(frame_scores[n], dtype=np.float32) for n in names]),
            lengths=np.asarray([len(frame_scores[n]) for n in names], dtype=np.int64),
            durations=np.asarray([durations[n] for n in names], dtype=np.float64),
        )
        if write_durations:
            write_durations_tsv(tmp / SCORES_DURATIONS_FILE, {n: durations[n] for n in names})
        atomic_write_json(tmp / SCORES_INFO_FILE, info)
