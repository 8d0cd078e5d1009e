"""Construction of the Lightning trainer of one run folder: checkpoints (best with ties to the
later epoch, last every epoch, written atomically and read back safely), loggers, the run-files
callback (``metrics.json``, DDP checksums), the progress bar, and the checks of trainer names.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

import torch

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.plugins.io import TorchCheckpointIO

from jointsed.runs.checkpoint import read_checkpoint, weights_checksum
from jointsed.runs.layout import BEST_CHECKPOINT, CHECKPOINT_DIR, DDP_DIR, LAST_CHECKPOINT, LOGS_DIR, METRICS_FILE
from jointsed.runs.state import summarize_history
from jointsed.systems.base import SEDSystem
from jointsed.training.config import RecipeConfig
from jointsed.training.distributed import several_processes, uses_gpu
from jointsed.training.errors import TrainingError
from jointsed.utils.atomic import atomic_path, atomic_write_json


class AtomicCheckpointIO(TorchCheckpointIO):
    """``torch.save`` to a temporary file renamed onto the checkpoint path (never half-written)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Optional[Any] = None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            torch.save(checkpoint, tmp)

    def load_checkpoint(self, path, map_location: Optional[Any] = None, weights_only: Optional[bool] = None) -> dict[str, Any]:
        """Lightning's ``--resume`` load, always ``weights_only`` (never unpickles arbitrary objects,
        whatever the torch or Lightning version; see :mod:`jointsed.runs.checkpoint`)."""
        # Lightning's default keeps every storage on the device it was saved from
        return read_checkpoint(path, map_location=map_location if map_location is not None else (lambda storage, loc: storage))


class _DropBanners(logging.Filter):
    """Drops Lightning's start-up banners (accelerator availability, product tips)."""

    _NOISE = ("GPU available:", "TPU available:", "HPU available:", "Tip:", "💡")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(marker in message for marker in self._NOISE)


def quiet_lightning_banners() -> None:
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero",
                 "lightning.pytorch.accelerators.cuda", "lightning.pytorch"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropBanners) for f in logger.filters):
            logger.addFilter(_DropBanners())


class BestCheckpoint(ModelCheckpoint):
    """``best.ckpt``: the checkpoint of the highest validation score, ties going to the LATER
    epoch (Lightning's ``ModelCheckpoint`` keeps the earlier one: with a score that is flat at
    the start, that is the untrained network)."""

    def check_monitor_top_k(self, trainer: pl.Trainer, current: Optional[torch.Tensor] = None) -> bool:
        if current is None:
            return False
        if len(self.best_k_models) < self.save_top_k:
            return True
        better_or_equal = bool(current >= self.best_k_models[self.kth_best_model_path])
        return trainer.strategy.reduce_boolean_decision(better_or_equal)


class RunFilesCallback(Callback):
    """Writes ``metrics.json`` (rank 0) and, with several processes, each rank's weight checksum."""

    def __init__(self, run_dir: Path, monitor: str) -> None:
        self.run_dir = run_dir
        self.monitor = monitor

    def _write_metrics(self, trainer: pl.Trainer, module: SEDSystem) -> None:
        if trainer.is_global_zero:
            atomic_write_json(self.run_dir / METRICS_FILE,
                              summarize_history(module.history, self.monitor, module.untrained_metrics))

    def on_validation_end(self, trainer: pl.Trainer, module: SEDSystem) -> None:
        if not trainer.sanity_checking:
            self._write_metrics(trainer, module)

    def on_fit_end(self, trainer: pl.Trainer, module: SEDSystem) -> None:
        self._write_metrics(trainer, module)
        if trainer.world_size > 1:
            atomic_write_json(
                self.run_dir / DDP_DIR / f"rank{trainer.global_rank}.json",
                {"rank": trainer.global_rank, "world_size": trainer.world_size,
                 "global_step": trainer.global_step, "weights_sha256": weights_checksum(module)},
            )


class _Progress(TQDMProgressBar):
    """Progress bar showing the losses, without Lightning's version number."""

    def get_metrics(self, trainer, model):
        items = super().get_metrics(trainer, model)
        items.pop("v_num", None)
        return items


def _strategy(config: RecipeConfig) -> str:
    """``trainer.strategy``, except that ``ddp`` becomes ``ddp_find_unused_parameters_true`` when a
    step may leave parameters without gradient: the distillation adapters of guided learning get
    none on a rank whose batch holds no strongly labelled clip, and plain DDP would then wait
    forever for their all-reduce on the other ranks."""
    t = config.trainer
    if (t.strategy == "ddp" and several_processes(config) and config.system == "guided_learning"
            and config.joint.distillation.enabled):
        return "ddp_find_unused_parameters_true"
    return t.strategy


def build_trainer(config: RecipeConfig, run_dir: Path, callbacks: list[Callback], progress: bool,
                  has_validation: bool, max_epochs: Optional[int] = None) -> pl.Trainer:
    t = config.trainer
    ckpt_dir = run_dir / CHECKPOINT_DIR
    # Two callbacks: Lightning >= 2.5 writes ``save_last`` only when the top-k checkpoint was
    # saved too, but --resume needs the end of EVERY epoch. The "last" callback keeps exactly one
    # file (monitor None, top 1) overwritten each epoch; checkpoint callbacks run after the
    # others, in this order, so last.ckpt holds the best callback's updated state.
    checkpoints = [
        ModelCheckpoint(dirpath=ckpt_dir, filename=Path(LAST_CHECKPOINT).stem, monitor=None, save_top_k=1,
                        auto_insert_metric_name=False, enable_version_counter=False),
    ]
    if has_validation:
        checkpoints.insert(0, BestCheckpoint(
            dirpath=ckpt_dir, filename=Path(BEST_CHECKPOINT).stem, monitor="val/score", mode="max", save_top_k=1,
            auto_insert_metric_name=False, enable_version_counter=False,
        ))
    loggers = [
        # one version_<n> folder per session (a resumed run adds one; Lightning's CSV logger would
        # otherwise delete the earlier metrics.csv)
        CSVLogger(run_dir / LOGS_DIR, name="csv"),
        TensorBoardLogger(run_dir / LOGS_DIR, name="tensorboard", default_hp_metric=False),
    ]
    all_callbacks = [*checkpoints, LearningRateMonitor(logging_interval="epoch"), *callbacks]
    if progress:
        all_callbacks.append(_Progress())
    return pl.Trainer(
        max_epochs=max_epochs or t.max_epochs,
        accelerator=t.accelerator,
        devices=t.devices,
        strategy=_strategy(config),
        num_nodes=t.num_nodes,
        precision=t.precision,
        gradient_clip_val=t.gradient_clip_val,
        check_val_every_n_epoch=t.check_val_every_n_epoch,
        log_every_n_steps=t.log_every_n_steps,
        deterministic=t.deterministic,
        benchmark=t.benchmark and not t.deterministic,
        # torch's SyncBatchNorm needs GPUs; on CPU the buffers are broadcast from rank 0 instead
        sync_batchnorm=t.sync_batchnorm and uses_gpu(t.accelerator),
        enable_progress_bar=progress,
        enable_model_summary=progress,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,
        logger=loggers,
        callbacks=all_callbacks,
        plugins=[AtomicCheckpointIO()],
        default_root_dir=run_dir,
    )


#: trainer.precision values Lightning accepts (checked before any data loads: Lightning would
#: only refuse a typo when it builds the trainer, after the data and the frame teacher)
PRECISIONS = ("32-true", "32", "16-mixed", "16-true", "16", "bf16-mixed", "bf16-true", "bf16", "64-true", "64",
              "transformer-engine", "transformer-engine-float16")
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")


def check_trainer_names(config: RecipeConfig) -> None:
    t = config.trainer
    if str(t.precision) not in PRECISIONS:
        raise TrainingError(f"trainer.precision (--precision): {t.precision!r} is not one of "
                            f"{', '.join(PRECISIONS[:7])}, ...")
    if str(t.accelerator) not in ACCELERATORS:
        raise TrainingError(f"trainer.accelerator (--accelerator): {t.accelerator!r} is not one of "
                            f"{', '.join(ACCELERATORS)}")
