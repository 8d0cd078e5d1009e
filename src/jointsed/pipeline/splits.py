"""Where a strongly labelled split is: the recipe's ``validation`` / ``synthetic`` sets (paths
relative to the data root) or any (ground truth, audio folder, durations) triple."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from jointsed.pipeline.errors import PipelineError

PathLike = str | os.PathLike

#: splits named in a recipe's ``data`` section: (tsv key, audio key, durations key or None)
CONFIG_SPLITS: dict[str, tuple[str, str, Optional[str]]] = {
    "validation": ("validation_tsv", "validation_audio", "validation_durations"),
    "synthetic": ("synthetic_tsv", "synthetic_audio", None),
}


@dataclass
class SplitSource:
    """Where a strongly labelled split is: ground truth, audio folder, durations (optional)."""

    split: str
    ground_truth: Path
    audio_dir: Path
    durations: Optional[Path] = None  # None: durations from the audio files


def _resolve(root: Optional[Path], rel: str) -> Path:
    path = Path(rel)
    if path.is_absolute() or root is None:
        return path
    return root / path


def resolve_split(
    config: Any,
    data_root: Optional[PathLike],
    split: Optional[str] = None,
    tsv: Optional[PathLike] = None,
    audio: Optional[PathLike] = None,
    durations: Optional[PathLike] = None,
) -> SplitSource:
    """The files of a split.

    Args:
        config: the run's :class:`~jointsed.training.config.RecipeConfig` (its ``data`` paths).
        data_root: the dataset folder the recipe paths are relative to.
        split: ``validation`` / ``synthetic`` (recipe paths), or the name of a custom split
            (default: ``validation``, or the stem of ``tsv``).
        tsv, audio, durations: a custom split (ground-truth tsv and audio folder, both needed;
            durations optional), paths as given (relative to the current folder).
    Raises:
        PipelineError: unknown split, half a custom triple, missing data root or files.
    """
    if tsv is not None or audio is not None:
        if tsv is None or audio is None:
            raise PipelineError("a custom split needs both --tsv (ground truth) and --audio (audio folder)")
        name = split or Path(tsv).stem
        source = SplitSource(name, Path(tsv), Path(audio), Path(durations) if durations is not None else None)
    else:
        if durations is not None:
            raise PipelineError("--durations goes with --tsv and --audio (a custom split)")
        name = split or "validation"
        if name not in CONFIG_SPLITS:
            raise PipelineError(
                f"unknown split {name!r}: choose {' or '.join(CONFIG_SPLITS)} (the recipe's data paths), "
                "or give a strongly labelled set with --tsv, --audio (and --durations)"
            )
        if data_root is None:
            raise PipelineError(f"split {name!r}: --data-root is needed (the recipe's data paths are relative to it)")
        root = Path(data_root)
        if not root.is_dir():
            raise PipelineError(f"--data-root {root}: folder not found")
        tsv_key, audio_key, dur_key = CONFIG_SPLITS[name]
        rel_tsv = getattr(config.data, tsv_key)
        if rel_tsv is None:
            raise PipelineError(f"split {name!r}: the run's recipe has data.{tsv_key}: null")
        gt = _resolve(root, rel_tsv)
        dur: Optional[Path] = None
        if dur_key is not None and getattr(config.data, dur_key) is not None:
            dur = _resolve(root, getattr(config.data, dur_key))
        else:
            dur = gt.with_name(f"{gt.stem}_durations.tsv")  # DESED: synthetic_durations.tsv
        source = SplitSource(name, gt, _resolve(root, getattr(config.data, audio_key)),
                             dur if dur.is_file() else None)
    if not source.ground_truth.is_file():
        raise PipelineError(f"split {source.split!r}: ground truth {source.ground_truth} not found")
    if not source.audio_dir.is_dir():
        raise PipelineError(f"split {source.split!r}: audio folder {source.audio_dir} not found")
    if source.durations is not None and not source.durations.is_file():
        raise PipelineError(f"split {source.split!r}: durations table {source.durations} not found")
    if not source.split or "/" in source.split or source.split.startswith("."):
        raise PipelineError(f"split name {source.split!r}: give a plain folder name with --split")
    return source
