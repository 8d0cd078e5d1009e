"""Typed recipe configuration of a training run (the packaged recipes: :mod:`jointsed.recipes`).

A recipe is a YAML mapping loaded into :class:`RecipeConfig` with :func:`jointsed.config.from_dict`:
an unknown key, a missing required key or a value of the wrong type is a
:class:`~jointsed.config.ConfigError` naming the dotted key (``optimizer.lrr``). A recipe may
inherit from another with ``base: relative/path.yaml`` (resolved against the recipe's folder,
recursively) or ``base: dcase2019/joint`` (a packaged recipe's name, :mod:`jointsed.recipes`); the
child's keys win (:func:`jointsed.config.merge`). Command-line overrides
(``--set trainer.max_epochs=3``) are merged last. The resolved config is saved as
``RUN_DIR/config.yaml`` and inside every checkpoint.

Sections:

- ``system``: ``guided_learning`` (Lin et al., DCASE 2019 winner), ``mean_teacher`` (DCASE
  baseline CRNN) or ``frame_teacher`` (the frame-level teacher of the deep feature distillation:
  the PS body trained on the strongly labelled clips only).
- ``data``: where the sets are (relative to ``--data-root``), the class list, the feature cache.
- ``features``: :class:`~jointsed.audio.FeatureConfig`.
- ``model``: architectures (:class:`~jointsed.models.ConvNetConfig` for the PT / PS,
  :class:`~jointsed.models.CRNNConfig` for the CRNN).
- ``batch``: batch composition (``union`` of all sets, or ``fixed`` counts per set).
- ``optimizer``, ``trainer``: optimiser / schedule, Lightning trainer settings.
- ``guided_learning``, ``mean_teacher``: the systems' own settings.
- ``validation``, ``postprocess``: metrics and the default post-processing.
- ``joint``: the joint framework of Liang et al. (arXiv 2103.12388; our reconstruction from the
  abstract): deep feature distillation, adaptive focal loss, two-stage training.
- ``seed``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Union

from jointsed.audio.features import FeatureConfig
from jointsed.config import ConfigError, from_dict, load_yaml, merge, parse_override, to_dict
from jointsed.data.classes import DESED_CLASSES
from jointsed.models.cnn import PROFESSIONAL_TEACHER, PROMISING_STUDENT, ConvNetConfig
from jointsed.models.crnn import CRNNConfig
from jointsed.recipes import packaged_recipe, resolve_recipe
from jointsed.training.config_bounds import check_cache_dir, check_recipe_data

SystemName = Literal["guided_learning", "mean_teacher", "frame_teacher"]
SET_NAMES: tuple[str, ...] = ("weak", "synthetic", "unlabelled")


def _copy_conv(base: ConvNetConfig) -> ConvNetConfig:
    return from_dict(ConvNetConfig, to_dict(base))


@dataclass
class DataConfig:
    """Dataset locations, relative to ``--data-root`` (absolute paths are kept as they are).

    A set whose table is ``null`` is not used (e.g. ``unlabelled_tsv: null`` and
    ``unlabelled_audio: null`` trains without unlabelled clips). ``unlabelled_tsv: null`` with an
    ``unlabelled_audio`` folder uses every audio file of the folder.
    """

    weak_tsv: Optional[str] = "metadata/train/weak.tsv"
    weak_audio: str = "audio/train/weak"
    synthetic_tsv: Optional[str] = "metadata/train/synthetic.tsv"
    synthetic_audio: str = "audio/train/synthetic"
    unlabelled_tsv: Optional[str] = "metadata/train/unlabel_in_domain.tsv"
    unlabelled_audio: Optional[str] = "audio/train/unlabel_in_domain"
    validation_tsv: Optional[str] = "metadata/validation/validation.tsv"
    validation_audio: str = "audio/validation"
    validation_durations: Optional[str] = "metadata/validation/validation_durations.tsv"
    classes: list[str] = field(default_factory=lambda: list(DESED_CLASSES))
    # Feature cache folder, relative to the data root (shared by every run on this data); a
    # relative path may not lead out of the data root (``..``): give an absolute path to keep the
    # cache elsewhere on purpose. `jointsed train` prints where the cache is.
    cache_dir: str = ".jointsed_cache/features"
    cache_workers: Optional[int] = None  # processes computing features (None: all cores)
    # Keep the in-memory training features as float16 (half the memory; values are float16 in
    # the cache anyway) and/or on the accelerator (no host->device copies per batch).
    in_memory_dtype: Literal["float32", "float16"] = "float32"
    on_accelerator: bool = False
    # Use at most this many clips of each set (first ones in table order; for quick runs).
    max_clips_per_set: Optional[int] = None

    def validate(self) -> None:
        if not self.classes:
            raise ConfigError("data.classes: at least one class is needed")
        if len(set(self.classes)) != len(self.classes):
            raise ConfigError("data.classes: class names must be unique")
        if self.weak_tsv is None and self.synthetic_tsv is None:
            raise ConfigError("data: at least one labelled set (weak_tsv or synthetic_tsv) is needed")
        if self.max_clips_per_set is not None and self.max_clips_per_set < 1:
            raise ConfigError(f"data.max_clips_per_set: must be >= 1, got {self.max_clips_per_set}")
        check_cache_dir(self.cache_dir)


@dataclass
class ModelConfig:
    """Network architectures. ``teacher``/``student`` are the guided-learning PT and PS
    (Lin et al.), ``crnn`` the DCASE baseline CRNN (mean teacher: student and EMA teacher).

    ``disentangled``: give class ``c`` of the PT/PS pooling only its first ``k_c`` feature dims,
    ``k_c = floor(D (0.96 r_c + 0.04))`` with ``r_c`` the share of single-class clips of ``c``
    among ALL labelled training clips, weak and strong (Lin et al.), and at least ``min(D, 8)``
    dims (a head of one or two dims does not learn at the CPU widths)."""

    teacher: ConvNetConfig = field(default_factory=lambda: _copy_conv(PROFESSIONAL_TEACHER))
    student: ConvNetConfig = field(default_factory=lambda: _copy_conv(PROMISING_STUDENT))
    crnn: CRNNConfig = field(default_factory=CRNNConfig)
    disentangled: bool = True


@dataclass
class BatchConfig:
    """Batch composition.

    ``mode: union``: every batch holds ``batch_size`` clips drawn without replacement from the
    union of the training sets (Lin et al.); one epoch = one pass over the union.
    ``mode: fixed``: every batch holds ``composition[set]`` clips of each set (DCASE baseline:
    synthetic 12, weak 12, unlabelled 24); each set is reshuffled whenever exhausted; an epoch has
    ``epoch_batches`` batches: ``min`` (the set that runs out first), ``max`` (the longest set)
    or a number.
    Batch sizes are per process: with N devices, an epoch's batches are dealt to the N processes.
    """

    mode: Literal["union", "fixed"] = "union"
    batch_size: int = 64
    composition: dict[str, int] = field(
        default_factory=lambda: {"synthetic": 12, "weak": 12, "unlabelled": 24}
    )
    epoch_batches: Union[Literal["min", "max"], int] = "min"
    drop_last: bool = True  # union mode: drop the last, incomplete batch of an epoch
    validation_batch_size: int = 64

    def validate(self) -> None:
        if self.batch_size < 1 or self.validation_batch_size < 1:
            raise ConfigError("batch.batch_size / batch.validation_batch_size: must be >= 1")
        for name, count in self.composition.items():
            if name not in SET_NAMES:
                raise ConfigError(
                    f"batch.composition.{name}: unknown set (choose from {', '.join(SET_NAMES)})"
                )
            if count < 0:
                raise ConfigError(f"batch.composition.{name}: must be >= 0, got {count}")
        if self.mode == "fixed" and sum(self.composition.values()) < 1:
            raise ConfigError("batch.composition: at least one clip per batch is needed")
        if isinstance(self.epoch_batches, int) and self.epoch_batches < 1:
            raise ConfigError(f"batch.epoch_batches: must be >= 1, got {self.epoch_batches}")


@dataclass
class OptimizerConfig:
    """Adam with a learning-rate schedule.

    ``scheduler: step``: lr x ``gamma`` every ``step_epochs`` epochs (Lin: 0.0018, x0.8 / 10).
    ``scheduler: warmup``: lr x exp(-5 (1 - t)^2), t = step / (``warmup_epochs`` x steps per
    epoch), clipped at 1: the DCASE baseline's exponential warm-up, per step.
    ``scheduler: none``: constant.
    """

    lr: float = 0.0018
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    scheduler: Literal["step", "warmup", "none"] = "step"
    step_epochs: int = 10
    gamma: float = 0.8
    warmup_epochs: int = 50

    def validate(self) -> None:
        if self.lr <= 0:
            raise ConfigError(f"optimizer.lr: must be > 0, got {self.lr}")
        if self.step_epochs < 1 or self.warmup_epochs < 0:
            raise ConfigError("optimizer.step_epochs must be >= 1 and warmup_epochs >= 0")


@dataclass
class TrainerConfig:
    """Lightning ``Trainer`` settings (the CLI's --devices/--accelerator/... override these)."""

    max_epochs: int = 100
    accelerator: str = "auto"  # cpu | gpu | auto | ...
    devices: Union[int, str] = 1  # number of devices or "auto"
    strategy: str = "auto"  # auto | ddp | ddp_spawn | ...
    num_nodes: int = 1
    precision: str = "32-true"  # 32-true | 16-mixed | bf16-mixed
    gradient_clip_val: Optional[float] = None
    check_val_every_n_epoch: int = 1
    log_every_n_steps: int = 10
    deterministic: bool = False  # torch.use_deterministic_algorithms (GPU)
    # cuDNN autotuning of the convolutions (GPU; fixed input shapes); off when deterministic
    benchmark: bool = True
    # float32 matrix products on GPU: "highest" (exact float32), "high" (TF32) or "medium"
    matmul_precision: Literal["highest", "high", "medium"] = "high"
    # With several processes: batch norm statistics over the global batch, so that every rank
    # keeps the same running statistics (and weights) - no effect on one device.
    sync_batchnorm: bool = True
    progress_bar: bool = True
    limit_train_batches: Optional[int] = None  # cap batches per epoch (quick runs)
    num_threads: Optional[int] = None  # torch CPU threads (None: torch's default)

    def validate(self) -> None:
        if self.max_epochs < 1:
            raise ConfigError(f"trainer.max_epochs: must be >= 1, got {self.max_epochs}")


@dataclass
class GuidedLearningConfig:
    """Guided learning (Lin et al.): PT teaches PS on unlabelled clips, and PS teaches PT back
    with weight ``a(epoch) = 0`` up to ``teacher_weight_start`` then ``1 - base^(epoch - start)``.

    ``teacher_noise_std``: Gaussian noise added to the PT's (normalised) input in training.
    ``strong_weight``: optional frame-level BCE of the PS on strongly labelled clips (0 = Lin).
    Inference: ``clip_scores_from`` / ``frame_scores_from`` pick the network giving clip tags
    (the PT is the better tagger) and frame scores (the PS is the better detector).
    """

    teacher_noise_std: float = 0.15
    teacher_weight_start: int = 5
    teacher_weight_base: float = 0.99
    threshold: float = 0.5
    strong_weight: float = 0.0
    clip_scores_from: Literal["teacher", "student"] = "teacher"
    frame_scores_from: Literal["teacher", "student"] = "student"


@dataclass
class MeanTeacherConfig:
    """CRNN mean teacher (DCASE baseline; Tarvainen & Valpola 2017).

    EMA teacher with decay ``min(1 - 1/(step + 1), ema_decay)``; consistency MSE between student
    and teacher (frame and clip outputs, all clips) weighted by ``consistency_weight`` x
    sigmoid ramp-up over ``rampup_epochs``; mixup (Zhang et al. 2018) of the labelled
    sub-batches with probability ``mixup_prob``, ``mixup: soft`` mixes labels, ``hard`` takes their
    max, ``null`` disables it. ``predict_with``: which network predicts at validation/inference.
    """

    ema_decay: float = 0.999
    consistency_weight: float = 2.0
    rampup_epochs: int = 50
    mixup: Optional[Literal["soft", "hard"]] = "soft"
    mixup_prob: float = 0.5
    mixup_alpha: float = 0.2
    weak_loss_on_strong: bool = False  # also a clip loss on the strongly labelled clips
    predict_with: Literal["student", "teacher"] = "student"


@dataclass
class ValidationConfig:
    """Per-epoch validation: frame-level and clip-level average precision (threshold-free), clip
    (tagging) macro F1 at 0.5 and, with ``event_f1``, event-based macro F1 (collar 0.2 s) after
    the default post-processing. ``monitor`` picks the score that selects ``best.ckpt`` (ties go
    to the later epoch): ``ap`` (default; mean of the macro frame AP and macro clip AP, which an
    untrained network cannot game, DESIGN section 8), ``frame_ap``, ``clip_ap``, ``event_f1``
    (rewards an untrained network's whole-clip events: not recommended) or ``clip_f1``."""

    event_f1: bool = True
    monitor: Literal["ap", "frame_ap", "clip_ap", "event_f1", "clip_f1"] = "ap"


@dataclass
class PostprocessConfig:
    """Default post-processing (Lin et al.): clip gating ``tag_threshold``, frame
    ``frame_threshold``, median windows from the strong training labels (``median_windows: lin``,
    x ``median_factor``) or given frames (one number, or one per class). Event-specific
    post-processing (DESIGN section 4) is not a training setting: ``jointsed tune RUN`` searches
    it after training and writes ``RUN/postprocess.json``, which evaluate / predict then use."""

    tag_threshold: float = 0.5
    frame_threshold: float = 0.5
    median_windows: Union[Literal["lin"], int, list[int]] = "lin"
    median_factor: float = 0.333


@dataclass
class DistillationConfig:
    """Frame-level target-event deep feature distillation (our formulation, DESIGN §2) for
    ``system: guided_learning``: on the strongly labelled clips of every batch, the PS's feature
    maps of blocks ``layers`` (0-based) are pulled, through learned 1x1 adapters, towards those of
    a frozen frame-level teacher (``system: frame_teacher``, same body as the PS) in the frames
    where a target event is active (``mask_mode``: ``target``, ``all`` frames, ``none`` = off);
    the loss is added with factor ``weight``.

    ``teacher_checkpoint``: the teacher's checkpoint or run folder (relative paths: to the run
    folder, else to the working directory), or ``auto``: train it first, ``teacher_epochs``
    epochs on the same data with the recipe's ``model.student``, into ``RUN_DIR/frame_teacher``,
    with learning rate ``teacher_lr`` and batch size ``teacher_batch_size`` (null: the recipe's).
    """

    enabled: bool = False
    teacher_checkpoint: Optional[str] = None
    layers: list[int] = field(default_factory=lambda: [1, 2])
    weight: float = 1.0
    mask_mode: Literal["target", "all", "none"] = "target"
    teacher_epochs: int = 30
    teacher_lr: Optional[float] = None
    teacher_batch_size: Optional[int] = None
    # the auto-trained teacher's best validation monitor score must beat the untrained
    # network's by this much, else the run stops (a teacher that does not detect is not distilled)
    min_teacher_gain: float = 0.05


@dataclass
class FocalConfig:
    """Adaptive focal loss (our formulation, DESIGN §3) in place of BCE on the labelled terms
    (guided learning: both supervised terms and the optional strong term; mean teacher: the weak
    and strong terms), computed from logits. Class ``c``'s difficulty ``1 - F_c`` comes from
    ``F_c``, an EMA (``momentum``) of the per-class average precision of the clip scores of the
    labelled TRAINING clips of each epoch (threshold-free; the validation set never steers
    training); weights ``w_c`` proportional to ``(1 - F_c)^eta``, focusing ``gamma0 (1 - F_c)``."""

    enabled: bool = False
    gamma0: float = 2.0
    eta: float = 1.0
    momentum: float = 0.9


@dataclass
class TwoStageConfig:
    """Two-stage training. Stage 1 trains the recipe with BCE (``trainer.max_epochs`` epochs) into
    ``RUN_DIR/stage1``; stage 2 starts from stage 1's best weights with a fresh optimiser,
    ``lr_factor`` x the learning rate and the adaptive focal loss on the labelled terms (with
    ``joint.focal.enabled``; else BCE again: the control that isolates the focal loss from the
    schedule), for ``epochs`` epochs, into ``RUN_DIR/stage2``. The run
    folder's ``checkpoints/`` and ``metrics.json`` are then those of the stage with the better
    best validation monitor score (stage 2 on ties; ``metrics.json`` says which in
    ``published_stage``), ``config.yaml`` the recipe.
    """

    enabled: bool = False
    epochs: int = 20
    lr_factor: float = 0.1


@dataclass
class JointConfig:
    """The joint framework's additions (Liang et al., arXiv 2103.12388; reconstructed from the
    abstract). All off by default: the baselines do not use them."""

    distillation: DistillationConfig = field(default_factory=DistillationConfig)
    focal: FocalConfig = field(default_factory=FocalConfig)
    two_stage: TwoStageConfig = field(default_factory=TwoStageConfig)


@dataclass
class RecipeConfig:
    """A whole training recipe (see the module docstring)."""

    system: SystemName = "guided_learning"
    name: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    batch: BatchConfig = field(default_factory=BatchConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    guided_learning: GuidedLearningConfig = field(default_factory=GuidedLearningConfig)
    mean_teacher: MeanTeacherConfig = field(default_factory=MeanTeacherConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    postprocess: PostprocessConfig = field(default_factory=PostprocessConfig)
    joint: JointConfig = field(default_factory=JointConfig)
    seed: int = 42

    @classmethod
    def check_data(cls, data: dict[str, Any]) -> None:
        """The ranges of :data:`RECIPE_BOUNDS`, on the raw data (before any section is built)."""
        check_recipe_data(data)

    def validate(self) -> None:
        if isinstance(self.postprocess.median_windows, list) and len(self.postprocess.median_windows) != len(
            self.data.classes
        ):
            raise ConfigError(
                f"postprocess.median_windows: {len(self.postprocess.median_windows)} windows for "
                f"{len(self.data.classes)} classes"
            )
        if self.batch.mode == "fixed":
            unused = [
                name for name, n in self.batch.composition.items() if n > 0 and not self.set_enabled(name)
            ]
            if unused:
                raise ConfigError(
                    f"batch.composition.{unused[0]}: draws clips from a set that data disables"
                )
        self._validate_joint()

    def _validate_joint(self) -> None:
        dist, two = self.joint.distillation, self.joint.two_stage
        if self.system == "frame_teacher" and self.data.synthetic_tsv is None:
            raise ConfigError("system: frame_teacher trains on strongly labelled clips: data.synthetic_tsv is needed")
        if dist.enabled:
            if self.system != "guided_learning":
                raise ConfigError(
                    f"joint.distillation: implemented for system guided_learning, not {self.system}"
                )
            if dist.teacher_checkpoint is None:
                raise ConfigError("joint.distillation.teacher_checkpoint: needed when distillation is enabled "
                                  "(a checkpoint / run folder, or auto)")
            if self.data.synthetic_tsv is None:
                raise ConfigError("joint.distillation: needs strongly labelled clips (data.synthetic_tsv)")
            n_blocks = len(self.model.student.channels)
            bad = [i for i in dist.layers if not 0 <= i < n_blocks]
            if bad or not dist.layers:
                raise ConfigError(
                    f"joint.distillation.layers: block indices in 0..{n_blocks - 1} of model.student "
                    f"are needed, got {list(dist.layers)}"
                )
            if dist.weight < 0:
                raise ConfigError(f"joint.distillation.weight: must be >= 0, got {dist.weight}")
            if (dist.teacher_lr is not None and dist.teacher_lr <= 0) or (
                dist.teacher_batch_size is not None and dist.teacher_batch_size < 1
            ):
                raise ConfigError("joint.distillation.teacher_lr / teacher_batch_size: must be > 0")
            if dist.teacher_epochs < 1:
                raise ConfigError(f"joint.distillation.teacher_epochs: must be >= 1, got {dist.teacher_epochs}")
        if two.enabled:
            if self.system == "frame_teacher":
                raise ConfigError("joint.two_stage: not for system frame_teacher")
            if two.epochs < 1:
                raise ConfigError(f"joint.two_stage.epochs: must be >= 1, got {two.epochs}")
            if two.lr_factor <= 0:
                raise ConfigError(f"joint.two_stage.lr_factor: must be > 0, got {two.lr_factor}")

    def set_enabled(self, name: str) -> bool:
        """Whether training set ``name`` (weak / synthetic / unlabelled) is used."""
        if name == "weak":
            return self.data.weak_tsv is not None
        if name == "synthetic":
            return self.data.synthetic_tsv is not None
        return self.data.unlabelled_tsv is not None or self.data.unlabelled_audio is not None


# ----- loading ------------------------------------------------------------------------------------
def load_recipe_dict(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a recipe YAML, resolving ``base:`` inheritance (paths relative to the recipe).

    Raises:
        ConfigError: unreadable file, bad YAML, a ``base`` that is not a string, or a cycle.
    """
    path = Path(path).resolve()
    if path in _seen:
        chain = " -> ".join(str(p) for p in (*_seen, path))
        raise ConfigError(f"recipe inheritance cycle: {chain}")
    data = load_yaml(path)
    base = data.pop("base", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise ConfigError(f"{path}: 'base' must be a path string, got {base!r}")
    base_path = Path(base) if Path(base).is_absolute() else path.parent / base
    if not base_path.is_file():  # not beside the recipe: a packaged recipe's name (dcase2019/joint)?
        try:
            base_path = packaged_recipe(base)
        except ConfigError as exc:
            raise ConfigError(f"{path}: base: {exc}") from None
    return merge(load_recipe_dict(base_path, (*_seen, path)), data)


def load_recipe(
    path: str | Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    extra: dict[str, Any] | None = None,
) -> RecipeConfig:
    """Load and validate a recipe.

    Args:
        path: recipe YAML or packaged recipe name (``dcase2019/joint``; ``None``: all defaults).
        overrides: ``"key.path=value"`` strings (the CLI's ``--set``), applied in order.
        extra: a mapping merged last (programmatic overrides).
    Returns:
        The validated :class:`RecipeConfig`.
    Raises:
        ConfigError: naming the offending key (unknown key, wrong type, bad value).
    """
    if path is not None:  # a file, or a packaged recipe's name (dcase2019/joint)
        path = resolve_recipe(path)
    data = load_recipe_dict(path) if path is not None else {}
    if path is not None and not data.get("name"):
        data["name"] = Path(path).stem
    for text in overrides:
        data = merge(data, parse_override(text))
    if extra:
        data = merge(data, extra)
    return from_dict(RecipeConfig, data)


#: keys that earlier versions wrote into run folders and checkpoints and that no longer exist
#: (``postprocess.event_specific`` was read by nothing): dropped when a SAVED config is read, an
#: error in a recipe
REMOVED_KEYS: tuple[tuple[str, ...], ...] = (("postprocess", "event_specific"),)


def recipe_from_dict(data: dict[str, Any]) -> RecipeConfig:
    """Rebuild a :class:`RecipeConfig` from its saved plain form (config.yaml, checkpoints)."""
    data = copy.deepcopy(data)
    for *parents, key in REMOVED_KEYS:
        section = data
        for name in parents:
            section = section.get(name) if isinstance(section, dict) else None
        if isinstance(section, dict):
            section.pop(key, None)
    return from_dict(RecipeConfig, data)
