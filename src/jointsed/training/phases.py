"""Training: from a recipe and a data folder to a run folder, phase by phase (:func:`train`).

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
through :class:`~jointsed.training.trainer.AtomicCheckpointIO`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import torch
import yaml

from lightning.pytorch.callbacks import Callback

from jointsed.config import from_dict, to_dict
from jointsed.data.annotation_checks import check_class_names
from jointsed.runs.checkpoint import CheckpointError, read_state_dict, resolve_checkpoint, weights_checksum
from jointsed.runs.layout import (
    BEST_CHECKPOINT,
    CHECKPOINT_DIR,
    CONFIG_FILE,
    FRAME_TEACHER_DIR,
    LAST_CHECKPOINT,
    METRICS_FILE,
    STAGE_DIRS,
    last_checkpoint,
    model_checkpoint,
)
from jointsed.runs.lock import run_lock
from jointsed.runs.state import (
    TrainResult,
    check_removable,
    clear_derived,
    clear_published,
    clear_training,
    phase_state,
    read_finished,
    run_result,
    same_settings,
    saved_settings,
    write_finished,
)
from jointsed.systems import load_system
from jointsed.systems.frame_teacher import FrameTeacherSystem
from jointsed.runs.settings import DistillationSource, PhaseSettings
from jointsed.training.config import RecipeConfig
from jointsed.training.data import TrainingSet, ValidationSet, cache_note, load_training_set, load_validation_set
from jointsed.training.distributed import (
    RUN_DIR_ENV,
    barrier,
    check_devices,
    check_multi_phase_strategy,
    spawning_strategy,
    is_global_zero,
    several_processes,
)
from jointsed.training.errors import TrainingError
from jointsed.training.data_checks import check_same_data, check_training_data, fingerprint_of
from jointsed.training.fit import check_init_fits, check_run_dir, fit, resolve_init
from jointsed.training.interruption import TrainingInterrupted, stopped_by_signal
from jointsed.training.trainer import check_trainer_names
from jointsed.utils.atomic import atomic_path, atomic_write_json, atomic_write_text


def is_multi_phase(config: RecipeConfig) -> bool:
    """Joint recipes whose :func:`train` runs several phases (frame teacher, stages), each in its
    own folder, reusing or resuming each by itself."""
    dist = config.joint.distillation
    return bool(config.joint.two_stage.enabled or (dist.enabled and dist.teacher_checkpoint == "auto"))


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


def _finished_result(run_dir: Path, config: RecipeConfig) -> TrainResult:
    saved = saved_settings(run_dir)
    if saved is None or not same_settings(saved, to_dict(config)):
        raise TrainingError(
            f"{run_dir} holds a finished run of another configuration; use --force to retrain it or choose another --out"
        )
    return run_result(run_dir)


def _run_phase(name: str, config: RecipeConfig, run_dir: Path, *, resume: bool, force: bool,
               echo: bool, **fit_kwargs: Any) -> TrainResult:
    """Train one phase folder unless it is finished (then reuse it)."""
    state = phase_state(run_dir)
    if force and state != "absent":
        if is_global_zero():  # the other ranks only act as if it was cleared (no racing deletes)
            clear_training(run_dir)
        state = "absent"
    echo = echo and is_global_zero()
    if state == "finished":
        result = _finished_result(run_dir, config)
        check_same_data(run_dir, fingerprint_of(fit_kwargs["train_data"], fit_kwargs["val_data"]), reuse=True)
        init = fit_kwargs.get("init_checkpoint")
        recorded = read_finished(run_dir).get("init_weights_sha256")
        if init is not None and recorded is not None and recorded != weights_checksum(read_state_dict(init)):
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
    return fit(config, run_dir, resume=state == "partial", phase=name, **fit_kwargs)


def frame_teacher_config(config: RecipeConfig) -> RecipeConfig:
    """The recipe of the frame-level teacher that ``teacher_checkpoint: auto`` trains: the same
    data, features, optimiser and ``model.student``, ``system: frame_teacher``, ``batch.mode:
    union`` over the strongly labelled clips,
    ``joint.distillation.teacher_epochs`` epochs (``teacher_lr`` / ``teacher_batch_size`` when
    set), no joint additions."""
    data = to_dict(config)
    data["system"] = "frame_teacher"
    data["name"] = f"{config.name or 'run'}-frame_teacher"
    dist = config.joint.distillation
    data["trainer"]["max_epochs"] = dist.teacher_epochs
    # one pass over its one set per epoch: batches from the union of the sets it draws from
    # (:func:`jointsed.training.data.training_set_names`), whatever the recipe's composition
    data["batch"]["mode"] = "union"
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
    try:
        teacher = load_system(path)
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


def publish_final_stage(run_dir: Path, final: TrainResult, stages: Mapping[str, TrainResult]) -> TrainResult:
    """Make ``final``'s (the published stage's) checkpoints and metrics the run folder's (rank 0
    writes them; every rank returns once they are written)."""
    zero = is_global_zero()
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
        write_finished(run_dir, {"phase": "two-stage run", "published_stage": published, "stages": metrics["stages"]})
    barrier()
    return TrainResult(run_dir, run_result(run_dir).best_checkpoint, last_checkpoint(run_dir), metrics)


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
    """Train ``config`` on the data under ``data_root`` into ``run_dir`` (see :func:`_train` for
    the arguments), holding the run folder's lock (:mod:`jointsed.runs.lock`: one writer per run
    folder; rank 0 takes it for every rank of a DDP run).

    Raises:
        RunLockedError: another live process trains into ``run_dir``.
        TrainingInterrupted: a signal stopped it (the message says where and how to resume).
    """
    if os.environ.get("LOCAL_RANK", "0") != "0" and os.environ.get(RUN_DIR_ENV):
        run_dir = os.environ[RUN_DIR_ENV]  # a DDP child: use the parent's folder
    run_dir = Path(run_dir).resolve()
    with run_lock(run_dir) if is_global_zero() else contextlib.nullcontext():
        try:
            return _train(config, data_root, run_dir, resume, progress, train_set, validation_set, callbacks,
                          stage=stage, init_checkpoint=init_checkpoint, force=force)
        except TrainingInterrupted as exc:
            exc.out_dir = run_dir  # resume the whole command, not the phase folder
            raise


def _train(
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
    run_dir = Path(run_dir)
    progress = progress and config.trainer.progress_bar
    dist, two = config.joint.distillation, config.joint.two_stage
    if stage is not None and not two.enabled:
        raise TrainingError("--stage: this recipe has no two-stage training (joint.two_stage.enabled is false)")
    if stage not in (None, 1, 2):
        raise TrainingError(f"--stage: 1 or 2, got {stage}")
    if init_checkpoint is not None and not (two.enabled and stage == 2):
        raise TrainingError("--init: only with --stage 2 of a two-stage recipe")
    init_path = resolve_init(init_checkpoint) if init_checkpoint is not None else None  # before any data
    check_trainer_names(config)
    check_class_names(config.data.classes)
    auto_teacher = dist.enabled and dist.teacher_checkpoint == "auto"
    check_devices(config)
    if (two.enabled or auto_teacher) and (several_processes(config) or spawning_strategy(config)):
        check_multi_phase_strategy(config)
    if config.trainer.num_threads:
        torch.set_num_threads(config.trainer.num_threads)
    torch.set_float32_matmul_precision(config.trainer.matmul_precision)
    if force and is_global_zero():  # every folder --force will empty, checked before any is
        check_removable(run_dir, phase_dirs=(FRAME_TEACHER_DIR, *STAGE_DIRS.values()))
    if force and not (two.enabled or auto_teacher):
        if is_global_zero():
            clear_training(run_dir)
    elif not (two.enabled or auto_teacher):
        check_run_dir(run_dir, resume, config)  # fail before loading any data
    if (force or resume) and is_global_zero():  # the model will change: its derived files would lie
        removed = clear_derived(run_dir)
        if removed and progress:
            print(f"removed {', '.join(removed)} of {run_dir} (made from the model that is being retrained)")
    if train_set is None or validation_set is None:
        note, outside = cache_note(config, data_root)
        if progress or outside:  # features written outside the data root: always said
            print(note, file=sys.stdout if progress else sys.stderr)
    with stopped_by_signal("loading the data", run_dir):
        train_data = train_set if train_set is not None else load_training_set(config, data_root, progress)
        val_data = validation_set if validation_set is not None else load_validation_set(config, data_root, progress)
    check_training_data(config, train_data, val_data)
    common = dict(train_data=train_data, val_data=val_data, progress=progress, callbacks=callbacks)
    stage2 = PhaseSettings.stage2(two.lr_factor, config.trainer.max_epochs)
    if init_path is not None:  # before the first phase trains
        check_init_fits(init_path, config, train_data, stage2)

    previous = os.environ.get(RUN_DIR_ENV)
    os.environ[RUN_DIR_ENV] = str(run_dir)  # DDP children (re-launched commands) inherit it
    try:
        teacher: Optional[FrameTeacherSystem] = None
        distillation: Optional[DistillationSource] = None
        if dist.enabled:
            if auto_teacher:
                t_config = frame_teacher_config(config)
                t_result = _run_phase("frame teacher", t_config, run_dir / FRAME_TEACHER_DIR, resume=resume,
                                      force=force, echo=progress, **common)
                teacher_summary = check_frame_teacher(t_result, dist.min_teacher_gain)
                if is_global_zero():
                    print(teacher_summary, flush=True)
                t_path = model_checkpoint(t_result.run_dir)
                if t_path is None:  # pragma: no cover - a finished run has checkpoints
                    raise TrainingError(f"{t_result.run_dir}: the frame teacher has no checkpoint")
            else:
                t_path = resolve_teacher_checkpoint(str(dist.teacher_checkpoint), run_dir)
            teacher = load_frame_teacher(t_path, config)
            distillation = DistillationSource(str(t_path), list(teacher.feature_channels), weights_checksum(teacher))
        if not two.enabled:
            if auto_teacher:  # a multi-phase run: reuse the main run too when it is finished
                return _run_phase("run", config, run_dir, resume=resume, force=force, echo=progress,
                                  distillation=distillation, frame_teacher=teacher, **common)
            return fit(config, run_dir, resume=resume, distillation=distillation, frame_teacher=teacher, **common)

        # two-stage training (DESIGN section 3)
        if is_global_zero():
            run_dir.mkdir(parents=True, exist_ok=True)
            if force and stage in (None, 2):
                clear_published(run_dir)
            if not (run_dir / CONFIG_FILE).is_file():  # (re)written when the final stage is published
                atomic_write_text(run_dir / CONFIG_FILE, yaml.safe_dump(to_dict(config), sort_keys=False))
        stages: dict[str, TrainResult] = {}
        s1_dir, s2_dir = run_dir / STAGE_DIRS[1], run_dir / STAGE_DIRS[2]
        if stage in (None, 1):
            stages["stage1"] = _run_phase(
                "stage 1", config, s1_dir, resume=resume, force=force, echo=progress,
                phase_settings=PhaseSettings.stage1(), distillation=distillation, frame_teacher=teacher, **common,
            )
            if stage == 1:
                return stages["stage1"]
        if init_path is not None:
            init = init_path
        else:
            if phase_state(s1_dir) != "finished":
                raise TrainingError(
                    f"stage 2 starts from stage 1's best checkpoint, but {s1_dir} holds no finished stage 1: "
                    "run --stage 1 first (or the whole recipe), or give --init CKPT"
                )
            init = model_checkpoint(s1_dir)
            if init is None:  # pragma: no cover
                raise TrainingError(f"{s1_dir}: stage 1 has no checkpoint")
        stages["stage2"] = _run_phase(
            "stage 2", config, s2_dir, resume=resume, force=force, echo=progress,
            phase_settings=stage2, distillation=distillation,
            max_epochs=two.epochs, init_checkpoint=init.resolve(), frame_teacher=teacher, **common,
        )
        if (s1_dir / METRICS_FILE).is_file() and "stage1" not in stages:
            stages["stage1"] = run_result(s1_dir)
        if is_global_zero():
            atomic_write_text(run_dir / CONFIG_FILE, yaml.safe_dump(to_dict(config), sort_keys=False))
        published = better_stage(stages)
        if is_global_zero():
            print(f"published {published} (best validation {config.validation.monitor}: "
                  + ", ".join(f"{n} {r.metrics.get('best_score') or 0:.3f}" for n, r in stages.items()) + ")")
        return publish_final_stage(run_dir, stages[published], stages)
    finally:
        if previous is None:
            os.environ.pop(RUN_DIR_ENV, None)
        else:
            os.environ[RUN_DIR_ENV] = previous
