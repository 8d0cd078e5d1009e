"""Checks of the loaded training data that need several sets or the audio files themselves,
run once per ``train`` call before any phase trains (:func:`check_training_data`), and the
run's data fingerprint (:func:`fingerprint_of`, :func:`check_same_data`).

- Strong labels against each file's own length: the features of a clip shorter than
  ``features.clip_duration`` are zero-padded, so a 0.5-s file whose labels run to 10 s would
  train on 9.5 s of "events" over padding. Each strongly labelled clip is as long as its file,
  at most ``features.clip_duration`` (the cache crops longer files).
- Leakage between sets: a validation clip that is also a training clip (of any set) makes the
  validation scores, and the checkpoint chosen by them, optimistic; a clip that is weak and
  strong at once is counted twice. Clips are compared by name (DESED's names are YouTube ids and
  synthetic numbers; a name shared by two different recordings is still worth a look).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Optional, Sequence

from jointsed.audio.io import audio_info
from jointsed.data.annotation_checks import check_events_within
from jointsed.data.annotations import AnnotationWarning
from jointsed.runs.fingerprint import data_fingerprint, fingerprint_differences, read_fingerprint
from jointsed.training.config import RecipeConfig
from jointsed.training.data import TrainingSet, ValidationSet
from jointsed.training.errors import TrainingError


def _by_set(train: TrainingSet) -> dict[str, tuple[list[str], list[Path]]]:
    """``{set: (clip names, audio paths)}`` of a training set (its names are ``set/clip``)."""
    out: dict[str, tuple[list[str], list[Path]]] = {}
    for i, full in enumerate(train.filenames):
        set_name, _, name = full.partition("/")
        names, paths = out.setdefault(set_name, ([], []))
        names.append(name)
        if i < len(train.paths):
            paths.append(train.paths[i])
    return out


def strong_clip_lengths(config: RecipeConfig, train: TrainingSet) -> dict[str, float] | float:
    """Seconds of each strongly labelled clip: its file's length, at most
    ``features.clip_duration`` (read from the audio headers); the clip duration for every clip of
    a set built in memory (no paths)."""
    clip = float(config.features.clip_duration)
    names, paths = _by_set(train).get("synthetic", ([], []))
    if len(paths) != len(names) or not names:
        return clip
    return {name: min(clip, audio_info(path).duration) for name, path in zip(names, paths)}


def check_labels_within_clips(config: RecipeConfig, train_data: TrainingSet, val_data: Optional[ValidationSet]) -> None:
    """Strong labels past the end of their clip: an error when an event starts after it (it is
    not in the audio, yet would become a clip tag), a warning with the count when one ends after
    it (cut). Training clips are as long as their file (at most ``features.clip_duration``),
    validation clips their duration."""
    if train_data.strong_annotations is not None:
        check_events_within(train_data.strong_annotations, strong_clip_lengths(config, train_data),
                            "strong training labels vs each file's length, at most features.clip_duration")
    if val_data is not None and getattr(val_data, "annotations", None) is not None:
        check_events_within(val_data.annotations, dict(zip(val_data.filenames, val_data.durations)),
                            "validation labels vs the clips' durations")


def _shared(a: Sequence[str], b: Sequence[str]) -> list[str]:
    other = set(b)
    return [n for n in a if n in other]


def check_leakage(train_data: TrainingSet, val_data: Optional[ValidationSet]) -> list[str]:
    """Warn (:class:`AnnotationWarning`) for every pair of sets that share clips, naming the count
    and the first few; returns the warnings' texts."""
    sets = {name: names for name, (names, _) in _by_set(train_data).items()}
    pairs = [("weak", "synthetic"), ("weak", "unlabelled"), ("synthetic", "unlabelled")]
    if val_data is not None:
        sets["validation"] = list(val_data.filenames)
        pairs += [("validation", name) for name in ("weak", "synthetic", "unlabelled")]
    texts = []
    for a, b in pairs:
        shared = _shared(sets.get(a, []), sets.get(b, []))
        if not shared:
            continue
        shown = ", ".join(shared[:3]) + (", ..." if len(shared) > 3 else "")
        why = ("the validation scores (and the checkpoint they select) are optimistic" if a == "validation"
               else "they are trained on twice")
        texts.append(f"{len(shared)} clip(s) of the {a} set are also in the {b} set ({shown}): if they are "
                     f"the same recordings, {why}; remove them from one of the tables")
        warnings.warn(texts[-1], AnnotationWarning, stacklevel=2)
    return texts


def check_training_data(config: RecipeConfig, train_data: TrainingSet, val_data: Optional[ValidationSet]) -> None:
    """Every check of this module, in order (the first error stops the run)."""
    check_labels_within_clips(config, train_data, val_data)
    check_leakage(train_data, val_data)


def fingerprint_of(train_data: TrainingSet, val_data: Optional[ValidationSet]) -> dict[str, Any]:
    """The data fingerprint (:mod:`jointsed.runs.fingerprint`) of the loaded sets."""
    sets = _by_set(train_data)
    if val_data is not None:
        sets["validation"] = (list(val_data.filenames), list(val_data.paths))
    return data_fingerprint(sets)


def check_same_data(run_dir: Path, current: dict[str, Any], reuse: bool = False) -> None:
    """``--resume`` continues on the run's data only; a finished phase is reused (``reuse``) only
    for the data it was trained on.

    Raises:
        TrainingError: naming each set that differs and how (clips gone, new, resized).
    """
    saved = read_fingerprint(run_dir)
    if saved is None:  # a run trained before fingerprints were recorded
        return
    differ = fingerprint_differences(saved, current)
    if not differ:
        return
    if reuse:
        raise TrainingError(f"{run_dir}: this finished phase was trained on other data ({'; '.join(differ)}); "
                            "use --force to retrain it on this data, or check --data-root")
    raise TrainingError(
        f"--resume: {run_dir} was trained on other data ({'; '.join(differ)}). A resumed run continues on its "
        "own data; check --data-root and the data.* keys, or start a new run (another --out)"
    )
