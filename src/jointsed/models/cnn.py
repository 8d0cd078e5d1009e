"""Guided-learning CNNs: the professional teacher (PT) and the promising student (PS).

Reference: Lin, Wang, Liu & Li, "Guided learning for weakly-labeled semi-supervised sound event
detection", ICASSP 2020 (DCASE 2019 Task 4 winning system; Keras code at
github.com/Kikyo-16/Sound_event_detection). Each block is ``[Conv-BN-ReLU] x n`` followed by a
max-pool over (time, frequency) and dropout; the last map is flattened (channels x remaining
frequency bins) into ``D``-dimensional frame embeddings pooled by
:class:`~jointsed.models.pooling.DisentangledAttentionPooling`.

- PT (coarse time, good at tagging): 500 x 64 input -> 5 frames x 512 dims.
- PS (fine time, good at detection): 500 x 64 input -> 500 frames x 160 dims.

Input lengths that are not a multiple of the total time pooling are padded at the end by
repeating the last frame (see :func:`~jointsed.models.layers.pad_time`); the frame output is
upsampled back and cropped to the input length. Frequency pooling floors (like Keras' "valid"
max-pooling), so a band count that does not divide evenly loses the top remainder bins.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import Tensor, nn

from jointsed.config import ConfigError, from_dict
from jointsed.models.fused import ByteMaskDropout, conv_batch_norm, fused_training_enabled
from jointsed.models.layers import InputNorm, InputNormalization, check_input, flatten_frames, pad_time
from jointsed.models.output import SEDOutput, upsample_frames
from jointsed.models.pooling import DisentangledAttentionPooling, PoolingError, disentangled_dims


@dataclass
class ConvNetConfig:
    """Architecture of a guided-learning CNN (defaults: Lin et al.'s professional teacher).

    Attributes:
        channels: output channels of each block (before ``width`` scaling).
        convs_per_block: number of Conv-BN-ReLU layers in each block.
        kernel_sizes: (time, frequency) kernel of the convolutions of each block ("same" padding).
        pools: (time, frequency) max-pool size after each block.
        dropout: dropout probability after each block's pooling (Lin: 0.3).
        width: channel multiplier for smaller/larger variants: block ``l`` has
            ``max(1, round(channels[l] * width))`` channels.
        embedding_dim: if set, a linear projection + ReLU maps the flattened ``channels x freq``
            features to this size before pooling (not in Lin et al.; ``None`` keeps their design).
        input_norm: "batch" (Lin's input BatchNormalization per mel band), "instance", or "none".
        bn_eps, bn_momentum: BatchNorm settings (defaults = Keras defaults used by Lin:
            eps 1e-3, moving-average momentum 0.99 i.e. PyTorch ``momentum=0.01``).
    """

    channels: tuple[int, ...] = (16, 32, 64, 128, 256)
    convs_per_block: tuple[int, ...] = (2, 2, 2, 2, 1)
    kernel_sizes: tuple[tuple[int, int], ...] = ((3, 3), (3, 3), (3, 3), (3, 3), (1, 1))
    pools: tuple[tuple[int, int], ...] = ((5, 4), (5, 2), (2, 2), (2, 2), (1, 1))
    dropout: float = 0.3
    width: float = 1.0
    embedding_dim: Optional[int] = None
    input_norm: InputNorm = "batch"
    bn_eps: float = 1e-3
    bn_momentum: float = 0.01

    def validate(self) -> None:
        n = len(self.channels)
        if n == 0:
            raise ConfigError("channels: at least one block is needed")
        for name in ("convs_per_block", "kernel_sizes", "pools"):
            if len(getattr(self, name)) != n:
                raise ConfigError(
                    f"{name}: {len(getattr(self, name))} entries but channels has {n} blocks"
                )
        if any(c < 1 for c in self.channels):
            raise ConfigError(f"channels: must be >= 1, got {list(self.channels)}")
        if any(c < 1 for c in self.convs_per_block):
            raise ConfigError(f"convs_per_block: must be >= 1, got {list(self.convs_per_block)}")
        if any(min(k) < 1 for k in self.kernel_sizes):
            raise ConfigError("kernel_sizes: must be >= 1")
        if any(min(p) < 1 for p in self.pools):
            raise ConfigError("pools: must be >= 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout: must be in [0, 1), got {self.dropout}")
        if self.width <= 0:
            raise ConfigError(f"width: must be > 0, got {self.width}")
        if self.embedding_dim is not None and self.embedding_dim < 1:
            raise ConfigError(f"embedding_dim: must be >= 1, got {self.embedding_dim}")

    @property
    def block_channels(self) -> list[int]:
        """Actual channels of each block after ``width`` scaling."""
        return [max(1, int(round(c * self.width))) for c in self.channels]

    @property
    def time_pooling(self) -> int:
        """Input frames per output frame (product of the time pools)."""
        return math.prod(p[0] for p in self.pools)

    def freq_bins(self, n_mels: int) -> list[int]:
        """Frequency bins after each block for ``n_mels`` input bands (floor pooling)."""
        bins, f = [], n_mels
        for _, pf in self.pools:
            f //= pf
            bins.append(f)
        return bins

    def feature_dim(self, n_mels: int) -> int:
        """``D``, the frame embedding size the pooling head sees."""
        if self.embedding_dim is not None:
            return self.embedding_dim
        return self.block_channels[-1] * self.freq_bins(n_mels)[-1]


PROFESSIONAL_TEACHER = ConvNetConfig()
PROMISING_STUDENT = ConvNetConfig(
    channels=(160, 160, 160),
    convs_per_block=(1, 1, 1),
    kernel_sizes=((5, 5), (5, 5), (3, 3)),
    pools=((1, 4), (1, 4), (1, 4)),
    dropout=0.3,
)


class ConvBlock(nn.Module):
    """``[Conv2d('same') - BatchNorm2d - ReLU] x n`` then ``MaxPool2d(pool)``; input ``(B, C, T, F)``."""

    def __init__(self, in_channels: int, out_channels: int, n_convs: int, kernel: tuple[int, int],
                 pool: tuple[int, int], bn_eps: float, bn_momentum: float):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(n_convs):
            layers += [
                nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, tuple(kernel), padding="same"),
                nn.BatchNorm2d(out_channels, eps=bn_eps, momentum=bn_momentum),
                nn.ReLU(inplace=True),
            ]
        self.convs = nn.Sequential(*layers)
        self.pool = nn.MaxPool2d(tuple(pool)) if tuple(pool) != (1, 1) else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C_in, T, F) -> (B, C_out, T // pool_t, F // pool_f)``."""
        return self.pool(self.convs(x))

    def forward_fused(self, x: Tensor) -> Tensor:
        """The same block on a channels-last map in training mode, batch norm + ReLU fused
        (:func:`~jointsed.models.fused.batch_norm_train`); equal to :meth:`forward` up to float
        round-off, and channels-last out."""
        layers = list(self.convs)
        for conv, bn in zip(layers[0::3], layers[1::3]):
            x = conv_batch_norm(x, conv, bn, relu=True)
        return self.pool(x)


class GuidedLearningCNN(nn.Module):
    """CNN + disentangled attention pooling (Lin et al.'s PT / PS).

    Args:
        config: architecture (:class:`ConvNetConfig`).
        n_mels: number of input mel bands ``F``.
        n_classes: ``C``.
        pooling_dims: disentangled dims ``k_c`` per class (see
            :func:`~jointsed.models.pooling.disentangled_dims`); ``None`` = all ``D`` dims.

    Forward: ``x: (B, T, F)`` log-mel -> :class:`SEDOutput` with ``clip (B, C)``,
    ``frame (B, T, C)``, ``frame_logits (B, T', C)`` with ``T' = ceil(T / time_pooling)``,
    ``features`` = each block's pooled map ``(B, C_l, T_l, F_l)`` (before dropout), and
    ``embedding (B, T', D)`` (after dropout, as fed to the pooling head).
    """

    def __init__(self, config: ConvNetConfig, n_mels: int, n_classes: int,
                 pooling_dims: Optional[Sequence[int]] = None):
        super().__init__()
        config.validate()
        bins = config.freq_bins(n_mels)
        if bins[-1] < 1:
            raise ConfigError(
                f"pools: {n_mels} mel bands are pooled away (frequency bins per block: {bins}); "
                "use more bands or smaller frequency pools"
            )
        self.config = config
        self.n_mels = n_mels
        self.n_classes = n_classes
        self.time_pooling = config.time_pooling
        self.feature_channels: list[int] = config.block_channels
        self.input_norm = InputNormalization(config.input_norm, n_mels, config.bn_eps, config.bn_momentum)
        blocks, in_ch = [], 1
        for out_ch, n, k, p in zip(self.feature_channels, config.convs_per_block, config.kernel_sizes, config.pools):
            blocks.append(ConvBlock(in_ch, out_ch, n, k, p, config.bn_eps, config.bn_momentum))
            in_ch = out_ch
        self.blocks = nn.ModuleList(blocks)
        self.dropout = ByteMaskDropout(config.dropout)
        flat_dim = self.feature_channels[-1] * bins[-1]
        if config.embedding_dim is None:
            self.projection: nn.Module = nn.Identity()
        else:
            self.projection = nn.Sequential(nn.Linear(flat_dim, config.embedding_dim), nn.ReLU(inplace=True))
        self.feature_dim = config.feature_dim(n_mels)
        self.pooling = DisentangledAttentionPooling(self.feature_dim, n_classes, pooling_dims)

    @property
    def class_dims(self) -> list[int]:
        """The disentangled dims ``k_c`` used by the pooling head."""
        return list(self.pooling.dims)

    def forward(self, x: Tensor) -> SEDOutput:
        check_input(x, self.n_mels, type(self).__name__)
        n_frames = x.shape[1]
        h = pad_time(self.input_norm(x), self.time_pooling).unsqueeze(1)  # (B, 1, T_pad, F)
        fused = self.training and h.device.type == "cpu" and fused_training_enabled()
        if fused:  # channels-last maps, batch norm + ReLU fused (jointsed.models.fused)
            h = h.contiguous(memory_format=torch.channels_last)
        features = []
        for block in self.blocks:
            h = block.forward_fused(h) if fused else block(h)
            features.append(h)
            h = self.dropout(h)
        embedding = self.projection(flatten_frames(h))  # (B, T', D)
        out = self.pooling(embedding)
        return SEDOutput(
            clip=out.clip_probs,
            frame=upsample_frames(out.frame_probs, self.time_pooling, n_frames),
            frame_logits=out.frame_logits,
            features=features,
            embedding=embedding,
            clip_logits=out.clip_logits,
            time_pooling=self.time_pooling,
        )


def _build(base: ConvNetConfig, n_classes: int, n_mels: int,
           class_ratios: Optional[Sequence[float]], overrides: dict[str, Any]) -> GuidedLearningCNN:
    config = from_dict(ConvNetConfig, {**dataclasses.asdict(base), **overrides})
    dims = None
    if class_ratios is not None:
        if len(class_ratios) != n_classes:
            raise PoolingError(f"got {len(class_ratios)} class ratios for {n_classes} classes")
        dims = disentangled_dims(class_ratios, config.feature_dim(n_mels))
    return GuidedLearningCNN(config, n_mels, n_classes, dims)


def professional_teacher(n_classes: int, n_mels: int = 64,
                         class_ratios: Optional[Sequence[float]] = None, **overrides: Any) -> GuidedLearningCNN:
    """Lin et al.'s professional teacher (PT): 5 blocks, 500 x 64 input -> 5 frames x 512 dims.

    Args:
        n_classes: ``C``.
        n_mels: input mel bands.
        class_ratios: ``r_c`` for the disentangled dims (:func:`single_class_ratios`);
            ``None`` = every class uses all ``D`` dims.
        **overrides: any :class:`ConvNetConfig` field, e.g. ``width=0.5`` or ``dropout=0.0``
            (validated like a config file: unknown key / wrong type -> ``ConfigError``).
    """
    return _build(PROFESSIONAL_TEACHER, n_classes, n_mels, class_ratios, overrides)


def promising_student(n_classes: int, n_mels: int = 64,
                      class_ratios: Optional[Sequence[float]] = None, **overrides: Any) -> GuidedLearningCNN:
    """Lin et al.'s promising student (PS): 3 x [conv 160], 500 x 64 input -> 500 frames x 160 dims.

    Same arguments as :func:`professional_teacher`; a CPU-sized variant is e.g.
    ``promising_student(10, channels=(64, 64, 64))`` (500 frames x 64 dims).
    """
    return _build(PROMISING_STUDENT, n_classes, n_mels, class_ratios, overrides)
