"""Raw model scores of every clip of a split (no post-processing), kept in the run folder's
raw-score cache (:mod:`jointsed.runs.score_cache`) and reused by later calls."""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from jointsed import __version__
from jointsed.config import to_dict
from jointsed.data.annotations import read_durations_tsv, read_strong_tsv, write_durations_tsv
from jointsed.data.audio_files import check_audio_files
from jointsed.pipeline.errors import PipelineError
from jointsed.pipeline.splits import resolve_split
from jointsed.runs.checkpoint import checkpoint_identity, read_checkpoint, resolve_checkpoint, run_dir_of
from jointsed.runs.layout import SCORES_DIR, SCORES_DURATIONS_FILE
from jointsed.runs.score_cache import load_raw_scores, save_raw_scores, source_record
from jointsed.runs.settings import default_postprocess, split_meta

PathLike = str | os.PathLike
Echo = Optional[Callable[[str], None]]


def checkpoint_of(run_or_checkpoint: PathLike) -> Path:
    """The checkpoint of a run folder (``checkpoints/best.ckpt``, else ``last.ckpt``) or a
    checkpoint file, resolved to an absolute path."""
    return resolve_checkpoint(run_or_checkpoint).resolve()


def _checkpoint_config(checkpoint: Path):
    """The run's recipe and :class:`~jointsed.runs.settings.ModelInfo`, from the checkpoint."""
    from jointsed.training.config import recipe_from_dict

    block = read_checkpoint(checkpoint)["jointsed"]
    info, _ = split_meta(block["meta"])
    return recipe_from_dict(block["config"]), info


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


def audio_identity(audio_dir: Path, filenames: list[str]) -> str:
    """A digest of the clips' audio files as they are now: each file's name, size and
    modification time (what the feature cache keys its entries by too). A file rewritten with the
    same size and modification time is not detected (as for ``make``)."""
    digest = hashlib.sha256()
    for name in filenames:
        try:
            st = (Path(audio_dir) / name).stat()
            entry = f"{name}\t{st.st_size}\t{st.st_mtime_ns}\n"
        except OSError:
            entry = f"{name}\t-\n"
        digest.update(entry.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


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
            size, modification time), clips and audio files (sizes, modification times) instead
            of running the model.
        keep: keep the scores in ``RUN_DIR/scores/<split>/`` for later calls.
    Returns:
        :class:`SplitScores`.
    Raises:
        PipelineError / AnnotationError / CheckpointError: naming the missing or bad file.
    """
    started = time.perf_counter()
    checkpoint = checkpoint_of(run_or_checkpoint)
    config, info = _checkpoint_config(checkpoint)
    classes = list(info.classes)
    source = resolve_split(config, data_root, split, tsv, audio, durations)
    truth = read_strong_tsv(source.ground_truth, classes)
    filenames = list(truth.filenames)
    if not filenames:
        raise PipelineError(f"{source.ground_truth}: the ground truth lists no clip")
    check_audio_files(filenames, source.audio_dir, source.ground_truth)
    # what made the kept scores: the checkpoint and the audio files as they are now (audio replaced
    # in place under the same names is scored again)
    identity = {**checkpoint_identity(checkpoint), "audio_files": audio_identity(source.audio_dir, filenames)}
    folder = run_dir_of(run_or_checkpoint) / SCORES_DIR / source.split
    frame_hop = float(info.frame_hop)
    feature_config = dict(info.feature_config)

    record = source_record(source.split, source.ground_truth, source.audio_dir, source.durations)
    cached = load_raw_scores(folder, identity, record, filenames, classes) if reuse else None
    if cached is not None:
        clip_scores, frame_scores, durations_by_file, _ = cached
        reused = True
    else:
        from jointsed.inference import Detector

        # the model's default post-processing (from the checkpoint block already read): the
        # detector's own binarisation is not used here, and a postprocess.json beside the model
        # must not be needed to get raw scores
        detector = Detector.from_checkpoint(checkpoint, device, batch_size=batch_size,
                                            postprocess=default_postprocess(info, to_dict(config.postprocess)))
        predictions = detector.predict_many([source.audio_dir / name for name in filenames], progress=progress)
        clip_scores = {name: p.clip_scores for name, p in zip(filenames, predictions)}
        frame_scores = {name: p.frame_scores for name, p in zip(filenames, predictions)}
        durations_by_file = {name: float(p.duration) for name, p in zip(filenames, predictions)}
        reused = False

    if source.durations is not None:
        table = read_durations_tsv(source.durations)
        missing = [n for n in filenames if n not in table]
        if missing:
            raise PipelineError(
                f"{source.durations}: no duration for {len(missing)} clip(s) of {source.ground_truth}, "
                f"e.g. {missing[0]}"
            )
        durations_by_file = {n: float(table[n]) for n in filenames}
    if not reused and keep:
        info = {
            "checkpoint": identity,
            "source": record,
            "classes": classes,
            "frame_hop": frame_hop,
            "n_clips": len(filenames),
            "feature_config": feature_config,
            "jointsed_version": __version__,
            "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        save_raw_scores(folder, info, clip_scores, frame_scores, durations_by_file, source.durations is None)
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


def scores_note(scores: SplitScores) -> str:
    """One line saying where a split's scores came from (printed by evaluate and tune)."""
    return (f"scores of {len(scores.frame_scores)} clips of '{scores.split}': "
            + (f"reused from {scores.folder}" if scores.reused else f"computed in {scores.seconds:.1f} s"))
