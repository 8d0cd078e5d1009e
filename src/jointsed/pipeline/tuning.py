"""Tuning a trained run's post-processing on a split: any method of the post-processor seam
(:mod:`jointsed.postprocess.base`; Lin's event-specific post-processing, DESIGN section 4, by
default: :func:`jointsed.postprocess.tune_event_specific`; SEBB with ``method="sebb"``), for an
objective of the metric table (:mod:`jointsed.evaluate.metric_table`), saved as
``RUN_DIR/postprocess.json`` (which :class:`jointsed.inference.Detector`, ``jointsed predict`` and
the evaluation then use)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable, Optional

from jointsed.config import to_dict
from jointsed.data.annotations import read_strong_tsv
from jointsed.pipeline.scoring import score_split, scores_note
from jointsed.postprocess.base import DEFAULT_METHOD, postprocessor_class, save_postprocessor
from jointsed.postprocess.tuning import resolve_objective
from jointsed.postprocess.tuning_types import TuningResult
from jointsed.runs.checkpoint import checkpoint_identity, run_dir_of
from jointsed.runs.layout import POSTPROCESS_FILE
from jointsed.runs.postprocess import default_params

PathLike = str | os.PathLike
Echo = Optional[Callable[[str], None]]


def tune_run(
    run_dir: PathLike,
    data_root: Optional[PathLike] = None,
    split: Optional[str] = None,
    objective: str = "event_f1",
    grid: Optional[Any] = None,
    *,
    method: str = DEFAULT_METHOD,
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

    Starts from the method's untuned form of the checkpoint's default (Lin's: the default itself,
    DESIGN §4, our formulation, :func:`jointsed.postprocess.tune_event_specific`); the saved
    file's ``info`` holds the tuning result and ``tuned_on`` (split, ground truth, method,
    objective, checkpoint).

    Args:
        run_dir: run folder (or checkpoint file).
        data_root, split, tsv, audio, durations: the tuning split (:func:`resolve_split`).
        objective: a name of the metric table: ``event_f1`` (per-class event-based F1),
            ``psds1``, ``psds2``.
        grid: candidate values, an instance of the method's ``grid_class()`` (Lin's
            :class:`~jointsed.postprocess.TuningGrid`; default grid if None).
        method: the post-processing method (``lin``, ``sebb``, or any registered one).
        device, batch_size, progress, reuse: see :func:`score_split`.
        out: where to save the parameters (default ``RUN_DIR/postprocess.json``).
        echo: where to print the per-class table (``None``: nowhere).
    Returns:
        :class:`~jointsed.postprocess.TuningResult`.
    """
    say = echo or (lambda _: None)
    cls = postprocessor_class(method)  # an unknown method fails before any scoring
    metric = resolve_objective(objective)
    scores = score_split(run_dir, data_root, split, tsv=tsv, audio=audio, durations=durations, device=device,
                         batch_size=batch_size, progress=progress, reuse=reuse)
    say(scores_note(scores))
    base = cls.from_default(default_params(scores.checkpoint).reordered(scores.classes))
    truth = read_strong_tsv(scores.ground_truth, scores.classes)
    result = cls.tune(scores.clip_scores, scores.frame_scores, truth, scores.durations_by_file, scores.frame_hop,
                      base, grid, objective=metric, progress=progress)
    target = Path(out) if out is not None else run_dir_of(run_dir) / POSTPROCESS_FILE
    info = result.to_dict()
    info["tuned_on"] = {
        "split": scores.split,
        "ground_truth": str(scores.ground_truth.resolve()),
        "audio_dir": str(scores.audio_dir.resolve()),
        "n_clips": len(scores.frame_scores),
        "method": cls.method,
        "objective": metric.name,
        "checkpoint": checkpoint_identity(scores.checkpoint),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    info["grid"] = to_dict(grid if grid is not None else cls.grid_class()())
    save_postprocessor(result.params, target, info=info)
    name = "event-based F1" if metric.name == "event_f1" else metric.label
    say(f"\nPer-class {name} on '{scores.split}' ({len(scores.frame_scores)} clips), {cls.label} defaults vs tuned:")
    say(result.table())
    empty = [ct.class_name for ct in result.per_class if ct.n_ref == 0]
    if empty and metric.needs == "events":
        say(f"(this macro F1 averages all {len(result.per_class)} classes, counting the {len(empty)} without "
            "ground-truth events as 0; `jointsed evaluate` averages the classes present in the ground truth "
            "or the predictions)")
    say(f"tuned post-processing written to {target}")
    return result
