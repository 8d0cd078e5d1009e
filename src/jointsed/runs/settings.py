"""Typed settings a system is built with, besides the recipe: what the trained model needs at
inference (:class:`ModelInfo`) and how the current training phase differs from a plain run
(:class:`PhaseSettings`).

Both travel in every checkpoint as the plain mapping ``checkpoint["jointsed"]["meta"]`` (the
format of :mod:`jointsed.runs.checkpoint`, readable without Lightning); :func:`split_meta` reads
that mapping back with every key checked, so a misspelt key is an error naming it, never a silent
default (what the earlier untyped ``meta`` dict with ``.get`` defaults allowed).

They are part of the checkpoint format, so :mod:`jointsed.runs` owns them (the Lightning
systems are built from them; :class:`jointsed.runs.predictor.Predictor` reads them back). This
module imports neither Lightning nor torch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from jointsed.config import ConfigError, from_dict, to_dict
from jointsed.postprocess.lin import lin_default_params
from jointsed.postprocess.params import PostProcessingParams


@dataclass
class DistillationSource:
    """The frozen frame-level teacher a deep-feature-distillation run was trained against
    (recorded for provenance; its channels size the PS's adapters)."""

    teacher_checkpoint: str = ""
    teacher_channels: list[int] = field(default_factory=list)
    teacher_weights_sha256: str = ""


@dataclass
class ModelInfo:
    """What inference needs besides the weights (and the recipe).

    Attributes:
        classes: class names, in the order of the model's outputs.
        class_ratios: Lin's ``r_c`` (disentangled pooling dimensions), one per class.
        median_windows: Lin's class-wise median filter lengths (frames), the default
            post-processing.
        frame_hop: seconds per output frame.
        n_frames: frames of one training clip (the inference window).
        feature_config: the front-end (:class:`jointsed.audio.features.FeatureConfig` as a dict).
        feature_storage: ``float16``: the feature cache rounds to float16, inference does too.
        train_set_sizes: clips per training set (provenance).
        class_dims: per network, the disentangled dimensions ``k_c`` it was built with (set by
            the system, provenance).
        distillation: the frame teacher of a distillation run (None: no distillation).
    """

    classes: list[str]
    class_ratios: list[float]
    median_windows: list[int]
    frame_hop: float
    n_frames: int
    feature_config: dict[str, Any] = field(default_factory=dict)
    feature_storage: str = "float16"
    train_set_sizes: dict[str, int] = field(default_factory=dict)
    class_dims: dict[str, list[int]] = field(default_factory=dict)
    distillation: Optional[DistillationSource] = None


@dataclass
class PhaseSettings:
    """How a training phase differs from a plain run (two-stage training, DESIGN section 3).

    Attributes:
        stage: 1 or 2 for the stages of a two-stage run, None otherwise.
        use_focal: whether the adaptive focal loss replaces BCE (when ``joint.focal`` is
            enabled): False in stage 1.
        lr_factor: multiplier on ``optimizer.lr`` (stage 2: ``joint.two_stage.lr_factor``).
        epoch_offset: epochs trained before this phase (stage 2 continues stage 1's ramp-ups).
    """

    stage: Optional[int] = None
    use_focal: bool = True
    lr_factor: float = 1.0
    epoch_offset: int = 0

    @classmethod
    def stage1(cls) -> "PhaseSettings":
        return cls(stage=1, use_focal=False)

    @classmethod
    def stage2(cls, lr_factor: float, stage1_epochs: int) -> "PhaseSettings":
        return cls(stage=2, use_focal=True, lr_factor=float(lr_factor), epoch_offset=int(stage1_epochs))


_INFO_KEYS = {f.name for f in dataclasses.fields(ModelInfo)}
_PHASE_KEYS = {f.name for f in dataclasses.fields(PhaseSettings)}


def to_meta(info: ModelInfo, phase: PhaseSettings) -> dict[str, Any]:
    """The checkpoint's ``meta`` mapping: ``info`` and ``phase`` as plain data (one flat mapping,
    the format every jointsed checkpoint has)."""
    meta = {k: v for k, v in to_dict(info).items() if not (k == "distillation" and v is None)}
    meta.update(to_dict(phase))
    return meta


def split_meta(meta: Mapping[str, Any], where: str = "meta") -> tuple[ModelInfo, PhaseSettings]:
    """Read a checkpoint's ``meta`` mapping back into typed settings.

    Raises:
        ConfigError: an unknown key or a wrong value, naming it (``where.key``).
    """
    unknown = sorted(set(meta) - _INFO_KEYS - _PHASE_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    info = from_dict(ModelInfo, {k: v for k, v in meta.items() if k in _INFO_KEYS}, where)
    phase = from_dict(PhaseSettings, {k: v for k, v in meta.items() if k in _PHASE_KEYS}, where)
    return info, phase


def default_postprocess(info: ModelInfo, postprocess: Mapping[str, Any]) -> PostProcessingParams:
    """A model's default post-processing: Lin et al.'s (class-wise median windows from the strong
    training labels, stored in ``info``) with the thresholds of the recipe's ``postprocess``
    section (as plain data; Lin's 0.5 where absent)."""
    params = lin_default_params(info.classes, info.median_windows)
    n = len(info.classes)
    params.tag_threshold = [float(postprocess.get("tag_threshold", 0.5))] * n
    params.frame_threshold = [float(postprocess.get("frame_threshold", 0.5))] * n
    params.validate()
    return params
