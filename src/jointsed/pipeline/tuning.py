"""Tuning a trained run's post-processing on a split (event-specific post-processing, DESIGN
section 4: :func:`jointsed.postprocess.tune_event_specific`), saved as ``RUN_DIR/postprocess.json``
(which :class:`jointsed.inference.Detector`, ``jointsed predict`` and the evaluation then use)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, Literal, Optional

from jointsed.config import to_dict
from jointsed.data.annotations import read_strong_tsv
from jointsed.pipeline.scoring import score_split, scores_note
from jointsed.postprocess.tuning import tune_event_specific
from jointsed.postprocess.tuning_types import TuningGrid, TuningResult
from jointsed.runs.checkpoint import checkpoint_identity, run_dir_of
from jointsed.runs.layout import POSTPROCESS_FILE
from jointsed.runs.postprocess import default_params

PathLike = str | os.PathLike
Echo = Optional[Callable[[str], None]]


def tune_run(
    run_dir: PathLike,
    data_root: Optional[PathLike] = None,
    split: Optional[str] = None,
    objective: Literal["event_f1", "psds1"] = "event_f1",
    grid: Optional[TuningGrid] = None,
    *,
    tsv: Optional[PathLike] = None,
    audio: Optional[PathLike] = None,
    durations: Optional[PathLike] = None,
    device: str = "cpu",
    batch_size: int = 16,
    progress: bool = True,
    reuse: bool = True,
    out: Optional[PathLike] = None,
    echo: Echo = print,
) -> TuningResult:
    """Tune the per-class post-processing on a split and save it as ``RUN_DIR/postprocess.json``.

    Starts from Lin's defaults of the checkpoint (DESIGN §4, our formulation:
    :func:`jointsed.postprocess.tune_event_specific`); the saved file's ``info`` holds the
    tuning result and ``tuned_on`` (split, ground truth, objective, checkpoint).

    Args:
        run_dir: run folder (or checkpoint file).
        data_root, split, tsv, audio, durations: the tuning split (:func:`resolve_split`).
        objective: ``event_f1`` (per-class event-based F1) or ``psds1``.
        grid: candidate values (default :class:`~jointsed.postprocess.TuningGrid`).
        device, batch_size, progress, reuse: see :func:`score_split`.
        out: where to save the parameters (default ``RUN_DIR/postprocess.json``).
        echo: where to print the per-class table (``None``: nowhere).
    Returns:
        :class:`~jointsed.postprocess.TuningResult`.
    """
    say = echo or (lambda _: None)
    scores = score_split(run_dir, data_root, split, tsv=tsv, audio=audio, durations=durations, device=device,
                         batch_size=batch_size, progress=progress, reuse=reuse)
    say(scores_note(scores))
    base = default_params(scores.checkpoint).reordered(scores.classes)
    truth = read_strong_tsv(scores.ground_truth, scores.classes)
    result = tune_event_specific(
        scores.clip_scores, scores.frame_scores, truth, scores.durations_by_file, scores.frame_hop, base,
        grid=grid, objective=objective, progress=progress,
    )
    target = Path(out) if out is not None else run_dir_of(run_dir) / POSTPROCESS_FILE
    info = result.to_dict()
    info["tuned_on"] = {
        "split": scores.split,
        "ground_truth": str(scores.ground_truth.resolve()),
        "audio_dir": str(scores.audio_dir.resolve()),
        "n_clips": len(scores.frame_scores),
        "objective": objective,
        "checkpoint": checkpoint_identity(scores.checkpoint),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    info["grid"] = to_dict(grid or TuningGrid())
    result.params.save_json(target, info=info)
    name = "event-based F1" if objective == "event_f1" else "PSDS1"
    say(f"\nPer-class {name} on '{scores.split}' ({len(scores.frame_scores)} clips), Lin's defaults vs tuned:")
    say(result.table())
    empty = [ct.class_name for ct in result.per_class if ct.n_ref == 0]
    if empty and objective == "event_f1":
        say(f"(this macro F1 averages all {len(result.per_class)} classes, counting the {len(empty)} without "
            "ground-truth events as 0; `jointsed evaluate` averages the classes present in the ground truth "
            "or the predictions)")
    say(f"tuned post-processing written to {target}")
    return result
