"""Training engine: from a recipe and a data folder to a run folder.

Run folder layout::

    RUN_DIR/config.yaml               the resolved recipe (YAML)
    RUN_DIR/checkpoints/best.ckpt     best validation score (``validation.monitor``)
    RUN_DIR/checkpoints/last.ckpt     end of the last finished epoch (``--resume`` starts here)
    RUN_DIR/logs/csv/version_<n>/metrics.csv   CSV log (Lightning CSVLogger), one folder per session
    RUN_DIR/logs/tensorboard/version_<n>/      TensorBoard events
    RUN_DIR/metrics.json              validation metrics: best epoch, last epoch, every epoch
    RUN_DIR/postprocess.json          tuned post-processing (written later by ``jointsed tune``)
    RUN_DIR/ddp/rank<R>.json          with several processes: each rank's final weight checksum

Multi-GPU / multi-node training is Lightning's DDP (``--devices N --strategy ddp --num-nodes M``);
every process loads the (cached) data itself, draws its share of every epoch's batches and
validates on the whole validation set. Every file is written atomically (checkpoints included,
through :class:`AtomicCheckpointIO`).
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import torch
import yaml

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.plugins.io import TorchCheckpointIO

from jointsed.config import to_dict
from jointsed.errors import JointsedError
from jointsed.postprocess.lin import lin_median_windows
from jointsed.training.config import RecipeConfig
from jointsed.training.data import (
    SEDDataModule,
    TrainingSet,
    ValidationSet,
    class_ratios,
    feature_statistics,
    load_training_set,
    load_validation_set,
)
from jointsed.training.systems import SEDSystem, build_system
from jointsed.utils.atomic import atomic_path, atomic_write_json, atomic_write_text
from jointsed.utils.seed import seed_everything

#: env var telling DDP child processes (re-launched copies of the command) which run folder to use
RUN_DIR_ENV = "JOINTSED_RUN_DIR"


class TrainingError(JointsedError):
    """A training run cannot start (run folder conflicts, missing checkpoint to resume...)."""


@dataclass
class TrainResult:
    """What :func:`train` produced."""

    run_dir: Path
    best_checkpoint: Optional[Path]
    last_checkpoint: Path
    metrics: dict[str, Any] = field(default_factory=dict)


class AtomicCheckpointIO(TorchCheckpointIO):
    """``torch.save`` to a temporary file renamed onto the checkpoint path (never half-written)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Optional[Any] = None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            torch.save(checkpoint, tmp)


def weights_checksum(weights: torch.nn.Module | Mapping[str, torch.Tensor]) -> str:
    """SHA-256 of every parameter and buffer (name, dtype, shape, bytes), in name order.

    Accepts a module or a state dict (e.g. a checkpoint's ``state_dict``): both give the same hash.
    """
    state = weights.state_dict() if isinstance(weights, torch.nn.Module) else weights
    h = hashlib.sha256()
    for name, tensor in sorted(state.items()):
        t = tensor.detach().cpu().contiguous()
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()


def summarize_history(history: list[dict[str, Any]], monitor: str) -> dict[str, Any]:
    """``metrics.json`` content from the per-epoch validation history."""
    if not history:
        return {"monitor": monitor, "best": None, "last": None, "history": []}
    best = max(history, key=lambda h: (h["score"], -h["epoch"]))
    return {"monitor": monitor, "best_epoch": best["epoch"], "best_score": best["score"],
            "best": best, "last": history[-1], "history": history}


class RunFilesCallback(Callback):
    """Writes ``metrics.json`` (rank 0) and, with several processes, each rank's weight checksum."""

    def __init__(self, run_dir: Path, monitor: str) -> None:
        self.run_dir = run_dir
        self.monitor = monitor

    def _write_metrics(self, trainer: pl.Trainer, module: SEDSystem) -> None:
        if trainer.is_global_zero:
            atomic_write_json(self.run_dir / "metrics.json", summarize_history(module.history, self.monitor))

    def on_validation_end(self, trainer: pl.Trainer, module: SEDSystem) -> None:
        if not trainer.sanity_checking:
            self._write_metrics(trainer, module)

    def on_fit_end(self, trainer: pl.Trainer, module: SEDSystem) -> None:
        self._write_metrics(trainer, module)
        if trainer.world_size > 1:
            atomic_write_json(
                self.run_dir / "ddp" / f"rank{trainer.global_rank}.json",
                {"rank": trainer.global_rank, "world_size": trainer.world_size,
                 "global_step": trainer.global_step, "weights_sha256": weights_checksum(module)},
            )


class _Progress(TQDMProgressBar):
    """Progress bar showing the losses, without Lightning's version number."""

    def get_metrics(self, trainer, model):
        items = super().get_metrics(trainer, model)
        items.pop("v_num", None)
        return items


# ----- preparation ----------------------------------------------------------------------------
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


def prepare_system(
    config: RecipeConfig, train: TrainingSet, validation: Optional[ValidationSet]
) -> SEDSystem:
    """Seeded system with the training statistics filled in."""
    meta = build_meta(config, train)
    seed_everything(config.seed)
    system = build_system(config, meta, validation)
    mean, std = feature_statistics(train.features)
    system.set_feature_statistics(mean, std)
    return system


def _check_run_dir(run_dir: Path, resume: bool) -> Optional[Path]:
    last = run_dir / "checkpoints" / "last.ckpt"
    if resume:
        if not last.is_file():
            raise TrainingError(f"--resume: {last} not found (nothing to resume in {run_dir})")
        return last
    if last.exists() or (run_dir / "checkpoints" / "best.ckpt").exists():
        raise TrainingError(
            f"{run_dir} already holds a training run; use --resume to continue it or choose another --out"
        )
    return None


def _uses_gpu(accelerator: str) -> bool:
    return accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())


def build_trainer(config: RecipeConfig, run_dir: Path, callbacks: list[Callback], progress: bool,
                  has_validation: bool) -> pl.Trainer:
    t = config.trainer
    ckpt_dir = run_dir / "checkpoints"
    # Two callbacks: Lightning >= 2.5 writes ``save_last`` only when the top-k checkpoint was
    # saved too, but --resume needs the end of EVERY epoch. The "last" callback keeps exactly one
    # file (monitor None, top 1) overwritten each epoch; checkpoint callbacks run after the
    # others, in this order, so last.ckpt holds the best callback's updated state.
    checkpoints = [
        ModelCheckpoint(dirpath=ckpt_dir, filename="last", monitor=None, save_top_k=1,
                        auto_insert_metric_name=False, enable_version_counter=False),
    ]
    if has_validation:
        checkpoints.insert(0, ModelCheckpoint(
            dirpath=ckpt_dir, filename="best", monitor="val/score", mode="max", save_top_k=1,
            auto_insert_metric_name=False, enable_version_counter=False,
        ))
    loggers = [
        # one version_<n> folder per session (a resumed run adds one; Lightning's CSV logger would
        # otherwise delete the earlier metrics.csv)
        CSVLogger(run_dir / "logs", name="csv"),
        TensorBoardLogger(run_dir / "logs", name="tensorboard", default_hp_metric=False),
    ]
    all_callbacks = [*checkpoints, LearningRateMonitor(logging_interval="epoch"), *callbacks]
    if progress:
        all_callbacks.append(_Progress())
    return pl.Trainer(
        max_epochs=t.max_epochs,
        accelerator=t.accelerator,
        devices=t.devices,
        strategy=t.strategy,
        num_nodes=t.num_nodes,
        precision=t.precision,
        gradient_clip_val=t.gradient_clip_val,
        check_val_every_n_epoch=t.check_val_every_n_epoch,
        log_every_n_steps=t.log_every_n_steps,
        deterministic=t.deterministic,
        benchmark=t.benchmark and not t.deterministic,
        # torch's SyncBatchNorm needs GPUs; on CPU the buffers are broadcast from rank 0 instead
        sync_batchnorm=t.sync_batchnorm and _uses_gpu(t.accelerator),
        enable_progress_bar=progress,
        enable_model_summary=progress,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,
        logger=loggers,
        callbacks=all_callbacks,
        plugins=[AtomicCheckpointIO()],
        default_root_dir=run_dir,
    )


def train(
    config: RecipeConfig,
    data_root: str | os.PathLike,
    run_dir: str | os.PathLike,
    resume: bool = False,
    progress: bool = True,
    train_set: Optional[TrainingSet] = None,
    validation_set: Optional[ValidationSet] = None,
    callbacks: Sequence[Callback] = (),
) -> TrainResult:
    """Train ``config`` on the data under ``data_root`` into ``run_dir``.

    Args:
        config: resolved recipe (CLI overrides already applied).
        data_root: dataset folder (DESED layout, see ``data`` in the recipe).
        run_dir: output folder (created); must not hold a run unless ``resume``.
        resume: continue from ``run_dir/checkpoints/last.ckpt`` (model, optimiser, scheduler,
            loops, callbacks); with the per-(seed, epoch) random streams the result equals an
            uninterrupted run.
        progress: progress bars and model summary.
        train_set, validation_set: already loaded sets (skip loading; benchmarks and tests).
        callbacks: extra Lightning callbacks (e.g. timers).
    Returns:
        :class:`TrainResult`.
    """
    if os.environ.get("LOCAL_RANK", "0") != "0" and os.environ.get(RUN_DIR_ENV):
        run_dir = os.environ[RUN_DIR_ENV]  # a DDP child: use the parent's folder
    run_dir = Path(run_dir).resolve()
    progress = progress and config.trainer.progress_bar
    ckpt_path = _check_run_dir(run_dir, resume)
    if config.trainer.num_threads:
        torch.set_num_threads(config.trainer.num_threads)
    torch.set_float32_matmul_precision(config.trainer.matmul_precision)
    if config.joint.distillation.enabled:
        raise TrainingError("joint.distillation: not implemented in this version (set enabled: false)")
    if config.joint.two_stage.enabled:
        raise TrainingError(
            "joint.two_stage: not implemented in this version (set enabled: false; joint.focal.enabled "
            "trains with the adaptive focal loss from the start)"
        )
    train_data = train_set if train_set is not None else load_training_set(config, data_root, progress)
    val_data = validation_set if validation_set is not None else load_validation_set(config, data_root, progress)
    system = prepare_system(config, train_data, val_data)
    datamodule = SEDDataModule(config, train_data, val_data)
    has_val = val_data is not None and len(val_data) > 0
    run_files = RunFilesCallback(run_dir, config.validation.monitor if has_val else "none")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*sync_dist=True.*")
        warnings.filterwarnings("ignore", message=".*LightningModule.*has parameters that were not used.*")
        trainer = build_trainer(config, run_dir, [run_files, *callbacks], progress, has_val)
        if trainer.is_global_zero:
            run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(to_dict(config), sort_keys=False))
        previous = os.environ.get(RUN_DIR_ENV)
        os.environ[RUN_DIR_ENV] = str(run_dir)  # DDP children (re-launched commands) inherit it
        try:
            trainer.fit(system, datamodule=datamodule, ckpt_path=str(ckpt_path) if ckpt_path else None)
        finally:
            if previous is None:
                os.environ.pop(RUN_DIR_ENV, None)
            else:
                os.environ[RUN_DIR_ENV] = previous
    best = run_dir / "checkpoints" / "best.ckpt"
    metrics = summarize_history(system.history, config.validation.monitor)
    return TrainResult(run_dir, best if best.is_file() else None, run_dir / "checkpoints" / "last.ckpt", metrics)
