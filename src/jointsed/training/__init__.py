"""Training engine (PyTorch Lightning): recipes, in-memory data and batch composition, the
guided-learning and CRNN mean-teacher systems, the joint framework's frame-level teacher, deep
feature distillation and two-stage training, and :func:`train`.

- :mod:`.config`: typed recipe (:class:`RecipeConfig`), ``base:`` inheritance, ``--set`` overrides;
- :mod:`.data`: features kept in memory, :class:`ComposedBatchSampler`, :class:`SEDDataModule`;
- :mod:`.systems`: :class:`GuidedLearningSystem` (Lin et al.), :class:`MeanTeacherSystem` (DCASE
  baseline), sharing validation, checkpoints and the inference entry point;
- :mod:`.engine`: :func:`train` (run folder, checkpoints, logs, DDP, resume);
- :mod:`.metrics`: per-epoch validation metrics.

Inference from a trained run: :mod:`jointsed.inference`.
"""

from jointsed.training.config import RecipeConfig, load_recipe
from jointsed.training.engine import TrainingError, TrainResult, train
from jointsed.training.systems import (
    FrameTeacherSystem,
    GuidedLearningSystem,
    MeanTeacherSystem,
    SEDSystem,
    build_system,
)

__all__ = [
    "FrameTeacherSystem",
    "GuidedLearningSystem",
    "MeanTeacherSystem",
    "RecipeConfig",
    "SEDSystem",
    "TrainResult",
    "TrainingError",
    "build_system",
    "load_recipe",
    "train",
]
