"""Which post-processing a trained model is used with: ``postprocess.json`` of its run folder
(``jointsed tune``; any method of :mod:`jointsed.postprocess.base`), else its default (Lin et
al.'s, stored in the checkpoint). The one place that decides it, for ``jointsed predict`` /
:class:`jointsed.inference.Detector` and for the evaluation pipeline alike."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional, Sequence

from jointsed.postprocess.base import PostProcessor, load_postprocessor
from jointsed.postprocess.params import PostProcessingParams
from jointsed.runs.checkpoint import read_checkpoint, resolve_checkpoint
from jointsed.runs.layout import POSTPROCESS_FILE
from jointsed.runs.settings import default_postprocess, split_meta

#: description of a model's default post-processing
DEFAULT_SOURCE = "default (Lin et al.)"


def find_postprocess_file(checkpoint: Path) -> Optional[Path]:
    """``postprocess.json`` beside the checkpoint, or in the run folder above ``checkpoints/``."""
    for candidate in (checkpoint.parent / POSTPROCESS_FILE, checkpoint.parent.parent / POSTPROCESS_FILE):
        if candidate.is_file():
            return candidate
    return None


def postprocess_info(path: Optional[Path]) -> dict[str, Any]:
    """The ``info`` block of a tuned ``postprocess.json`` (where and how it was tuned; {} if none)."""
    if path is None:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    info = data.get("info") if isinstance(data, dict) else None
    return info if isinstance(info, dict) else {}


def default_params(run_or_checkpoint: str | os.PathLike) -> PostProcessingParams:
    """A model's default post-processing (Lin et al.'s, with its recipe's thresholds), from its
    checkpoint file or run folder."""
    block = read_checkpoint(resolve_checkpoint(run_or_checkpoint))["jointsed"]
    info, _ = split_meta(block["meta"])
    return default_postprocess(info, block["config"].get("postprocess") or {})


def choose_postprocess(
    checkpoint: Path,
    classes: Sequence[str],
    postprocess: str | os.PathLike | PostProcessor | None = None,
    default: Optional[PostProcessingParams] = None,
) -> tuple[PostProcessor, Optional[Path], str]:
    """The post-processor to use: ``(it, in the order of classes; file or None; description)``.

    Args:
        checkpoint: the model's checkpoint file.
        classes: the model's classes.
        postprocess: a post-processor (any method of :mod:`jointsed.postprocess.base`, e.g.
            Lin's :class:`PostProcessingParams`), or a JSON file of one; None: ``postprocess.json``
            beside the checkpoint / in the run folder, else the model's default.
        default: the model's default parameters when already at hand (else read from the
            checkpoint).
    """
    if isinstance(postprocess, PostProcessor):
        return postprocess.reordered(classes), None, "given parameters"
    file = Path(postprocess) if postprocess is not None else find_postprocess_file(checkpoint)
    if file is not None:
        params = load_postprocessor(file, classes)
        tuned = postprocess_info(file).get("tuned_on") or {}
        what = f"{file}"
        if tuned:
            method = tuned.get("method")
            what += f" ({method + ', ' if method else ''}tuned on '{tuned.get('split')}' for {tuned.get('objective')})"
        return params, file, what
    params = default if default is not None else default_params(checkpoint)
    return params.reordered(classes), None, DEFAULT_SOURCE
