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
    RUN_DIR/finished.json             written when the run reached its last epoch

Joint framework (Liang et al., arXiv 2103.12388; our reconstruction from the abstract) phases,
each a run folder of the layout above, run in order by one :func:`train` call:

    RUN_DIR/frame_teacher/            joint.distillation.teacher_checkpoint: auto - the frozen
                                      frame-level teacher of the deep feature distillation
    RUN_DIR/stage1/, RUN_DIR/stage2/  joint.two_stage: stage 1 (BCE) and stage 2 (adaptive focal
                                      loss, from stage 1's best weights, lower learning rate)

With two stages, ``RUN_DIR/checkpoints/{best,last}.ckpt`` and ``RUN_DIR/metrics.json`` are the
better stage's by the validation monitor (hard links or copies, published when stage 2 finishes;
``metrics.json`` names it in ``published_stage``) and ``RUN_DIR/config.yaml`` is
the recipe, so inference, tuning and evaluation use ``RUN_DIR`` like any run. A finished phase
(``finished.json``) is skipped when the command is run again (unless ``force``); an interrupted
one continues with ``resume``.

Multi-GPU / multi-node training is Lightning's DDP (``--devices N --strategy ddp --num-nodes M``),
for every phase of the joint framework too: Lightning re-launches the command once per extra rank
(the children find the run folder in ``JOINTSED_RUN_DIR``), every rank runs every phase, rank 0
alone writes the phase bookkeeping (``finished.json``, ``config.yaml``, the published
checkpoints) and the ranks meet at a ``torch.distributed`` barrier after each phase, so that the
next phase reads the same files everywhere. Every process loads the (cached) data itself, draws
its share of every epoch's batches (batch sizes are per process: the global batch is N x
``batch_size``) and validates on the whole validation set. Every file is written atomically (checkpoints included,
through :class:`AtomicCheckpointIO`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import logging
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

from jointsed.config import from_dict, load_yaml, to_dict
from jointsed.data.annotations import check_class_names, check_events_within
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
from jointsed.training.systems import FrameTeacherSystem, GuidedLearningSystem, SEDSystem, build_system
from jointsed.runs.layout import (
    BEST_CHECKPOINT,
    CHECKPOINT_DIR,
    CONFIG_FILE,
    EVAL_DIR,
    FINISHED_FILE,
    HARDWARE_KEYS,
    LAST_CHECKPOINT,
    METRICS_FILE,
    POSTPROCESS_FILE,
    RAW_SCORES_FILE,
    REPORT_DIR,
    SCORES_DIR,
    best_checkpoint,
    last_checkpoint,
    model_checkpoint,
)
from jointsed.utils.atomic import atomic_path, atomic_write_json, atomic_write_text
from jointsed.utils.seed import seed_everything

#: env var telling DDP child processes (re-launched copies of the command) which run folder to use
RUN_DIR_ENV = "JOINTSED_RUN_DIR"
#: sub-folders of the joint framework's phases
FRAME_TEACHER_DIR = "frame_teacher"
STAGE_DIRS = {1: "stage1", 2: "stage2"}


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

    def load_checkpoint(self, path, map_location: Optional[Any] = None, weights_only: Optional[bool] = None) -> dict[str, Any]:
        """Lightning's ``--resume`` load, always ``weights_only`` (never unpickles arbitrary objects,
        whatever the torch or Lightning version; see :mod:`jointsed.runs.checkpoint`)."""
        from jointsed.runs.checkpoint import read_checkpoint

        # Lightning's default keeps every storage on the device it was saved from
        return read_checkpoint(path, map_location=map_location if map_location is not None else (lambda storage, loc: storage))


class _DropBanners(logging.Filter):
    """Drops Lightning's start-up banners (accelerator availability, product tips)."""

    _NOISE = ("GPU available:", "TPU available:", "HPU available:", "Tip:", "💡")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(marker in message for marker in self._NOISE)


def _quiet_lightning_banners() -> None:
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero",
                 "lightning.pytorch.accelerators.cuda", "lightning.pytorch"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropBanners) for f in logger.filters):
            logger.addFilter(_DropBanners())


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


def summarize_history(history: list[dict[str, Any]], monitor: str,
                      untrained: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """``metrics.json`` content from the per-epoch validation history: the best epoch (highest
    monitor score, ties to the LATER epoch, DESIGN section 8: the same rule as ``best.ckpt``), the
    last one, every epoch, and the validation metrics of the untrained network (``untrained``)."""
    base: dict[str, Any] = {"monitor": monitor}
    if untrained is not None:
        base["untrained"] = dict(untrained)
    if not history:
        return {**base, "best": None, "last": None, "history": []}
    best = max(history, key=lambda h: (h["score"], h["epoch"]))
    return {**base, "best_epoch": best["epoch"], "best_score": best["score"],
            "best": best, "last": history[-1], "history": history}


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
    config: RecipeConfig, train: TrainingSet, validation: Optional[ValidationSet],
    meta_updates: Optional[Mapping[str, Any]] = None,
) -> SEDSystem:
    """Seeded system with the training statistics filled in (``meta_updates``: extra inference /
    phase metadata, e.g. the two-stage settings, stored in the checkpoints)."""
    meta = build_meta(config, train)
    meta.update(meta_updates or {})
    seed_everything(config.seed)
    system = build_system(config, meta, validation)
    mean, std = feature_statistics(train.features)
    system.set_feature_statistics(mean, std)
    return system


#: recipe keys that may change on ``--resume`` (besides :data:`HARDWARE_KEYS`): training longer
RESUME_MAY_CHANGE = ("trainer.max_epochs",)


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, Mapping):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flat(value, f"{prefix}{key}."))
        return out or {prefix.rstrip("."): {}}
    return {prefix.rstrip("."): data}


def _check_resume_config(run_dir: Path, config: RecipeConfig) -> None:
    """``--resume`` continues the run as it was configured: a changed recipe key would be recorded
    in ``config.yaml`` and the checkpoints but not used (the optimiser, scheduler... come from the
    checkpoint), so refuse it, naming the keys. Hardware keys and ``trainer.max_epochs`` may change."""
    saved_file = run_dir / CONFIG_FILE
    if not saved_file.is_file():
        return  # a run interrupted before its first write: nothing recorded to contradict
    saved, current = _flat(_comparable(load_yaml(saved_file))), _flat(_comparable(to_dict(config)))
    differ = sorted(k for k in set(saved) | set(current)
                    if k not in RESUME_MAY_CHANGE and saved.get(k, "<absent>") != current.get(k, "<absent>"))
    if differ:
        shown = "; ".join(f"{k}: {saved.get(k, '<absent>')!r} in the run, {current.get(k, '<absent>')!r} now"
                          for k in differ[:8])
        raise TrainingError(
            f"--resume: the recipe differs from the run's {saved_file} ({shown}{'; ...' if len(differ) > 8 else ''}). "
            "A resumed run continues with its recorded settings; only hardware keys "
            f"({', '.join('trainer.' + k for k in HARDWARE_KEYS)}) and {', '.join(RESUME_MAY_CHANGE)} may change. "
            "Start a new run (another --out) to train with other settings"
        )


def _check_run_dir(run_dir: Path, resume: bool, config: Optional[RecipeConfig] = None) -> Optional[Path]:
    last = last_checkpoint(run_dir)
    if resume:
        if not last.is_file():
            raise TrainingError(f"--resume: {last} not found (nothing to resume in {run_dir})")
        from jointsed.runs.checkpoint import verify_checkpoint

        verify_checkpoint(last)  # unsafe / empty / corrupt: a clear error before any data is loaded
        if config is not None:
            _check_resume_config(run_dir, config)
        return last
    if last.exists() or (best_checkpoint(run_dir)).exists():
        raise TrainingError(
            f"{run_dir} already holds a training run; use --resume to continue it or choose another --out"
        )
    return None


def _uses_gpu(accelerator: str) -> bool:
    return accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())


def _strategy(config: RecipeConfig) -> str:
    """``trainer.strategy``, except that ``ddp`` becomes ``ddp_find_unused_parameters_true`` when a
    step may leave parameters without gradient: the distillation adapters of guided learning get
    none on a rank whose batch holds no strongly labelled clip, and plain DDP would then wait
    forever for their all-reduce on the other ranks."""
    t = config.trainer
    if (t.strategy == "ddp" and _several_processes(config) and config.system == "guided_learning"
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
        ModelCheckpoint(dirpath=ckpt_dir, filename="last", monitor=None, save_top_k=1,
                        auto_insert_metric_name=False, enable_version_counter=False),
    ]
    if has_validation:
        checkpoints.insert(0, BestCheckpoint(
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


# ----- one training run -----------------------------------------------------------------------------
def _fit(
    config: RecipeConfig,
    run_dir: Path,
    train_data: TrainingSet,
    val_data: Optional[ValidationSet],
    *,
    resume: bool,
    progress: bool,
    callbacks: Sequence[Callback] = (),
    max_epochs: Optional[int] = None,
    meta_updates: Optional[Mapping[str, Any]] = None,
    init_checkpoint: Optional[Path] = None,
    frame_teacher: Optional[FrameTeacherSystem] = None,
    phase: str = "run",
) -> TrainResult:
    """Train one run folder (a whole run, or one phase of the joint framework)."""
    ckpt_path = _check_run_dir(run_dir, resume, config)
    started = time.perf_counter()
    system = prepare_system(config, train_data, val_data, meta_updates)
    init_sha = None
    if init_checkpoint is not None:
        state = _read_state_dict(init_checkpoint)
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
    if has_val:
        # the baseline every trained model is judged against (and the frame teacher must beat)
        system.untrained_metrics = _headline(system.score_validation_set())
    run_files = RunFilesCallback(run_dir, config.validation.monitor if has_val else "none")
    epochs = max_epochs or config.trainer.max_epochs
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*sync_dist=True.*")
        warnings.filterwarnings("ignore", message=".*LightningModule.*has parameters that were not used.*")
        # Lightning notes that say nothing to our users (small data sets log less often than
        # every 10 steps; a deprecation inside Lightning itself).
        warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
        warnings.filterwarnings("ignore", message=".*isinstance\\(treespec, LeafSpec\\)` is deprecated.*")
        _quiet_lightning_banners()
        trainer = build_trainer(config, run_dir, [run_files, *callbacks], progress, has_val, epochs)
        if trainer.is_global_zero:
            run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(run_dir / CONFIG_FILE, yaml.safe_dump(to_dict(config), sort_keys=False))
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
        if meta_updates:
            info["meta"] = dict(meta_updates)
        atomic_write_json(run_dir / FINISHED_FILE, info)
    # the next phase reads this one's finished.json and checkpoints: no rank goes on before rank 0 wrote them
    _barrier()
    return result


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    from jointsed.runs.checkpoint import read_state_dict

    return read_state_dict(path)  # CheckpointError (names the file) for unsafe / corrupt files


#: trainer.precision values Lightning accepts (checked before any data loads: Lightning would
#: only refuse a typo when it builds the trainer, after the data and the frame teacher)
PRECISIONS = ("32-true", "32", "16-mixed", "16-true", "16", "bf16-mixed", "bf16-true", "bf16", "64-true", "64",
              "transformer-engine", "transformer-engine-float16")
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")


def _check_trainer_names(config: RecipeConfig) -> None:
    t = config.trainer
    if str(t.precision) not in PRECISIONS:
        raise TrainingError(f"trainer.precision (--precision): {t.precision!r} is not one of "
                            f"{', '.join(PRECISIONS[:7])}, ...")
    if str(t.accelerator) not in ACCELERATORS:
        raise TrainingError(f"trainer.accelerator (--accelerator): {t.accelerator!r} is not one of "
                            f"{', '.join(ACCELERATORS)}")


def _check_labels_within_clips(config: RecipeConfig, train_data: TrainingSet, val_data: Optional[ValidationSet]) -> None:
    """Strong labels past the end of their clip: an error when an event starts after it (it is
    not in the audio, yet would become a clip tag), a warning with the count when one ends after
    it (cut). Training clips are ``features.clip_duration`` long; validation clips their duration."""
    if train_data.strong_annotations is not None:
        check_events_within(train_data.strong_annotations, float(config.features.clip_duration),
                            "strong training labels vs features.clip_duration")
    if val_data is not None and getattr(val_data, "annotations", None) is not None:
        check_events_within(val_data.annotations, dict(zip(val_data.filenames, val_data.durations)),
                            "validation labels vs the clips' durations")


def _resolve_init(init_checkpoint: str | os.PathLike) -> Path:
    """``--init``: a checkpoint file (or a run folder's) that exists and loads safely."""
    from jointsed.inference import CheckpointError, resolve_checkpoint
    from jointsed.runs.checkpoint import verify_checkpoint

    try:
        init = resolve_checkpoint(init_checkpoint)
        verify_checkpoint(init)
    except CheckpointError as exc:
        raise TrainingError(f"--init: {exc}") from None
    return init.resolve()


def _check_init_fits(init: Path, config: RecipeConfig, train_data: TrainingSet, stage_meta: Mapping[str, Any]) -> None:
    """``--init``: the weights must fit stage 2's model of this recipe (checked before any phase
    trains, e.g. the frame teacher, so that a wrong file fails in seconds, not after an hour)."""
    from jointsed.runs.checkpoint import read_checkpoint

    ckpt = read_checkpoint(init)
    their_meta = ckpt["jointsed"].get("meta") or {}
    theirs = list(their_meta.get("classes") or [])
    if theirs != list(config.data.classes):
        raise TrainingError(f"--init {init}: trained on other classes ({', '.join(theirs)}) than this recipe's")
    with torch.random.fork_rng():  # building a model draws random weights: leave the seeds alone
        try:
            # the distillation projections are sized by the frame teacher, not trained yet: the init's
            distill = {"distillation": their_meta["distillation"]} if "distillation" in their_meta else {}
            system = build_system(config, {**build_meta(config, train_data), **distill, **stage_meta})
            system.load_state_dict(ckpt["state_dict"])
        except (RuntimeError, KeyError, ValueError) as exc:
            raise TrainingError(f"--init {init}: its weights do not fit this recipe's model ({exc})") from None


def _headline(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The scalar validation metrics (no per-class tables, no score checksums)."""
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not k.endswith("_sum")}


def check_frame_teacher(result: TrainResult, min_gain: float) -> str:
    """Refuse a frame-level teacher that does not detect (DESIGN section 2).

    Its best validation monitor score must beat the untrained network's by ``min_gain``
    (``joint.distillation.min_teacher_gain``). Returns a one-line summary of the teacher's
    validation score for the console.

    Raises:
        TrainingError: the teacher is no better than an untrained network, saying what to do.
    """
    m = result.metrics
    monitor, best, untrained = m.get("monitor", "score"), m.get("best_score"), (m.get("untrained") or {}).get("score")
    if best is None or untrained is None:  # no validation set: nothing to judge by
        return "frame teacher: no validation set, its quality is not checked"
    event = (m.get("best") or {}).get("event_f1")
    summary = (f"frame teacher: best validation {monitor} {best:.3f} at epoch {m.get('best_epoch')} "
               f"(untrained network {untrained:.3f})" + (f", event F1 {event:.3f}" if event is not None else ""))
    if best < untrained + min_gain:
        raise TrainingError(
            f"{summary}: no better than an untrained network (needs +{min_gain:g}), so its features are not worth "
            f"distilling. Give it more steps (joint.distillation.teacher_epochs, teacher_lr), more strongly labelled "
            f"clips, or train without distillation (joint.distillation.enabled: false). Run folder: {result.run_dir}"
        )
    return summary


# ----- phases of the joint framework ---------------------------------------------------------------------
def _comparable(config_dict: Mapping[str, Any]) -> Any:
    data = yaml.safe_load(yaml.safe_dump(dict(config_dict), sort_keys=True))  # tuples -> lists
    for key in HARDWARE_KEYS:
        data.get("trainer", {}).pop(key, None)
    data.pop("name", None)
    return data


#: files made from a run's model by later commands, with the file that shows jointsed wrote them
#: (``jointsed tune``, ``evaluate``, ``report``, the raw-score cache): stale once the model changes
DERIVED_FILES = {POSTPROCESS_FILE: None, EVAL_DIR: "*/info.json", REPORT_DIR: "index.html",
                 SCORES_DIR: f"*/{RAW_SCORES_FILE}"}


def _clear_derived(run_dir: Path) -> list[str]:
    """Remove the derived files of ``run_dir`` (its model is about to change: ``--force``,
    ``--resume``), so that none of them describes another model than the one in the folder.
    A folder of that name without jointsed's file in it is left alone. Returns what was removed."""
    removed = []
    for name, marker in DERIVED_FILES.items():
        path = run_dir / name
        if path.is_file() and marker is None:
            path.unlink()
        elif path.is_dir() and marker is not None and any(path.glob(marker)):
            shutil.rmtree(path)
        else:
            continue
        removed.append(name)
    return removed


def _clear_run(run_dir: Path) -> None:
    """Remove what a training run wrote into ``run_dir`` (``--force``), and what was derived from
    its model (:data:`DERIVED_FILES`); other files stay."""
    for name in (CHECKPOINT_DIR, "logs", "ddp"):
        if (run_dir / name).is_dir():
            shutil.rmtree(run_dir / name)
    for name in (METRICS_FILE, CONFIG_FILE, FINISHED_FILE):
        (run_dir / name).unlink(missing_ok=True)
    _clear_derived(run_dir)


def _phase_state(run_dir: Path) -> str:
    """``finished`` (reached its last epoch), ``partial`` (has checkpoints) or ``absent``."""
    if (run_dir / FINISHED_FILE).is_file():
        return "finished"
    if (last_checkpoint(run_dir)).exists() or (best_checkpoint(run_dir)).exists():
        return "partial"
    return "absent"


def _finished_result(run_dir: Path, config: RecipeConfig) -> TrainResult:
    import json

    saved = run_dir / CONFIG_FILE
    if not saved.is_file() or _comparable(load_yaml(saved)) != _comparable(to_dict(config)):
        raise TrainingError(
            f"{run_dir} holds a finished run of another configuration; use --force to retrain it or choose another --out"
        )
    metrics = {}
    if (run_dir / METRICS_FILE).is_file():
        metrics = json.loads((run_dir / METRICS_FILE).read_text(encoding="utf-8"))
    best = best_checkpoint(run_dir)
    return TrainResult(run_dir, best if best.is_file() else None, last_checkpoint(run_dir), metrics)


def _run_phase(name: str, config: RecipeConfig, run_dir: Path, *, resume: bool, force: bool,
               echo: bool, **fit_kwargs: Any) -> TrainResult:
    """Train one phase folder unless it is finished (then reuse it)."""
    state = _phase_state(run_dir)
    if force and state != "absent":
        if _is_global_zero():  # the other ranks only act as if it was cleared (no racing deletes)
            _clear_run(run_dir)
        state = "absent"
    echo = echo and _is_global_zero()
    if state == "finished":
        result = _finished_result(run_dir, config)
        init = fit_kwargs.get("init_checkpoint")
        recorded = _read_finished(run_dir).get("init_weights_sha256")
        if init is not None and recorded is not None and recorded != weights_checksum(_read_state_dict(init)):
            raise TrainingError(
                f"{run_dir}: finished {name} was trained from other initial weights than {init}; "
                "use --force to retrain it"
            )
        if echo:
            print(f"{name}: finished run found in {run_dir}, reused")
        return result
    if state == "partial" and not resume:
        raise TrainingError(
            f"{run_dir} holds an unfinished {name}; use --resume to continue it or --force to restart it"
        )
    if echo:
        print(f"{name}: training into {run_dir}")
    return _fit(config, run_dir, resume=state == "partial", phase=name, **fit_kwargs)


def _read_finished(run_dir: Path) -> dict[str, Any]:
    import json

    try:
        return json.loads((run_dir / FINISHED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def frame_teacher_config(config: RecipeConfig) -> RecipeConfig:
    """The recipe of the frame-level teacher that ``teacher_checkpoint: auto`` trains: the same
    data, features, optimiser and ``model.student``, ``system: frame_teacher``,
    ``joint.distillation.teacher_epochs`` epochs (``teacher_lr`` / ``teacher_batch_size`` when
    set), no joint additions."""
    data = to_dict(config)
    data["system"] = "frame_teacher"
    data["name"] = f"{config.name or 'run'}-frame_teacher"
    dist = config.joint.distillation
    data["trainer"]["max_epochs"] = dist.teacher_epochs
    if dist.teacher_lr is not None:
        data["optimizer"]["lr"] = dist.teacher_lr
    if dist.teacher_batch_size is not None:
        data["batch"]["batch_size"] = dist.teacher_batch_size
    data["joint"] = {}
    return from_dict(RecipeConfig, data)


def resolve_teacher_checkpoint(value: str, run_dir: Path) -> Path:
    """``joint.distillation.teacher_checkpoint`` (not ``auto``) -> a checkpoint file.

    Relative paths are looked up in the run folder, then in the working directory; a run folder
    gives its best (else last) checkpoint.
    """
    from jointsed.inference import CheckpointError, resolve_checkpoint

    path = Path(value).expanduser()
    candidates = [path] if path.is_absolute() else [run_dir / path, Path.cwd() / path]
    for candidate in candidates:
        if candidate.exists():
            try:
                return resolve_checkpoint(candidate)
            except CheckpointError as exc:
                raise TrainingError(f"joint.distillation.teacher_checkpoint: {exc}") from None
    raise TrainingError(
        f"joint.distillation.teacher_checkpoint: {value} not found (looked for "
        f"{' and '.join(str(c) for c in candidates)}); give a checkpoint, a run folder or auto"
    )


def load_frame_teacher(path: Path, config: RecipeConfig) -> FrameTeacherSystem:
    """Load a trained frame-level teacher and check that its block maps line up with the PS's
    (same frame rate at every distilled layer, same front-end)."""
    from jointsed.inference import CheckpointError, system_from_checkpoint

    try:
        teacher = system_from_checkpoint(path)
    except CheckpointError as exc:
        raise TrainingError(f"joint.distillation.teacher_checkpoint: {exc}") from None
    where = f"joint.distillation.teacher_checkpoint {path}"
    if not isinstance(teacher, FrameTeacherSystem):
        raise TrainingError(f"{where}: a {teacher.config.system} model, not a frame_teacher one")
    if to_dict(teacher.config.features) != to_dict(config.features):
        raise TrainingError(f"{where}: trained with other features ({to_dict(teacher.config.features)})")
    layers = config.joint.distillation.layers
    s_pools, t_pools = config.model.student.pools, teacher.config.model.student.pools
    for layer in layers:
        if layer >= len(t_pools):
            raise TrainingError(f"{where}: the teacher has {len(t_pools)} blocks, layer {layer} is distilled")
        s_time = int(torch.tensor([p[0] for p in s_pools[: layer + 1]]).prod())
        t_time = int(torch.tensor([p[0] for p in t_pools[: layer + 1]]).prod())
        if s_time != t_time:
            raise TrainingError(f"{where}: block {layer} pools time by {t_time}, the student's by {s_time}")
    return teacher


def _requested_devices(devices: int | str) -> Optional[int]:
    """Processes per node asked for by ``trainer.devices`` (None: "auto" / -1, Lightning decides)."""
    if isinstance(devices, int):
        return None if devices < 0 else devices
    text = str(devices).strip().strip("[]")
    if "," in text:  # a list of device indices, e.g. "0,1"
        return len([d for d in text.split(",") if d.strip()])
    try:
        n = int(text)
    except ValueError:
        return None
    return None if n < 0 else n


def _several_processes(config: RecipeConfig) -> bool:
    t = config.trainer
    return (_requested_devices(t.devices) or 1) > 1 or t.num_nodes > 1


def check_devices(config: RecipeConfig) -> None:
    """Refuse more devices per node than this machine has, before anything starts (Lightning's
    ``ddp`` on CPU would otherwise launch that many processes, one per "device").

    Raises:
        TrainingError: naming ``trainer.devices`` and what the machine has.
    """
    t = config.trainer
    n = _requested_devices(t.devices)
    if n is None or n <= 1:
        return
    if _uses_gpu(t.accelerator):
        available, kind = torch.cuda.device_count(), "CUDA GPU(s)"
    elif t.accelerator == "cpu" or t.accelerator == "auto":
        available, kind = os.cpu_count() or 1, "CPU core(s) (os.cpu_count())"
    else:  # mps, tpu...: Lightning checks those itself
        return
    if n > available:
        raise TrainingError(
            f"trainer.devices={t.devices} (--devices): {n} processes per node asked for, but this machine has "
            f"{available} {kind}; --devices counts devices of ONE node (use --num-nodes for more machines)"
        )


#: Lightning strategies that re-launch the whole command per rank (or whose ranks are started by
#: torchrun / SLURM), so that every rank runs every phase of a multi-phase recipe itself
_RELAUNCHING_STRATEGIES = ("auto", "ddp", "ddp_find_unused_parameters_true", "ddp_find_unused_parameters_false")


def _check_multi_phase_strategy(config: RecipeConfig) -> None:
    """The joint phases run one after another in every process: only ``ddp`` does that
    (``ddp_spawn`` / ``ddp_fork`` run just ``fit`` in the children, the phases in between would
    happen in the parent alone)."""
    strategy = str(config.trainer.strategy)
    if strategy not in _RELAUNCHING_STRATEGIES:
        raise TrainingError(
            f"trainer.strategy={strategy}: a multi-phase recipe (frame teacher / two stages) on several "
            "devices needs --strategy ddp (every process runs every phase); or run the phases one by one "
            "with --stage 1 / --stage 2"
        )


def _link_or_copy(source: Path, target: Path) -> None:
    """Atomically make ``target`` a hard link to (else a copy of) ``source``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copy2(source, tmp)


def better_stage(stages: Mapping[str, TrainResult]) -> str:
    """The stage to publish (DESIGN section 3): the higher best validation monitor score, stage 2
    on ties or without validation scores."""
    def score(name: str) -> float:
        value = stages[name].metrics.get("best_score") if name in stages else None
        return float("-inf") if value is None else float(value)

    return "stage1" if "stage2" not in stages or score("stage1") > score("stage2") else "stage2"


def _publish_final_stage(run_dir: Path, final: TrainResult, stages: Mapping[str, TrainResult]) -> TrainResult:
    """Make ``final``'s (the published stage's) checkpoints and metrics the run folder's (rank 0
    writes them; every rank returns once they are written)."""
    zero = _is_global_zero()
    for name in (BEST_CHECKPOINT, LAST_CHECKPOINT):
        source = final.run_dir / CHECKPOINT_DIR / name
        if not zero:
            continue
        if source.is_file():
            _link_or_copy(source, run_dir / CHECKPOINT_DIR / name)
        else:
            (run_dir / CHECKPOINT_DIR / name).unlink(missing_ok=True)
    metrics = dict(final.metrics)
    metrics["stages"] = {
        name: {"run_dir": str(r.run_dir.relative_to(run_dir)) if r.run_dir.is_relative_to(run_dir) else str(r.run_dir),
               "best_epoch": r.metrics.get("best_epoch"), "best_score": r.metrics.get("best_score")}
        for name, r in stages.items()
    }
    published = next(name for name, r in stages.items() if r.run_dir == final.run_dir)
    metrics["published_stage"] = published
    if zero:
        atomic_write_json(run_dir / METRICS_FILE, metrics)
        atomic_write_json(run_dir / FINISHED_FILE, {"phase": "two-stage run", "published_stage": published,
                                                    "stages": metrics["stages"]})
    _barrier()
    best = best_checkpoint(run_dir)
    return TrainResult(run_dir, best if best.is_file() else None, last_checkpoint(run_dir), metrics)


def train(
    config: RecipeConfig,
    data_root: str | os.PathLike,
    run_dir: str | os.PathLike,
    resume: bool = False,
    progress: bool = True,
    train_set: Optional[TrainingSet] = None,
    validation_set: Optional[ValidationSet] = None,
    callbacks: Sequence[Callback] = (),
    *,
    stage: Optional[int] = None,
    init_checkpoint: Optional[str | os.PathLike] = None,
    force: bool = False,
) -> TrainResult:
    """Train ``config`` on the data under ``data_root`` into ``run_dir``.

    A plain recipe is one run. The joint framework's phases run in order in one call: the
    frame-level teacher (``joint.distillation.teacher_checkpoint: auto``, into
    ``RUN_DIR/frame_teacher``), then stage 1 and stage 2 (``joint.two_stage``, into
    ``RUN_DIR/stage1`` / ``stage2``; the run folder's checkpoints and metrics are then those of the
    stage with the better validation monitor score, see :func:`better_stage`).
    Finished phases are reused.

    Args:
        config: resolved recipe (CLI overrides already applied).
        data_root: dataset folder (DESED layout, see ``data`` in the recipe).
        run_dir: output folder (created); must not hold a run unless ``resume`` (or, for the
            joint phases, unless the run there is finished: it is reused).
        resume: continue an interrupted run (phase) from its ``checkpoints/last.ckpt`` (model,
            optimiser, scheduler, loops, callbacks); with the per-(seed, epoch) random streams
            the result equals an uninterrupted run.
        progress: progress bars and model summary.
        train_set, validation_set: already loaded sets (skip loading; benchmarks and tests).
        callbacks: extra Lightning callbacks (e.g. timers), given to every phase.
        stage: two-stage recipes only: run stage 1 or stage 2 alone (stage 2 needs stage 1's
            folder or ``init_checkpoint``).
        init_checkpoint: stage 2's initial weights instead of stage 1's best checkpoint.
        force: retrain (delete the training outputs of) phases that already ran.
    Returns:
        :class:`TrainResult` (of the run folder; after ``stage=1``: of ``RUN_DIR/stage1``).
    Raises:
        TrainingError: run folder conflicts, a missing checkpoint, a bad stage request.
    """
    if os.environ.get("LOCAL_RANK", "0") != "0" and os.environ.get(RUN_DIR_ENV):
        run_dir = os.environ[RUN_DIR_ENV]  # a DDP child: use the parent's folder
    run_dir = Path(run_dir).resolve()
    progress = progress and config.trainer.progress_bar
    dist, two = config.joint.distillation, config.joint.two_stage
    if stage is not None and not two.enabled:
        raise TrainingError("--stage: this recipe has no two-stage training (joint.two_stage.enabled is false)")
    if stage not in (None, 1, 2):
        raise TrainingError(f"--stage: 1 or 2, got {stage}")
    if init_checkpoint is not None and not (two.enabled and stage == 2):
        raise TrainingError("--init: only with --stage 2 of a two-stage recipe")
    init_path = _resolve_init(init_checkpoint) if init_checkpoint is not None else None  # before any data
    _check_trainer_names(config)
    check_class_names(config.data.classes)
    auto_teacher = dist.enabled and dist.teacher_checkpoint == "auto"
    check_devices(config)
    if (two.enabled or auto_teacher) and _several_processes(config):
        _check_multi_phase_strategy(config)
    if config.trainer.num_threads:
        torch.set_num_threads(config.trainer.num_threads)
    torch.set_float32_matmul_precision(config.trainer.matmul_precision)
    if force and not (two.enabled or auto_teacher):
        if _is_global_zero():
            _clear_run(run_dir)
    elif not (two.enabled or auto_teacher):
        _check_run_dir(run_dir, resume, config)  # fail before loading any data
    if (force or resume) and _is_global_zero():  # the model will change: its derived files would lie
        removed = _clear_derived(run_dir)
        if removed and progress:
            print(f"removed {', '.join(removed)} of {run_dir} (made from the model that is being retrained)")
    train_data = train_set if train_set is not None else load_training_set(config, data_root, progress)
    val_data = validation_set if validation_set is not None else load_validation_set(config, data_root, progress)
    _check_labels_within_clips(config, train_data, val_data)
    common = dict(train_data=train_data, val_data=val_data, progress=progress, callbacks=callbacks)
    stage2_meta = {"stage": 2, "use_focal": True, "lr_factor": two.lr_factor, "epoch_offset": config.trainer.max_epochs}
    if init_path is not None:  # before the first phase trains
        _check_init_fits(init_path, config, train_data, stage2_meta)

    previous = os.environ.get(RUN_DIR_ENV)
    os.environ[RUN_DIR_ENV] = str(run_dir)  # DDP children (re-launched commands) inherit it
    try:
        teacher: Optional[FrameTeacherSystem] = None
        meta: dict[str, Any] = {}
        if dist.enabled:
            if auto_teacher:
                t_config = frame_teacher_config(config)
                t_result = _run_phase("frame teacher", t_config, run_dir / FRAME_TEACHER_DIR, resume=resume,
                                      force=force, echo=progress, **common)
                teacher_summary = check_frame_teacher(t_result, dist.min_teacher_gain)
                if _is_global_zero():
                    print(teacher_summary, flush=True)
                t_path = model_checkpoint(t_result.run_dir)
                if t_path is None:  # pragma: no cover - a finished run has checkpoints
                    raise TrainingError(f"{t_result.run_dir}: the frame teacher has no checkpoint")
            else:
                t_path = resolve_teacher_checkpoint(str(dist.teacher_checkpoint), run_dir)
            teacher = load_frame_teacher(t_path, config)
            meta["distillation"] = {"teacher_checkpoint": str(t_path), "teacher_channels": teacher.feature_channels,
                                    "teacher_weights_sha256": weights_checksum(teacher)}
        if not two.enabled:
            if auto_teacher:  # a multi-phase run: reuse the main run too when it is finished
                return _run_phase("run", config, run_dir, resume=resume, force=force, echo=progress,
                                  meta_updates=meta, frame_teacher=teacher, **common)
            return _fit(config, run_dir, resume=resume, meta_updates=meta or None, frame_teacher=teacher, **common)

        # two-stage training (DESIGN section 3)
        if _is_global_zero():
            run_dir.mkdir(parents=True, exist_ok=True)
            if force and stage in (None, 2):
                _clear_run_published(run_dir)
            if not (run_dir / CONFIG_FILE).is_file():  # (re)written when the final stage is published
                atomic_write_text(run_dir / CONFIG_FILE, yaml.safe_dump(to_dict(config), sort_keys=False))
        stages: dict[str, TrainResult] = {}
        s1_dir, s2_dir = run_dir / STAGE_DIRS[1], run_dir / STAGE_DIRS[2]
        if stage in (None, 1):
            stages["stage1"] = _run_phase(
                "stage 1", config, s1_dir, resume=resume, force=force, echo=progress,
                meta_updates={**meta, "stage": 1, "use_focal": False}, frame_teacher=teacher, **common,
            )
            if stage == 1:
                return stages["stage1"]
        if init_path is not None:
            init = init_path
        else:
            if _phase_state(s1_dir) != "finished":
                raise TrainingError(
                    f"stage 2 starts from stage 1's best checkpoint, but {s1_dir} holds no finished stage 1: "
                    "run --stage 1 first (or the whole recipe), or give --init CKPT"
                )
            init = model_checkpoint(s1_dir)
            if init is None:  # pragma: no cover
                raise TrainingError(f"{s1_dir}: stage 1 has no checkpoint")
        stages["stage2"] = _run_phase(
            "stage 2", config, s2_dir, resume=resume, force=force, echo=progress,
            meta_updates={**meta, **stage2_meta},
            max_epochs=two.epochs, init_checkpoint=init.resolve(), frame_teacher=teacher, **common,
        )
        if (s1_dir / METRICS_FILE).is_file() and "stage1" not in stages:
            stages["stage1"] = _finished_result_loose(s1_dir)
        if _is_global_zero():
            atomic_write_text(run_dir / CONFIG_FILE, yaml.safe_dump(to_dict(config), sort_keys=False))
        published = better_stage(stages)
        if _is_global_zero():
            print(f"published {published} (best validation {config.validation.monitor}: "
                  + ", ".join(f"{n} {r.metrics.get('best_score') or 0:.3f}" for n, r in stages.items()) + ")")
        return _publish_final_stage(run_dir, stages[published], stages)
    finally:
        if previous is None:
            os.environ.pop(RUN_DIR_ENV, None)
        else:
            os.environ[RUN_DIR_ENV] = previous


def global_rank() -> int:
    """This process's global rank, also before a trainer exists: the process group's when there is
    one, else what the launchers set (torchrun: ``RANK``; SLURM with several tasks: ``SLURM_PROCID``;
    Lightning's ``ddp`` re-launch: ``NODE_RANK`` / ``LOCAL_RANK``, rank 0 being the command itself)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank()
    if os.environ.get("RANK", "").isdigit():
        return int(os.environ["RANK"])
    if os.environ.get("SLURM_PROCID", "").isdigit() and int(os.environ.get("SLURM_NTASKS", "1") or 1) > 1:
        return int(os.environ["SLURM_PROCID"])
    return 0 if os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0" else 1


def _is_global_zero() -> bool:
    """Only rank 0 writes the phase bookkeeping (finished.json, config.yaml, published checkpoints)."""
    return global_rank() == 0


#: kept for callers of the earlier name
trainer_is_global_zero = _is_global_zero


def _barrier() -> None:
    """Wait for every rank, when a process group exists (between the phases of a DDP run: the
    group Lightning created at the first ``fit`` lives until the process exits)."""
    if (torch.distributed.is_available() and torch.distributed.is_initialized()
            and torch.distributed.get_world_size() > 1):
        torch.distributed.barrier()


def _clear_run_published(run_dir: Path) -> None:
    for path in (best_checkpoint(run_dir), last_checkpoint(run_dir)):
        path.unlink(missing_ok=True)
    for name in (METRICS_FILE, CONFIG_FILE, FINISHED_FILE):
        (run_dir / name).unlink(missing_ok=True)


def _finished_result_loose(run_dir: Path) -> TrainResult:
    import json

    metrics = json.loads((run_dir / METRICS_FILE).read_text(encoding="utf-8"))
    best = best_checkpoint(run_dir)
    return TrainResult(run_dir, best if best.is_file() else None, last_checkpoint(run_dir), metrics)
