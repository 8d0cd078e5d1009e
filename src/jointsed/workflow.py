"""The evaluation pipeline of a trained run: score a split, tune the post-processing, evaluate.

Example::

    from jointsed.workflow import evaluate_checkpoint, tune_run

    result = tune_run("runs/gl", "data")                  # RUN_DIR/postprocess.json
    metrics = evaluate_checkpoint("runs/gl", "data")      # RUN_DIR/eval/validation/

Steps and files (``RUN_DIR`` = the training run folder):

1. :func:`score_split` runs the model over every clip of a split and keeps its *raw* clip and
   frame probabilities (no post-processing) in ``RUN_DIR/scores/<split>/`` (``raw_scores.npz``
   + ``info.json`` recording the checkpoint's path, size and modification time, the ground-truth
   table and the audio folder). A later call for the same checkpoint and split reuses them
   instead of running the model again: tuning then evaluating costs one pass over the audio.
   A split is ``validation`` or ``synthetic`` (the recipe's ``data.*`` paths, relative to
   ``data_root``) or any strongly labelled set given as a (ground-truth tsv, audio folder,
   optional durations tsv) triple, so that the post-processing can be tuned on one set and
   scored on another.
2. :func:`tune_run` tunes the per-class post-processing on a split (event-specific
   post-processing, DESIGN §4: :func:`jointsed.postprocess.tune_event_specific`) starting from
   Lin et al.'s defaults stored in the checkpoint, and writes ``RUN_DIR/postprocess.json``
   (which :class:`jointsed.inference.Detector` and ``jointsed predict`` then use); the file's
   ``info`` says on which split and for which objective it was tuned.
3. :func:`evaluate_checkpoint` post-processes the raw scores (``RUN_DIR/postprocess.json`` if
   present, else Lin's defaults, or the parameters given) and evaluates them with every DCASE
   metric (:func:`jointsed.evaluate.evaluate_run`): event/segment/intersection F1 from the
   post-processed events, audio tagging F1 from the clip probabilities at the per-class tag
   thresholds, PSDS1/PSDS2 from the post-processed frame scores (tag gating + median filter,
   the score-level part of the post-processing). It writes ``RUN_DIR/eval/<split>/``
   (:func:`jointsed.report.write_eval_folder`), which ``jointsed report`` turns into a page; its
   ``scores/`` hold those post-processed frame scores (the ones PSDS was computed from).
4. :func:`run_demo`: the whole chain on a synthetic dataset (``jointsed demo``).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Optional, Sequence

import numpy as np

from jointsed import __version__
from jointsed.config import to_dict
from jointsed.data.annotations import (
    check_audio_files,
    read_durations_tsv,
    read_strong_tsv,
    write_durations_tsv,
)
from jointsed.errors import JointsedError
from jointsed.postprocess.apply import postprocess_frame_scores, postprocess_scores
from jointsed.postprocess.params import PostProcessingParams
from jointsed.postprocess.tuning import TuningGrid, TuningResult, tune_event_specific
from jointsed.runs.layout import (
    CONFIG_FILE,
    EVAL_DIR,
    FINISHED_FILE,
    HARDWARE_KEYS,
    METRICS_FILE,
    POSTPROCESS_FILE,
    RAW_SCORES_FILE,
    SCORES_DIR,
    SCORES_INFO_FILE,
    last_checkpoint,
)
from jointsed.utils.atomic import atomic_dir, atomic_write_json

PathLike = str | os.PathLike
Echo = Optional[Callable[[str], None]]

SCORES_DURATIONS_FILE = "durations.tsv"  # written when the split has no durations table
SCORES_FORMAT = "jointsed.workflow.raw_scores/1"

#: splits named in a recipe's ``data`` section: (tsv key, audio key, durations key or None)
CONFIG_SPLITS: dict[str, tuple[str, str, Optional[str]]] = {
    "validation": ("validation_tsv", "validation_audio", "validation_durations"),
    "synthetic": ("synthetic_tsv", "synthetic_audio", None),
}


class WorkflowError(JointsedError):
    """A split, run folder or demo folder the pipeline cannot use."""


# ============================================================================ run folders
def checkpoint_of(run_or_checkpoint: PathLike) -> Path:
    """The checkpoint of a run folder (``checkpoints/best.ckpt``, else ``last.ckpt``) or a
    checkpoint file, resolved to an absolute path."""
    from jointsed.inference import resolve_checkpoint

    return resolve_checkpoint(run_or_checkpoint).resolve()


def run_dir_of(run_or_checkpoint: PathLike) -> Path:
    """The run folder: the folder itself, or for ``RUN_DIR/checkpoints/x.ckpt`` (or
    ``RUN_DIR/x.ckpt``) the folder above."""
    path = Path(run_or_checkpoint)
    if path.is_dir():
        return path
    parent = path.resolve().parent
    return parent.parent if parent.name == "checkpoints" else parent


def checkpoint_identity(checkpoint: Path) -> dict[str, Any]:
    """Path, size and modification time of a checkpoint: raw scores are reused only for the
    same identity (retraining into the same folder changes the time)."""
    stat = checkpoint.stat()
    return {"path": str(checkpoint.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _checkpoint_config(checkpoint: Path):
    from jointsed.inference import load_checkpoint
    from jointsed.training.config import recipe_from_dict

    block = load_checkpoint(checkpoint)["jointsed"]
    return recipe_from_dict(block["config"]), block["meta"]


def default_params(run_or_checkpoint: PathLike) -> PostProcessingParams:
    """Lin et al.'s post-processing of a trained model (thresholds of its recipe, class-wise
    median windows from its strong training labels, stored in the checkpoint)."""
    from jointsed.inference import system_from_checkpoint

    return system_from_checkpoint(checkpoint_of(run_or_checkpoint)).postprocess_params()


# ============================================================================ splits
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
        WorkflowError: unknown split, half a custom triple, missing data root or files.
    """
    if tsv is not None or audio is not None:
        if tsv is None or audio is None:
            raise WorkflowError("a custom split needs both --tsv (ground truth) and --audio (audio folder)")
        name = split or Path(tsv).stem
        source = SplitSource(name, Path(tsv), Path(audio), Path(durations) if durations is not None else None)
    else:
        if durations is not None:
            raise WorkflowError("--durations goes with --tsv and --audio (a custom split)")
        name = split or "validation"
        if name not in CONFIG_SPLITS:
            raise WorkflowError(
                f"unknown split {name!r}: choose {' or '.join(CONFIG_SPLITS)} (the recipe's data paths), "
                "or give a strongly labelled set with --tsv, --audio (and --durations)"
            )
        if data_root is None:
            raise WorkflowError(f"split {name!r}: --data-root is needed (the recipe's data paths are relative to it)")
        root = Path(data_root)
        if not root.is_dir():
            raise WorkflowError(f"--data-root {root}: folder not found")
        tsv_key, audio_key, dur_key = CONFIG_SPLITS[name]
        rel_tsv = getattr(config.data, tsv_key)
        if rel_tsv is None:
            raise WorkflowError(f"split {name!r}: the run's recipe has data.{tsv_key}: null")
        gt = _resolve(root, rel_tsv)
        dur: Optional[Path] = None
        if dur_key is not None and getattr(config.data, dur_key) is not None:
            dur = _resolve(root, getattr(config.data, dur_key))
        else:
            dur = gt.with_name(f"{gt.stem}_durations.tsv")  # DESED: synthetic_durations.tsv
        source = SplitSource(name, gt, _resolve(root, getattr(config.data, audio_key)),
                             dur if dur.is_file() else None)
    if not source.ground_truth.is_file():
        raise WorkflowError(f"split {source.split!r}: ground truth {source.ground_truth} not found")
    if not source.audio_dir.is_dir():
        raise WorkflowError(f"split {source.split!r}: audio folder {source.audio_dir} not found")
    if source.durations is not None and not source.durations.is_file():
        raise WorkflowError(f"split {source.split!r}: durations table {source.durations} not found")
    if not source.split or "/" in source.split or source.split.startswith("."):
        raise WorkflowError(f"split name {source.split!r}: give a plain folder name with --split")
    return source


# ============================================================================ scoring
@dataclass
class SplitScores:
    """Raw model scores of every clip of a split (no post-processing).

    Attributes:
        clip_scores: ``{filename: (C,)}`` clip (tagging) probabilities.
        frame_scores: ``{filename: (T, C)}`` frame probabilities; frame ``t`` covers
            ``[t, t + 1) * frame_hop`` seconds.
        frame_hop: seconds per frame.
        classes: class names (score columns).
        ground_truth, durations, audio_dir: the split's files (``durations``: the given table,
            or one written from the audio lengths into the score folder).
        split: split name.
        checkpoint: the checkpoint that produced the scores.
        durations_by_file: ``{filename: seconds}``.
        feature_config: the model's front-end settings (for the report's spectrograms).
        reused: the scores were read back from an earlier run of the same checkpoint.
        folder: where they are kept (``RUN_DIR/scores/<split>``), ``None`` if not kept.
        seconds: time spent getting them.
    """

    clip_scores: dict[str, np.ndarray]
    frame_scores: dict[str, np.ndarray]
    frame_hop: float
    classes: list[str]
    ground_truth: Path
    durations: Path
    audio_dir: Path
    split: str
    checkpoint: Path
    durations_by_file: dict[str, float] = field(default_factory=dict)
    feature_config: dict[str, Any] = field(default_factory=dict)
    reused: bool = False
    folder: Optional[Path] = None
    seconds: float = 0.0

    @property
    def filenames(self) -> list[str]:
        return list(self.frame_scores)


def _source_record(source: SplitSource) -> dict[str, Any]:
    return {
        "split": source.split,
        "ground_truth": str(source.ground_truth.resolve()),
        "audio_dir": str(source.audio_dir.resolve()),
        "durations": str(source.durations.resolve()) if source.durations is not None else None,
    }


def _load_cached(folder: Path, identity: dict, source: SplitSource, filenames: list[str],
                 classes: list[str]) -> Optional[tuple[dict, dict, dict, dict]]:
    """The cached raw scores if they were made by the same checkpoint for the same clips."""
    try:
        info = json.loads((folder / SCORES_INFO_FILE).read_text(encoding="utf-8"))
        if (info.get("format") != SCORES_FORMAT or info.get("checkpoint") != identity
                or info.get("source", {}).get("ground_truth") != _source_record(source)["ground_truth"]
                or info.get("source", {}).get("audio_dir") != _source_record(source)["audio_dir"]
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


def _save_cache(folder: Path, info: dict, clip_scores: Mapping[str, np.ndarray],
                frame_scores: Mapping[str, np.ndarray], durations: Mapping[str, float],
                write_durations: bool) -> None:
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


def score_split(
    run_or_checkpoint: PathLike,
    data_root: Optional[PathLike] = None,
    split: Optional[str] = None,
    *,
    tsv: Optional[PathLike] = None,
    audio: Optional[PathLike] = None,
    durations: Optional[PathLike] = None,
    device: str = "cpu",
    batch_size: int = 16,
    progress: bool = True,
    reuse: bool = True,
    keep: bool = True,
) -> SplitScores:
    """Raw clip and frame scores of every clip of a split (no binarisation).

    Args:
        run_or_checkpoint: run folder (``checkpoints/best.ckpt``) or checkpoint file.
        data_root: dataset folder the recipe's data paths are relative to.
        split, tsv, audio, durations: the split (:func:`resolve_split`).
        device: "cpu", "cuda", ...
        batch_size: 10-s windows per forward pass.
        progress: progress bar.
        reuse: read back the scores kept by an earlier call for the same checkpoint (path,
            size, modification time) and clips instead of running the model.
        keep: keep the scores in ``RUN_DIR/scores/<split>/`` for later calls.
    Returns:
        :class:`SplitScores`.
    Raises:
        WorkflowError / AnnotationError / CheckpointError: naming the missing or bad file.
    """
    started = time.perf_counter()
    checkpoint = checkpoint_of(run_or_checkpoint)
    config, meta = _checkpoint_config(checkpoint)
    classes = list(meta["classes"])
    source = resolve_split(config, data_root, split, tsv, audio, durations)
    truth = read_strong_tsv(source.ground_truth, classes)
    filenames = list(truth.filenames)
    if not filenames:
        raise WorkflowError(f"{source.ground_truth}: the ground truth lists no clip")
    check_audio_files(filenames, source.audio_dir, source.ground_truth)
    identity = checkpoint_identity(checkpoint)
    folder = run_dir_of(run_or_checkpoint) / SCORES_DIR / source.split
    frame_hop = float(meta["frame_hop"])
    feature_config = dict(meta.get("feature_config", {}))

    cached = _load_cached(folder, identity, source, filenames, classes) if reuse else None
    if cached is not None:
        clip_scores, frame_scores, durations_by_file, _ = cached
        reused = True
    else:
        from jointsed.inference import Detector, system_from_checkpoint

        system = system_from_checkpoint(checkpoint, device)
        # Lin's parameters: the detector's own binarisation is not used here, and a
        # postprocess.json beside the model must not be needed to get raw scores
        detector = Detector(system, system.postprocess_params(), batch_size=batch_size, checkpoint=checkpoint)
        predictions = detector.predict_many([source.audio_dir / name for name in filenames], progress=progress)
        clip_scores = {name: p.clip_scores for name, p in zip(filenames, predictions)}
        frame_scores = {name: p.frame_scores for name, p in zip(filenames, predictions)}
        durations_by_file = {name: float(p.duration) for name, p in zip(filenames, predictions)}
        reused = False

    if source.durations is not None:
        table = read_durations_tsv(source.durations)
        missing = [n for n in filenames if n not in table]
        if missing:
            raise WorkflowError(
                f"{source.durations}: no duration for {len(missing)} clip(s) of {source.ground_truth}, "
                f"e.g. {missing[0]}"
            )
        durations_by_file = {n: float(table[n]) for n in filenames}
    if not reused and keep:
        info = {
            "format": SCORES_FORMAT,
            "checkpoint": identity,
            "source": _source_record(source),
            "classes": classes,
            "frame_hop": frame_hop,
            "n_clips": len(filenames),
            "feature_config": feature_config,
            "jointsed_version": __version__,
            "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        _save_cache(folder, info, clip_scores, frame_scores, durations_by_file, source.durations is None)
    durations_path = source.durations
    if durations_path is None:
        durations_path = folder / SCORES_DURATIONS_FILE
        if not durations_path.is_file():  # not kept: write it anyway, evaluation reads a table
            durations_path.parent.mkdir(parents=True, exist_ok=True)
            write_durations_tsv(durations_path, durations_by_file)
    return SplitScores(
        clip_scores=clip_scores,
        frame_scores=frame_scores,
        frame_hop=frame_hop,
        classes=classes,
        ground_truth=source.ground_truth,
        durations=durations_path,
        audio_dir=source.audio_dir,
        split=source.split,
        checkpoint=checkpoint,
        durations_by_file=durations_by_file,
        feature_config=feature_config,
        reused=reused,
        folder=folder if (keep or reused) else None,
        seconds=time.perf_counter() - started,
    )


# ============================================================================ post-processing
def _postprocess_info(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    info = data.get("info") if isinstance(data, dict) else None
    return info if isinstance(info, dict) else {}


def resolve_postprocess(
    run_or_checkpoint: PathLike,
    classes: Sequence[str],
    postprocess: PathLike | PostProcessingParams | None = None,
) -> tuple[PostProcessingParams, Optional[Path], str]:
    """The post-processing to evaluate with: ``(params, file or None, description)``.

    ``postprocess``: parameters, or a JSON file of them; default: ``postprocess.json`` beside
    the checkpoint / in the run folder (``jointsed tune``), else Lin's defaults from the
    checkpoint.
    """
    from jointsed.inference import find_postprocess_file

    if isinstance(postprocess, PostProcessingParams):
        return postprocess.reordered(classes), None, "given parameters"
    file = Path(postprocess) if postprocess is not None else find_postprocess_file(checkpoint_of(run_or_checkpoint))
    if file is not None:
        params = PostProcessingParams.load_json(file, classes)
        tuned = _postprocess_info(file).get("tuned_on") or {}
        what = f"{file}"
        if tuned:
            what += f" (tuned on '{tuned.get('split')}' for {tuned.get('objective')})"
        return params, file, what
    return default_params(run_or_checkpoint).reordered(classes), None, "default (Lin et al.)"


def _same_set(scores: SplitScores, tuned_on: Mapping[str, Any]) -> bool:
    gt = tuned_on.get("ground_truth")
    return bool(gt) and str(Path(gt).resolve()) == str(scores.ground_truth.resolve())


# ============================================================================ evaluation
def evaluate_scores(
    scores: SplitScores, params: PostProcessingParams, postprocess_file: Optional[Path] = None,
    postprocess_source: str = "",
) -> tuple[dict[str, Any], list, dict[str, np.ndarray]]:
    """Post-process raw scores and evaluate them: ``(metrics, events, post-processed frame scores)``.

    Event/segment/intersection F1 come from the post-processed events, tagging F1 from the clip
    probabilities at the per-class tag thresholds, PSDS from the post-processed frame scores.
    """
    from jointsed.evaluate import evaluate_run

    params = params.reordered(scores.classes)
    events = postprocess_scores(scores.clip_scores, scores.frame_scores, params, scores.frame_hop)
    processed = {
        name: postprocess_frame_scores(scores.clip_scores[name], frame, params).astype(np.float32)
        for name, frame in scores.frame_scores.items()
    }
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
            scores_label="post-processed frame scores",
        )
    tuned_on = _postprocess_info(postprocess_file).get("tuned_on", {}) if postprocess_file else {}
    metrics["split"] = scores.split
    metrics["checkpoint"] = str(scores.checkpoint)
    metrics["postprocess"] = {
        "file": str(postprocess_file) if postprocess_file else None,
        "source": postprocess_source,
        "tuned_on": tuned_on or None,
        "tuned_on_this_set": _same_set(scores, tuned_on) if tuned_on else False,
        "params": params.to_dict(),
    }
    return metrics, events, processed


def evaluate_checkpoint(
    run_dir: PathLike,
    data_root: Optional[PathLike] = None,
    split: Optional[str] = None,
    postprocess: PathLike | PostProcessingParams | None = None,
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
    say(f"scores of {len(scores.frame_scores)} clips of '{scores.split}': "
        + (f"reused from {scores.folder}" if scores.reused else f"computed in {scores.seconds:.1f} s"))
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
            "scores": "post-processed frame scores (tag gating + median filter)",
            "raw_scores": scores.folder.resolve() if scores.folder else None,
        }
        write_eval_folder(folder, predictions=events, frame_scores=processed, clip_scores=scores.clip_scores,
                          metrics=metrics, info=info)
        say(f"evaluation written to {folder}")
    result = dict(metrics)
    result["eval_folder"] = str(folder) if folder else None
    return result


# ============================================================================ tuning
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
    say(f"scores of {len(scores.frame_scores)} clips of '{scores.split}': "
        + (f"reused from {scores.folder}" if scores.reused else f"computed in {scores.seconds:.1f} s"))
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


# ============================================================================ demo
#: packaged recipe the demo trains (:mod:`jointsed.recipes`): the joint system when its CPU
#: recipe exists, else the guided-learning baseline
DEMO_RECIPE = "cpu/joint"
DEMO_FALLBACK_RECIPE = "cpu/gl_baseline"
DEMO_PRESET = "demo"
DEMO_STATE_FILE = "demo.json"

SUMMARY_ROWS: tuple[tuple[str, str, str], ...] = (
    ("AT (tagging) F1, macro %", "tagging", "macro_f1"),
    ("Event-based F1, macro %", "event_based", "macro_f1"),
    ("Segment-based F1, macro %", "segment_based", "macro_f1"),
    ("Intersection F1, macro %", "intersection", "macro_f1"),
    ("PSDS1", "psds1", "value"),
    ("PSDS2", "psds2", "value"),
)


def recipes_dir() -> Path:
    """The folder of the packaged recipes (:func:`jointsed.recipes.recipes_root`)."""
    from jointsed.recipes import recipes_root

    return recipes_root()


def demo_recipe() -> Path:
    """The recipe ``jointsed demo`` trains by default (:data:`DEMO_RECIPE`, else the fallback)."""
    from jointsed.recipes import list_recipes, packaged_recipe

    names = list_recipes()
    return packaged_recipe(DEMO_RECIPE if DEMO_RECIPE in names else DEMO_FALLBACK_RECIPE)


@dataclass
class DemoStep:
    name: str
    seconds: float
    note: str = ""


@dataclass
class DemoResult:
    """What :func:`run_demo` did: folders, metrics (Lin's defaults and tuned), step times."""

    out: Path
    data_root: Path
    run_dir: Path
    model_run: Path
    recipe: Path
    default_metrics: dict[str, Any]
    tuned_metrics: dict[str, Any]
    tuning: Optional[TuningResult]
    report: Path
    steps: list[DemoStep]
    #: tuned post-processing scored on the dataset's held-out eval split (None: no such split)
    heldout_metrics: Optional[dict[str, Any]] = None

    @property
    def total_seconds(self) -> float:
        return sum(s.seconds for s in self.steps)

    def summary(self) -> str:
        """The final table: default vs tuned metrics, honesty notes, step times, report path."""
        return format_demo_summary(self)


def _metric(metrics: Mapping[str, Any], family: str, key: str) -> Optional[float]:
    entry = metrics.get(family)
    if not isinstance(entry, Mapping):
        return None
    value = entry.get(key)
    return None if value is None else float(value)


def format_demo_summary(result: DemoResult) -> str:
    def cell(value: Optional[float], psds: bool) -> str:
        if value is None:
            return "-"
        return f"{value:.3f}" if psds else f"{100 * value:.1f}"

    split = result.tuned_metrics.get("split", "validation")
    n_clips = result.tuned_metrics.get("n_clips", "?")
    held = result.heldout_metrics
    lines = [
        "",
        f"jointsed demo: {split} set of the synthetic dataset ({n_clips} clips)"
        + (f" and its held-out eval split ({held.get('n_clips', '?')} clips)" if held else ""),
        f"{'Metric':<28}{'Lin default':>12}{'tuned':>10}" + (f"{'held-out':>10}" if held else ""),
        "-" * (60 if held else 50),
    ]
    for label, family, key in SUMMARY_ROWS:
        psds = family.startswith("psds")
        lines.append(
            f"{label:<28}{cell(_metric(result.default_metrics, family, key), psds):>12}"
            f"{cell(_metric(result.tuned_metrics, family, key), psds):>10}"
            + (f"{cell(_metric(held, family, key), psds):>10}" if held else "")
        )
    left_out = result.tuned_metrics.get("classes_without_ground_truth")
    lines += [
        "",
        f"'Lin default' and 'tuned' are scored on the {split} set. The post-processing was tuned on this",
        f"same {split} set, so 'tuned' is optimistic ('Lin default': Lin et al.'s untuned thresholds 0.5",
        "and class-wise median windows).",
    ]
    if held:
        lines += [
            "'held-out' is the fair figure: the tuned model scored on clips it never saw, in training or",
            "tuning (the dataset's eval split, laid out like DESED's public evaluation set).",
        ]
    lines += [
        "Synthetic data: these numbers say the pipeline works, not how the system does on real DESED",
        "audio.",
    ]
    if left_out:
        lines.append(f"PSDS covers the classes with ground-truth events (without: {', '.join(left_out)}).")
    lines += ["", f"{'Step':<28}{'seconds':>10}  note", "-" * 60]
    for step in result.steps:
        lines.append(f"{step.name:<28}{step.seconds:>10.1f}  {step.note}")
    lines.append(f"{'total':<28}{result.total_seconds:>10.1f}")
    lines += [
        "",
        f"model: {result.model_run} (recipe {result.recipe})",
        f"report: {result.report}",
    ]
    return "\n".join(lines)


def _read_state(out: Path) -> dict[str, Any]:
    try:
        data = json.loads((out / DEMO_STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _dataset_complete(data_root: Path, preset: str, seed: int) -> Optional[str]:
    """``None`` if ``data_root`` holds the complete synthetic dataset of ``preset``/``seed``,
    else why not (``"missing"`` when it does not exist)."""
    if not data_root.exists():
        return "missing"
    try:
        desc = json.loads((data_root / "synth.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f"{data_root} exists but holds no complete jointsed synth dataset (no synth.json)"
    if desc.get("preset") != preset or desc.get("seed") != seed:
        return (f"{data_root} holds the '{desc.get('preset')}' preset with seed {desc.get('seed')}, "
                f"not '{preset}' with seed {seed}")
    return None




def _training_key(config_dict: Mapping[str, Any]) -> Any:
    import yaml

    data = yaml.safe_load(yaml.safe_dump(dict(config_dict), sort_keys=True))  # tuples -> lists
    for key in HARDWARE_KEYS:
        data.get("trainer", {}).pop(key, None)
    data.pop("name", None)
    return data


def _same_settings(saved: Any, current: Any) -> bool:
    """``saved`` (a run's config) equals ``current`` on every key it has: keys added to the
    recipe format after the run was trained (absent from ``saved``) are not compared."""
    if isinstance(saved, dict) and isinstance(current, dict):
        return all(key in current and _same_settings(value, current[key]) for key, value in saved.items())
    return saved == current


def _same_training(run_dir: Path, config: Any, record: Mapping[str, Any], recipe: Path,
                   overrides: Sequence[str]) -> Optional[bool]:
    """Whether ``run_dir`` holds (part of) a run of this recipe: compared on its saved
    ``config.yaml`` (hardware settings aside), else on the demo's record; ``None``: unknown."""
    saved = run_dir / CONFIG_FILE
    if saved.is_file():
        from jointsed.config import load_yaml

        return _same_settings(_training_key(load_yaml(saved)), _training_key(to_dict(config)))
    if record:
        return record.get("recipe") == str(recipe) and record.get("overrides") == list(overrides)
    return None


def _training_finished(run_dir: Path, record: Mapping[str, Any]) -> bool:
    """Whether the training in ``run_dir`` is complete: the demo recorded it, or the engine
    marked it (``finished.json`` of a plain run; a two-stage run's ``metrics.json`` is written
    only once its last stage is published, with a ``stages`` entry)."""
    metrics_file = run_dir / METRICS_FILE
    if not metrics_file.is_file():
        return False
    if record.get("finished") or (run_dir / FINISHED_FILE).is_file():
        return True
    try:
        return "stages" in json.loads(metrics_file.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return False


def _is_multi_phase(config: Any) -> bool:
    """Joint recipes whose :func:`~jointsed.training.engine.train` runs several phases (frame
    teacher, stages) and reuses / resumes each by itself."""
    dist = config.joint.distillation
    return bool(config.joint.two_stage.enabled or (dist.enabled and dist.teacher_checkpoint == "auto"))


def _training_note(metrics: Mapping[str, Any]) -> str:
    """Best validation score (and epoch) of a run, stage by stage for a two-stage run."""
    monitor = metrics.get("monitor", "score")
    stages = metrics.get("stages")
    if isinstance(stages, Mapping) and stages:
        parts = [f"{name} best {monitor} {info.get('best_score') or 0:.3f} (epoch {info.get('best_epoch')})"
                 for name, info in stages.items() if isinstance(info, Mapping)]
        return "; ".join(parts) + f"; published: {metrics.get('published_stage', 'stage2')}'s best"
    if metrics.get("best_score") is not None:
        return f"best {monitor} {metrics['best_score']:.3f} (epoch {metrics.get('best_epoch')})"
    return ""


def _find_model_run(run_dir: Path, state: Mapping[str, Any]) -> Path:
    """The run whose model the demo uses, from ``demo.json`` (a path relative to the demo folder:
    a copied or moved demo folder uses its own run; an absolute path from an older demo.json is
    only used when it lies inside this demo folder)."""
    out = run_dir.parent
    recorded = state.get("train", {}).get("model_run")
    if recorded:
        path = Path(recorded)
        path = path if path.is_absolute() else out / path
        if path.is_dir() and path.resolve().is_relative_to(out.resolve()):
            return path
    return run_dir_of(checkpoint_of(run_dir))


def _relative_to_demo(path: Path, out: Path) -> str:
    """``demo.json`` stores paths relative to the demo folder (it may be copied or moved)."""
    return os.path.relpath(Path(path).resolve(), Path(out).resolve())


def run_demo(
    out: PathLike = "jointsed_demo",
    *,
    force: bool = False,
    recipe: Optional[PathLike] = None,
    overrides: Sequence[str] = (),
    device: Literal["cpu", "gpu"] = "cpu",
    preset: str = DEMO_PRESET,
    seed: int = 0,
    objective: Literal["event_f1", "psds1"] = "event_f1",
    report_clips: int = 6,
    progress: bool = True,
    echo: Echo = print,
) -> DemoResult:
    """The whole toolkit on a synthetic dataset: synthesize, train, tune, evaluate, report.

    Finished steps are skipped when run again (the dataset if complete, the training if the
    run finished with the same recipe and overrides; scores are reused), unless ``force``.

    Args:
        out: demo folder: ``OUT/data`` (dataset), ``OUT/run`` (training run, its ``eval/``,
            ``postprocess.json`` and ``report/``), ``OUT/demo.json`` (what was done).
        force: redo every step (replaces ``OUT/data`` and ``OUT/run``).
        recipe: recipe to train (default :func:`demo_recipe`).
        overrides: recipe overrides (``key.path=value``).
        device: ``cpu`` or ``gpu`` (training and inference).
        preset, seed: synthetic dataset (``jointsed synth``).
        objective: tuning objective.
        report_clips: example clips drawn in the report.
        progress: progress bars.
        echo: where to print progress messages.
    Returns:
        :class:`DemoResult` (``summary()`` gives the final table).
    """
    from jointsed.data.synth import synthesize_dataset
    from jointsed.training.config import load_recipe
    from jointsed.training.engine import train

    say = echo or (lambda _: None)
    out = Path(out)
    data_root, run_dir = out / "data", out / "run"
    if out.exists() and not out.is_dir():
        raise WorkflowError(f"--out {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / DEMO_STATE_FILE).is_file() and not data_root.is_dir():
        raise WorkflowError(f"--out {out}: folder exists and is not a jointsed demo folder; choose another --out")
    recipe_path = Path(recipe).resolve() if recipe is not None else demo_recipe()
    if not recipe_path.is_file():
        raise WorkflowError(f"--recipe {recipe_path}: file not found")
    if device not in ("cpu", "gpu"):
        raise WorkflowError(f"--device must be cpu or gpu, got {device!r}")
    user_overrides = list(overrides)
    inference_device = "cuda" if device == "gpu" else "cpu"
    # ConfigError naming a bad key before any work
    config = load_recipe(recipe_path, [*user_overrides, f"trainer.accelerator={device}"])
    out.mkdir(parents=True, exist_ok=True)
    state = {} if force else _read_state(out)
    steps: list[DemoStep] = []

    def save_state() -> None:
        atomic_write_json(out / DEMO_STATE_FILE, state)

    # 1. dataset
    say(f"[1/5] dataset: '{preset}' preset -> {data_root}")
    started = time.perf_counter()
    why = _dataset_complete(data_root, preset, seed)
    if why is None and not force:
        steps.append(DemoStep("1. synthesize dataset", time.perf_counter() - started, f"reused {data_root}"))
        say("      complete dataset found: reused")
    else:
        if why not in (None, "missing") and not force:
            raise WorkflowError(f"{why}; use --force to replace it")
        report = synthesize_dataset(data_root, preset=preset, seed=seed, force=data_root.exists(),
                                    progress=progress)
        steps.append(DemoStep("1. synthesize dataset", time.perf_counter() - started,
                              f"{report.total_clips} clips"))
        state = {"data": {"preset": preset, "seed": seed}}  # a new dataset invalidates the rest
        save_state()

    # 2. training
    say(f"[2/5] training {recipe_path.name} -> {run_dir}")
    started = time.perf_counter()
    record = state.get("train", {})
    resume = False
    if run_dir.exists() and any(run_dir.iterdir()) and not force:
        same = _same_training(run_dir, config, record, recipe_path, user_overrides)
        if same is not True:
            what = "another recipe or overrides" if same is False else "a run this demo did not record"
            raise WorkflowError(f"{run_dir} holds {what}; use --force to retrain, or choose another --out")
        finished = _training_finished(run_dir, record)
        # an interrupted run continues; the joint phases are resumed or reused by the engine
        resume = not finished and (_is_multi_phase(config) or last_checkpoint(run_dir).is_file())
    else:
        finished = False
        if run_dir.exists():
            shutil.rmtree(run_dir)  # --force, or an empty folder (OUT is a demo folder: checked above)
    if finished:
        model_run = _find_model_run(run_dir, state)
        steps.append(DemoStep("2. train", time.perf_counter() - started, f"reused {model_run}"))
        say(f"      finished run found: reused ({model_run})")
    else:
        state["train"] = {"recipe": str(recipe_path), "overrides": user_overrides, "finished": False}
        save_state()
        if resume:
            say("      continuing the interrupted run (finished phases are reused)")
        result = train(config, data_root, run_dir, resume=resume, progress=progress)
        model_run = run_dir_of(result.best_checkpoint or result.last_checkpoint)
        steps.append(DemoStep("2. train", time.perf_counter() - started, _training_note(result.metrics)))
        state["train"] = {"recipe": str(recipe_path), "overrides": user_overrides, "finished": True,
                          "model_run": _relative_to_demo(model_run, out), "seconds": round(steps[-1].seconds, 1)}
        save_state()

    # 3. scoring + tuning (the raw scores are kept and reused by the evaluation)
    say(f"[3/5] tuning the post-processing on the validation set ({objective})")
    started = time.perf_counter()
    scores = score_split(model_run, data_root, "validation", device=inference_device, progress=progress)
    steps.append(DemoStep("3a. score validation set", time.perf_counter() - started,
                          "reused" if scores.reused else f"{len(scores.frame_scores)} clips"))
    started = time.perf_counter()
    tuning = tune_run(model_run, data_root, "validation", objective, device=inference_device,
                      progress=progress, echo=echo)
    steps.append(DemoStep("3b. tune post-processing", time.perf_counter() - started,
                          f"{tuning.n_candidates} candidates"))

    # 4. evaluation: Lin's defaults (for honesty) and tuned
    say("[4/5] evaluating on the validation set (Lin's defaults, then tuned) and the held-out eval split")
    started = time.perf_counter()
    default_metrics, _, _ = evaluate_scores(scores, default_params(model_run), None, "default (Lin et al.)")
    tuned_metrics = evaluate_checkpoint(model_run, data_root, "validation", device=inference_device,
                                        progress=progress, echo=echo)
    heldout_metrics = None
    from jointsed.data.synth.generate import EVAL_DURATIONS_TSV, EVAL_TSV, SPLIT_BY_NAME

    if (data_root / EVAL_TSV).is_file():  # a dataset with an eval split: the fair, held-out figure
        heldout_metrics = evaluate_checkpoint(
            model_run, data_root, "heldout", tsv=data_root / EVAL_TSV,
            audio=data_root / SPLIT_BY_NAME["public_eval"].audio_dir, durations=data_root / EVAL_DURATIONS_TSV,
            device=inference_device, progress=progress, echo=echo)
    steps.append(DemoStep("4. evaluate", time.perf_counter() - started,
                          "default + tuned" + (" + held-out" if heldout_metrics else "")))

    # 5. report
    say("[5/5] writing the report")
    started = time.perf_counter()
    from jointsed.report import build_report

    index = build_report(model_run, split="validation", n_clips=report_clips, progress=progress)
    steps.append(DemoStep("5. report", time.perf_counter() - started, ""))
    state["last"] = {
        "report": _relative_to_demo(index, out),
        "steps": [{"name": s.name, "seconds": round(s.seconds, 2), "note": s.note} for s in steps],
    }
    save_state()
    return DemoResult(out=out, data_root=data_root, run_dir=run_dir, model_run=model_run, recipe=recipe_path,
                      default_metrics=default_metrics, tuned_metrics=tuned_metrics, tuning=tuning,
                      report=index, steps=steps, heldout_metrics=heldout_metrics)


__all__ = [
    "CONFIG_SPLITS",
    "DEMO_FALLBACK_RECIPE",
    "DEMO_RECIPE",
    "DemoResult",
    "DemoStep",
    "SplitScores",
    "SplitSource",
    "WorkflowError",
    "checkpoint_of",
    "default_params",
    "demo_recipe",
    "evaluate_checkpoint",
    "evaluate_scores",
    "format_demo_summary",
    "recipes_dir",
    "resolve_postprocess",
    "resolve_split",
    "run_demo",
    "run_dir_of",
    "score_split",
    "tune_run",
]
