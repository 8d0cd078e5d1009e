"""One training run folder: from a recipe and loaded data sets to checkpoints and
``metrics.json`` (a whole run, or one phase of the joint framework, see :mod:`.phases`).

Prepares the system (typed :class:`~jointsed.runs.settings.ModelInfo` from the training
labels, the input statistics, the seed), checks the folder (``--resume`` continues only the same
run), measures the untrained network, fits, and marks the folder finished.
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import torch
import yaml

from lightning.pytorch.callbacks import Callback

from jointsed.config import to_dict
from jointsed.postprocess.lin import lin_median_windows
from jointsed.runs.checkpoint import (
    CheckpointError,
    read_checkpoint,
    read_state_dict,
    resolve_checkpoint,
    verify_checkpoint,
    weights_checksum,
)
from jointsed.runs.fingerprint import write_fingerprint
from jointsed.runs.layout import BEST_CHECKPOINT, CHECKPOINT_DIR, CONFIG_FILE, HARDWARE_KEYS, best_checkpoint, last_checkpoint
from jointsed.runs.state import TrainResult, saved_settings, settings_differ, summarize_history, write_finished
from jointsed.systems import build_system
from jointsed.systems.base import SEDSystem
from jointsed.systems.frame_teacher import FrameTeacherSystem
from jointsed.systems.guided_learning import GuidedLearningSystem
from jointsed.runs.settings import ModelInfo, PhaseSettings, split_meta
from jointsed.training.config import RecipeConfig
from jointsed.training.data import (
    SEDDataModule,
    TrainingSet,
    ValidationSet,
    class_ratios,
    feature_statistics,
)
from jointsed.training.distributed import barrier
from jointsed.training.data_checks import check_same_data, fingerprint_of
from jointsed.training.errors import TrainingError
from jointsed.training.interruption import InterruptionRecorder, stopped_by_signal
from jointsed.training.trainer import RunFilesCallback, build_trainer, quiet_lightning_banners
from jointsed.utils.atomic import atomic_write_text
from jointsed.utils.seed import seed_everything


def median_windows_for(config: RecipeConfig, train: TrainingSet) -> list[int]:
    """Lin's median windows from the strong training labels, or the recipe's explicit windows."""
    p = config.postprocess
    classes = list(config.data.classes)
    if isinstance(p.median_windows, int):
        return [p.median_windows] * len(classes)
    if isinstance(p.median_windows, list):
        return list(p.median_windows)
    if train.strong_annotations is None or not train.strong_annotations.events:
        warnings.warn("no strongly labelled training clip: median windows of 1 frame (no filtering)", stacklevel=2)
        return [1] * len(classes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # classes without strong events get 1: fine for tiny sets
        return lin_median_windows(train.strong_annotations, classes, config.features.frame_hop, p.median_factor)


def build_meta(config: RecipeConfig, train: TrainingSet) -> dict[str, Any]:
    """The inference metadata stored in every checkpoint (see :class:`SEDSystem`)."""
    classes = list(config.data.classes)
    return {
        "classes": classes,
        "class_ratios": class_ratios(train, classes),
        "median_windows": median_windows_for(config, train),
        "frame_hop": config.features.frame_hop,
        "n_frames": config.features.n_frames(),
        "feature_config": to_dict(config.features),
        # the feature cache stores float16: inference rounds its features the same way
        "feature_storage": "float16",
        "train_set_sizes": train.set_sizes(),
    }


def model_info(config: RecipeConfig, train: TrainingSet) -> ModelInfo:
    """What inference needs besides the weights, from the recipe and the training set (stored in
    every checkpoint, see :class:`~jointsed.runs.settings.ModelInfo`)."""
    classes = list(config.data.classes)
    return ModelInfo(
        classes=classes,
        class_ratios=class_ratios(train, classes),
        median_windows=median_windows_for(config, train),
        frame_hop=config.features.frame_hop,
        n_frames=config.features.n_frames(),
        feature_config=to_dict(config.features),
        # the feature cache stores float16: inference rounds its features the same way
        feature_storage="float16",
        train_set_sizes=train.set_sizes(),
    )


def prepare_system(config: RecipeConfig, train: TrainingSet, validation: Optional[ValidationSet],
                   phase: Optional[PhaseSettings] = None, distillation: Optional[Any] = None) -> SEDSystem:
    """Seeded system with the training statistics filled in.

    Args:
        phase: the training phase's settings (two-stage training; default: a plain run).
        distillation: the frame teacher (:class:`~jointsed.runs.settings.DistillationSource`)
            of a distillation run.
    """
    info = model_info(config, train)
    info.distillation = distillation
    seed_everything(config.seed)
    system = build_system(config, info, phase, validation)
    mean, std = feature_statistics(train.features)
    system.set_feature_statistics(mean, std)
    return system


#: recipe keys that may change on ``--resume`` (besides :data:`HARDWARE_KEYS`): training longer
RESUME_MAY_CHANGE = ("trainer.max_epochs",)


def _check_resume_config(run_dir: Path, config: RecipeConfig) -> None:
    """``--resume`` continues the run as it was configured: a changed recipe key would be recorded
    in ``config.yaml`` and the checkpoints but not used (the optimiser, scheduler... come from the
    checkpoint), so refuse it, naming the keys. Hardware keys and ``trainer.max_epochs`` may change."""
    saved = saved_settings(run_dir)
    if saved is None:
        return  # a run interrupted before its first write: nothing recorded to contradict
    differ = settings_differ(saved, to_dict(config), may_change=RESUME_MAY_CHANGE)
    if differ:
        shown = "; ".join(f"{k}: {old!r} in the run, {new!r} now" for k, (old, new) in list(differ.items())[:8])
        raise TrainingError(
            f"--resume: the recipe differs from the run's {run_dir / CONFIG_FILE} ({shown}{'; ...' if len(differ) > 8 else ''}). "
            "A resumed run continues with its recorded settings; only hardware keys "
            f"({', '.join('trainer.' + k for k in HARDWARE_KEYS)}) and {', '.join(RESUME_MAY_CHANGE)} may change. "
            "Start a new run (another --out) to train with other settings"
        )


def check_run_dir(run_dir: Path, resume: bool, config: Optional[RecipeConfig] = None) -> Optional[Path]:
    last = last_checkpoint(run_dir)
    if resume:
        if not last.is_file():
            raise TrainingError(f"--resume: {last} not found (nothing to resume in {run_dir})")
        verify_checkpoint(last)  # unsafe / empty / corrupt: a clear error before any data is loaded
        if config is not None:
            _check_resume_config(run_dir, config)
        return last
    if last.exists() or (best_checkpoint(run_dir)).exists():
        raise TrainingError(
            f"{run_dir} already holds a training run; use --resume to continue it or choose another --out"
        )
    return None


def fit(
    config: RecipeConfig,
    run_dir: Path,
    train_data: TrainingSet,
    val_data: Optional[ValidationSet],
    *,
    resume: bool,
    progress: bool,
    callbacks: Sequence[Callback] = (),
    max_epochs: Optional[int] = None,
    phase_settings: Optional[PhaseSettings] = None,
    distillation: Optional[Any] = None,
    init_checkpoint: Optional[Path] = None,
    frame_teacher: Optional[FrameTeacherSystem] = None,
    phase: str = "run",
) -> TrainResult:
    """Train one run folder (a whole run, or one phase of the joint framework)."""
    ckpt_path = check_run_dir(run_dir, resume, config)
    fingerprint = fingerprint_of(train_data, val_data)
    if ckpt_path is not None:
        check_same_data(run_dir, fingerprint)  # --resume: the same clips and files as the run's
    started = time.perf_counter()
    system = prepare_system(config, train_data, val_data, phase_settings, distillation)
    init_sha = None
    if init_checkpoint is not None:
        state = read_state_dict(init_checkpoint)
        try:
            system.load_state_dict(state)
        except RuntimeError as exc:
            raise TrainingError(f"{init_checkpoint}: its weights do not fit this recipe's model ({exc})") from None
        init_sha = weights_checksum(state)
    if frame_teacher is not None:
        if not isinstance(system, GuidedLearningSystem):  # pragma: no cover - config.validate refuses it
            raise TrainingError(f"joint.distillation: not available for system {config.system}")
        system.attach_frame_teacher(frame_teacher)
    datamodule = SEDDataModule(config, train_data, val_data)
    has_val = val_data is not None and len(val_data) > 0
    epochs = max_epochs or config.trainer.max_epochs
    if has_val:
        # the baseline every trained model is judged against (and the frame teacher must beat)
        with stopped_by_signal(phase, run_dir, epochs):
            system.untrained_metrics = headline(system.score_validation_set())
    run_files = RunFilesCallback(run_dir, config.validation.monitor if has_val else "none")
    recorder = InterruptionRecorder()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*sync_dist=True.*")
        warnings.filterwarnings("ignore", message=".*LightningModule.*has parameters that were not used.*")
        # Lightning notes that say nothing to our users (small data sets log less often than
        # every 10 steps; a deprecation inside Lightning itself).
        warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
        warnings.filterwarnings("ignore", message=".*isinstance\\(treespec, LeafSpec\\)` is deprecated.*")
        quiet_lightning_banners()
        trainer = build_trainer(config, run_dir, [run_files, recorder, *callbacks], progress, has_val, epochs)
        if trainer.is_global_zero:
            run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(run_dir / CONFIG_FILE, yaml.safe_dump(to_dict(config), sort_keys=False))
            write_fingerprint(run_dir, fingerprint)
        # a signal stops the fit at a batch boundary (Lightning): a non-zero exit naming the epoch
        with stopped_by_signal(phase, run_dir, epochs, recorder, trainer):
            trainer.fit(system, datamodule=datamodule, ckpt_path=str(ckpt_path) if ckpt_path else None)
    best = best_checkpoint(run_dir)
    metrics = summarize_history(system.history, config.validation.monitor, system.untrained_metrics)
    result = TrainResult(run_dir, best if best.is_file() else None, last_checkpoint(run_dir), metrics)
    if trainer.is_global_zero and trainer.current_epoch >= epochs:
        info: dict[str, Any] = {"phase": phase, "epochs": epochs, "seconds_last_session": round(time.perf_counter() - started, 1),
                                "clip_presentations": system.clips_seen * trainer.world_size,
                                "best_checkpoint": f"{CHECKPOINT_DIR}/{BEST_CHECKPOINT}" if result.best_checkpoint else None}
        if init_checkpoint is not None:
            info.update(init_checkpoint=str(init_checkpoint), init_weights_sha256=init_sha)
        if phase_settings is not None:
            info["phase_settings"] = to_dict(phase_settings)
        write_finished(run_dir, info)
    # the next phase reads this one's finished.json and checkpoints: no rank goes on before rank 0 wrote them
    barrier()
    return result


def resolve_init(init_checkpoint: str | os.PathLike) -> Path:
    """``--init``: a checkpoint file (or a run folder's) that exists and loads safely."""
    try:
        init = resolve_checkpoint(init_checkpoint)
        verify_checkpoint(init)
    except CheckpointError as exc:
        raise TrainingError(f"--init: {exc}") from None
    return init.resolve()


def check_init_fits(init: Path, config: RecipeConfig, train_data: TrainingSet, phase: PhaseSettings) -> None:
    """``--init``: the weights must fit stage 2's model of this recipe (checked before any phase
    trains, e.g. the frame teacher, so that a wrong file fails in seconds, not after an hour)."""
    ckpt = read_checkpoint(init)
    try:
        their_info, _ = split_meta(ckpt["jointsed"].get("meta") or {}, f"{init}: meta")
    except Exception as exc:
        raise TrainingError(f"--init {init}: {exc}") from None
    theirs = list(their_info.classes)
    if theirs != list(config.data.classes):
        raise TrainingError(f"--init {init}: trained on other classes ({', '.join(theirs)}) than this recipe's")
    with torch.random.fork_rng():  # building a model draws random weights: leave the seeds alone
        try:
            # the distillation projections are sized by the frame teacher, not trained yet: the init's
            info = model_info(config, train_data)
            info.distillation = their_info.distillation
            system = build_system(config, info, phase)
            system.load_state_dict(ckpt["state_dict"])
        except (RuntimeError, KeyError, ValueError) as exc:
            raise TrainingError(f"--init {init}: its weights do not fit this recipe's model ({exc})") from None


def headline(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The scalar validation metrics (no per-class tables, no score checksums)."""
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not k.endswith("_sum")}
