"""SED networks. Every network maps log-mel ``x: (B, T, F)`` to a :class:`SEDOutput`.

- :func:`professional_teacher`, :func:`promising_student`: Lin et al.'s guided-learning CNNs
  (DCASE 2019 Task 4 winner) with disentangled attention pooling.
- :func:`crnn`: the DCASE Task 4 baseline CRNN (mean-teacher baseline).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Optional

from torch import nn

from jointsed.config import ConfigError
from jointsed.models.cnn import (
    PROFESSIONAL_TEACHER,
    PROMISING_STUDENT,
    ConvNetConfig,
    GuidedLearningCNN,
    professional_teacher,
    promising_student,
)
from jointsed.models.crnn import CRNN, CRNNConfig, crnn
from jointsed.models.layers import ModelInputError
from jointsed.models.output import SEDOutput, upsample_frames
from jointsed.models.pooling import (
    AttentionPooling,
    DisentangledAttentionPooling,
    LinearSoftmaxPooling,
    PoolingError,
    PoolingOutput,
    disentangled_dims,
    single_class_ratios,
)

ModelName = Literal["professional_teacher", "promising_student", "crnn"]
MODEL_NAMES: tuple[str, ...] = ("professional_teacher", "promising_student", "crnn")


def build_model(name: ModelName, n_classes: int, n_mels: int,
                class_ratios: Optional[Sequence[float]] = None, **kwargs: Any) -> nn.Module:
    """Build a network by name.

    Args:
        name: "professional_teacher", "promising_student" or "crnn".
        n_classes: ``C``.
        n_mels: input mel bands ``F``.
        class_ratios: disentangled-feature ratios for the guided-learning CNNs (ignored by the
            CRNN, which has no disentangled pooling).
        **kwargs: config field overrides (:class:`ConvNetConfig` or :class:`CRNNConfig`).

    Raises:
        ConfigError: unknown name, unknown override key or invalid value.
    """
    if name == "professional_teacher":
        return professional_teacher(n_classes, n_mels, class_ratios, **kwargs)
    if name == "promising_student":
        return promising_student(n_classes, n_mels, class_ratios, **kwargs)
    if name == "crnn":
        return crnn(n_classes, n_mels, **kwargs)
    raise ConfigError(f"unknown model {name!r} (choose from {', '.join(MODEL_NAMES)})")


__all__ = [
    "MODEL_NAMES",
    "PROFESSIONAL_TEACHER",
    "PROMISING_STUDENT",
    "CRNN",
    "AttentionPooling",
    "CRNNConfig",
    "ConvNetConfig",
    "DisentangledAttentionPooling",
    "GuidedLearningCNN",
    "LinearSoftmaxPooling",
    "ModelInputError",
    "ModelName",
    "PoolingError",
    "PoolingOutput",
    "SEDOutput",
    "build_model",
    "crnn",
    "disentangled_dims",
    "professional_teacher",
    "promising_student",
    "single_class_ratios",
    "upsample_frames",
]
