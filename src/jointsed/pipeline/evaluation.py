"""Evaluation of a trained run on a split: post-process its raw scores (``postprocess.json`` if
present, else the model's default, or given parameters) and score them with every DCASE metric
(:func:`jointsed.evaluate.evaluate_run`); write ``RUN_DIR/eval/<split>/``, which ``jointsed
report`` turns into a page.

Event/segment/intersection F1 come from the post-processed events, audio tagging F1 from the clip
probabilities at the per-class tag thresholds, PSDS1/PSDS2 from the post-processor's scores form
(:mod:`jointsed.postprocess.base`): for Lin's, the post-processed frame scores (tag gating +
median filter, the score-level part of the post-processing); for a segment method (SEBB), its
scored segments, each box's confidence over its frames.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

import numpy as np

from jointsed.pipeline.scoring import SplitScores, checkpoint_of, score_split, scores_note
from jointsed.postprocess.base import PostProcessor, detect_events, frame_forms, postprocessor_to_dict
from jointsed.runs.checkpoint import checkpoint_identity, run_dir_of
from jointsed.runs.layout import EVAL_DIR
from jointsed.runs.postprocess import choose_postprocess, postprocess_info

PathLike = str | os.PathLike
Echo = Optional[Callable[[str], None]]


def resolve_postprocess(
    run_or_checkpoint: PathLike,
    classes: list[str],
    postprocess: PathLike | PostProcessor | None = None,
) -> tuple[PostProcessor, Optional[Path], str]:
    """The post-processing to evaluate with: ``(params, file or None, description)``
    (:func:`jointsed.runs.postprocess.choose_postprocess` for a run folder or checkpoint)."""
    return choose_postprocess(checkpoint_of(run_or_checkpoint), classes, postprocess)


def _same_set(scores: SplitScores, tuned_on: Mapping[str, Any]) -> bool:
    gt = tuned_on.get("ground_truth")
    return bool(gt) and str(Path(gt).resolve()) == str(scores.ground_truth.resolve())


def evaluate_scores(
    scores: SplitScores, params: PostProcessor, postprocess_file: Optional[Path] = None,
    postprocess_source: str = "",
) -> tuple[dict[str, Any], list, dict[str, np.ndarray]]:
    """Post-process raw scores and evaluate them: ``(metrics, events, scores form on the frame grid)``.

    Event/segment/intersection F1 come from the post-processed events, tagging F1 from the clip
    probabilities at the per-class tag thresholds, PSDS from the post-processor's scores form
    (:func:`jointsed.postprocess.base.frame_forms`: ``(T, C)`` float32 per clip).
    """
    from jointsed.evaluate import evaluate_run

    params = params.reordered(scores.classes)
    events = detect_events(params, scores.clip_scores, scores.frame_scores, scores.frame_hop)
    processed = frame_forms(params, scores.clip_scores, scores.frame_scores, scores.frame_hop)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sed_eval / dcase_util deprecation noise
        metrics = evaluate_run(
            scores.ground_truth,
            scores.durations,
            classes=scores.classes,
            events=events,
            frame_scores=processed,
            frame_hop=scores.frame_hop,
            clip_scores=scores.clip_scores,
            tag_threshold=params.tag_threshold,
            scores_label=params.scores_label,
        )
    tuned_on = postprocess_info(postprocess_file).get("tuned_on", {})
    metrics["split"] = scores.split
    metrics["checkpoint"] = str(scores.checkpoint)
    metrics["postprocess"] = {
        "file": str(postprocess_file) if postprocess_file else None,
        "source": postprocess_source,
        "tuned_on": tuned_on or None,
        "tuned_on_this_set": _same_set(scores, tuned_on) if tuned_on else False,
        "params": postprocessor_to_dict(params),
    }
    return metrics, events, processed


def evaluate_checkpoint(
    run_dir: PathLike,
    data_root: Optional[PathLike] = None,
    split: Optional[str] = None,
    postprocess: PathLike | PostProcessor | None = None,
    *,
    tsv: Optional[PathLike] = None,
    audio: Optional[PathLike] = None,
    durations: Optional[PathLike] = None,
    device: str = "cpu",
    batch_size: int = 16,
    progress: bool = True,
    reuse: bool = True,
    out: Optional[PathLike] = None,
    write: bool = True,
    echo: Echo = None,
) -> dict[str, Any]:
    """Score (or reuse scores), post-process, evaluate, and write ``RUN_DIR/eval/<split>/``.

    Args:
        run_dir: run folder (or checkpoint file).
        data_root, split, tsv, audio, durations: the split (:func:`resolve_split`).
        postprocess: parameters or a JSON file (default: ``RUN_DIR/postprocess.json`` if
            present, else Lin's defaults from the checkpoint).
        device, batch_size, progress, reuse: see :func:`score_split`.
        out: evaluation folder (default ``RUN_DIR/eval/<split>``).
        write: write the evaluation folder (else only return the metrics).
        echo: where to send progress messages (e.g. ``print``).
    Returns:
        The metrics (:func:`jointsed.evaluate.evaluate_run`'s dict, also ``metrics.json``),
        plus ``split``, ``checkpoint``, ``postprocess`` (source, parameters, where they were
        tuned) and ``eval_folder``.
    """
    say = echo or (lambda _: None)
    scores = score_split(run_dir, data_root, split, tsv=tsv, audio=audio, durations=durations, device=device,
                         batch_size=batch_size, progress=progress, reuse=reuse)
    say(scores_note(scores))
    params, file, source = resolve_postprocess(run_dir, scores.classes, postprocess)
    say(f"post-processing: {source}")
    metrics, events, processed = evaluate_scores(scores, params, file, source)
    if metrics["postprocess"]["tuned_on_this_set"]:
        say("note: the post-processing was tuned on this same set, so these figures are optimistic")
    folder: Optional[Path] = None
    if write:
        from jointsed.report import write_eval_folder

        folder = Path(out) if out is not None else run_dir_of(run_dir) / EVAL_DIR / scores.split
        info = {
            "ground_truth": scores.ground_truth.resolve(),
            "durations": scores.durations.resolve(),
            "audio_dir": scores.audio_dir.resolve(),
            "checkpoint": scores.checkpoint,
            "checkpoint_identity": checkpoint_identity(scores.checkpoint),
            "postprocess": file.resolve() if file else None,
            "postprocess_source": source,
            "split": scores.split,
            "classes": scores.classes,
            "frame_hop": scores.frame_hop,
            "features": scores.feature_config or None,
            "scores": params.scores_description,
            "raw_scores": scores.folder.resolve() if scores.folder else None,
        }
        write_eval_folder(folder, predictions=events, frame_scores=processed, clip_scores=scores.clip_scores,
                          metrics=metrics, info=info)
        say(f"evaluation written to {folder}")
    result = dict(metrics)
    result["eval_folder"] = str(folder) if folder else None
    return result
