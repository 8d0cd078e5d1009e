"""The DCASE Task 4 baseline CRNN (mean-teacher baseline, DCASE 2019-2022).

Reference: Turpault, Serizel, Parag Shah & Salamon, "Sound event detection in domestic environments
with weakly labeled data and soundscape synthesis", DCASE 2019 Workshop; architecture as in the
DESED_task recipe (github.com/DCASE-REPO/DESED_task, ``desed_task/nnet/CRNN.py``):

- 7 conv blocks, channels 16-32-64-128-128-128-128, 3x3 kernels, each
  ``Conv2d -> BatchNorm2d -> GLU -> Dropout(0.5) -> AvgPool2d``; the GLU is the baseline's
  ``linear(x) * sigmoid(x)`` over channels (a 1x1 convolution gated by the sigmoid of its input);
- 2-layer bidirectional GRU with 128 units, dropout 0.5, a dense layer + sigmoid for the frame
  (strong) output and the class-softmax attention pooling for the clip (weak) output
  (:class:`~jointsed.models.pooling.AttentionPooling`).

Frequency pooling: the baseline uses 128 mel bands and 7 frequency pools of 2 (128 -> 1). Our
default input has 64 bands, so by default (``freq_pools=None``) each block halves frequency while
more than one bin is left and the remaining blocks do not pool frequency (64 bands: pools
2,2,2,2,2,2,1). If bins remain after the last block (explicit pools, or a band count that is not a
more than 2^7 = 128 bands), channels x bins are flattened into the GRU input, as the baseline
does. Time pools 2,2,1,1,1,1,1 (x4): 500 input frames -> 125 GRU frames; the frame output is
upsampled back to the input rate. Inputs whose length is not a multiple of 4 are padded at the end
by repeating the last frame, then the output is cropped.

BatchNorm: the baseline builds ``BatchNorm2d(eps=0.001, momentum=0.99)``; in PyTorch's convention
that momentum makes the running statistics follow the latest batch almost entirely. We keep that
default for fidelity (``bn_momentum``); set 0.01 for a conventional slow running average.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, Optional

import torch
from torch import Tensor, nn

from jointsed.config import ConfigError, from_dict
from jointsed.models.fused import ByteMaskDropout, conv_batch_norm, fused_training_enabled
from jointsed.models.gru import bidirectional_gru
from jointsed.models.layers import InputNorm, InputNormalization, check_input, flatten_frames, pad_time
from jointsed.models.output import SEDOutput, upsample_frames
from jointsed.models.pooling import AttentionPooling, LinearSoftmaxPooling, PoolingOutput


@dataclass
class CRNNConfig:
    """Architecture of the DCASE baseline CRNN (defaults: the DESED_task 2021/2022 baseline).

    Attributes:
        channels: conv channels per block (before ``width`` scaling).
        kernel_size: square kernel of every conv (padding keeps the size).
        time_pools: time pooling per block.
        freq_pools: frequency pooling per block; ``None`` = automatic (halve while > 1 bin).
        dropout: dropout after each conv block and after the GRU (baseline: 0.5).
        width: channel multiplier for conv channels (``max(1, round(c * width))``).
        rnn_hidden: GRU units per direction (baseline: 128).
        rnn_layers: GRU layers (baseline: 2).
        rnn_dropout: dropout between GRU layers (baseline: 0).
        clip_pooling: "attention" (baseline), "linear_softmax" or "mean".
        input_norm: "instance" (baseline's per-clip min-max scaler), "batch" or "none".
        bn_eps, bn_momentum: BatchNorm2d settings of the conv blocks (baseline: 1e-3, 0.99).
    """

    channels: tuple[int, ...] = (16, 32, 64, 128, 128, 128, 128)
    kernel_size: int = 3
    time_pools: tuple[int, ...] = (2, 2, 1, 1, 1, 1, 1)
    freq_pools: Optional[tuple[int, ...]] = None
    dropout: float = 0.5
    width: float = 1.0
    rnn_hidden: int = 128
    rnn_layers: int = 2
    rnn_dropout: float = 0.0
    clip_pooling: Literal["attention", "linear_softmax", "mean"] = "attention"
    input_norm: InputNorm = "instance"
    bn_eps: float = 1e-3
    bn_momentum: float = 0.99

    def validate(self) -> None:
        n = len(self.channels)
        if n == 0 or any(c < 1 for c in self.channels):
            raise ConfigError(f"channels: need at least one block, all >= 1, got {list(self.channels)}")
        if len(self.time_pools) != n:
            raise ConfigError(f"time_pools: {len(self.time_pools)} entries but channels has {n} blocks")
        if self.freq_pools is not None and len(self.freq_pools) != n:
            raise ConfigError(f"freq_pools: {len(self.freq_pools)} entries but channels has {n} blocks")
        if any(p < 1 for p in self.time_pools) or any(p < 1 for p in (self.freq_pools or ())):
            raise ConfigError("time_pools/freq_pools: must be >= 1")
        if self.kernel_size < 1:
            raise ConfigError(f"kernel_size: must be >= 1, got {self.kernel_size}")
        if not 0.0 <= self.dropout < 1.0 or not 0.0 <= self.rnn_dropout < 1.0:
            raise ConfigError("dropout/rnn_dropout: must be in [0, 1)")
        if self.width <= 0:
            raise ConfigError(f"width: must be > 0, got {self.width}")
        if self.rnn_hidden < 1 or self.rnn_layers < 1:
            raise ConfigError("rnn_hidden/rnn_layers: must be >= 1")
        if self.clip_pooling not in ("attention", "linear_softmax", "mean"):
            raise ConfigError(
                f"clip_pooling: must be one of 'attention', 'linear_softmax', 'mean', got {self.clip_pooling!r}"
            )

    @property
    def block_channels(self) -> list[int]:
        return [max(1, int(round(c * self.width))) for c in self.channels]

    @property
    def time_pooling(self) -> int:
        out = 1
        for p in self.time_pools:
            out *= p
        return out

    def resolved_freq_pools(self, n_mels: int) -> list[int]:
        """Frequency pools per block for ``n_mels`` bands (automatic when ``freq_pools`` is None)."""
        if self.freq_pools is not None:
            return list(self.freq_pools)
        pools, f = [], n_mels
        for _ in self.channels:
            pools.append(2 if f > 1 else 1)
            f = f // 2 if f > 1 else f
        return pools

    def freq_bins(self, n_mels: int) -> int:
        """Frequency bins left after the last block (floor pooling)."""
        f = n_mels
        for p in self.resolved_freq_pools(n_mels):
            f //= p
        return f


class GLU(nn.Module):
    """Gated linear unit over channels, DCASE-baseline style: ``conv1x1(x) * sigmoid(x)``."""

    def __init__(self, channels: int):
        super().__init__()
        self.linear = nn.Conv2d(channels, channels, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C, T, F) -> (B, C, T, F)``."""
        return self.linear(x) * x.sigmoid()


class GLUConvBlock(nn.Module):
    """``Conv2d -> BatchNorm2d -> GLU -> Dropout -> AvgPool2d((time, freq))``; input ``(B, C, T, F)``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, pool: tuple[int, int],
                 dropout: float, bn_eps: float, bn_momentum: float):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding="same")
        self.bn = nn.BatchNorm2d(out_channels, eps=bn_eps, momentum=bn_momentum)
        self.glu = GLU(out_channels)
        self.dropout = ByteMaskDropout(dropout)
        self.pool = nn.AvgPool2d(pool) if pool != (1, 1) else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(self.dropout(self.glu(self.bn(self.conv(x)))))

    def forward_fused(self, x: Tensor) -> Tensor:
        """The same block on a channels-last map in training mode, convolution + batch norm fused
        (:func:`~jointsed.models.fused.conv_batch_norm`); equal to :meth:`forward` up to float
        round-off (dropout aside), channels-last out."""
        h = conv_batch_norm(x, self.conv, self.bn, relu=False)
        linear = self.glu.linear
        gate = nn.functional.conv2d(h, linear.weight.contiguous(memory_format=torch.channels_last), linear.bias)
        return self.pool(self.dropout(gate * h.sigmoid()))


class _MeanPooling(nn.Module):
    """Clip probability = mean of frame probabilities over time (baseline with attention=False)."""

    def __init__(self, feature_dim: int, n_classes: int):
        super().__init__()
        self.strong = nn.Linear(feature_dim, n_classes)

    def forward(self, x: Tensor) -> PoolingOutput:
        logits = self.strong(x)
        probs = logits.sigmoid()
        return PoolingOutput(logits, probs, probs.mean(dim=1), None)


class CRNN(nn.Module):
    """DCASE Task 4 baseline CRNN.

    Args:
        config: :class:`CRNNConfig`.
        n_mels: input bands ``F``.
        n_classes: ``C``.

    Forward: ``x: (B, T, F)`` -> :class:`SEDOutput` with ``clip (B, C)``, ``frame (B, T, C)``,
    ``frame_logits (B, T', C)`` (``T' = ceil(T / 4)`` by default), ``features`` = each conv
    block's output ``(B, C_l, T_l, F_l)`` (after GLU, dropout and pooling, as in the baseline's
    ``nn.Sequential``), ``embedding (B, T', 2 * rnn_hidden)`` (BiGRU output).
    """

    def __init__(self, config: CRNNConfig, n_mels: int, n_classes: int):
        super().__init__()
        config.validate()
        freq_pools = config.resolved_freq_pools(n_mels)
        bins = config.freq_bins(n_mels)
        if bins < 1:
            raise ConfigError(f"freq_pools: {n_mels} mel bands are pooled away by pools {freq_pools}")
        self.config = config
        self.n_mels = n_mels
        self.n_classes = n_classes
        self.time_pooling = config.time_pooling
        self.feature_channels: list[int] = config.block_channels
        self.input_norm = InputNormalization(config.input_norm, n_mels)
        blocks, in_ch = [], 1
        for out_ch, pt, pf in zip(self.feature_channels, config.time_pools, freq_pools):
            blocks.append(GLUConvBlock(in_ch, out_ch, config.kernel_size, (pt, pf), config.dropout,
                                       config.bn_eps, config.bn_momentum))
            in_ch = out_ch
        self.blocks = nn.ModuleList(blocks)
        self.rnn = nn.GRU(self.feature_channels[-1] * bins, config.rnn_hidden, num_layers=config.rnn_layers,
                          batch_first=True, bidirectional=True,
                          dropout=config.rnn_dropout if config.rnn_layers > 1 else 0.0)
        self.dropout = ByteMaskDropout(config.dropout)
        self.feature_dim = 2 * config.rnn_hidden
        head = {"attention": AttentionPooling, "linear_softmax": LinearSoftmaxPooling, "mean": _MeanPooling}
        self.pooling = head[config.clip_pooling](self.feature_dim, n_classes)

    def forward(self, x: Tensor) -> SEDOutput:
        check_input(x, self.n_mels, type(self).__name__)
        n_frames = x.shape[1]
        h = pad_time(self.input_norm(x), self.time_pooling).unsqueeze(1)  # (B, 1, T_pad, F)
        fused = self.training and h.device.type == "cpu" and fused_training_enabled()
        if fused:  # channels-last maps, convolution + batch norm fused (jointsed.models.fused)
            h = h.contiguous(memory_format=torch.channels_last)
        features = []
        for block in self.blocks:
            h = block.forward_fused(h) if fused else block(h)
            features.append(h)
        h = flatten_frames(h)  # (B, T', 2 * hidden) after the GRU; fast training GRU: jointsed.models.gru
        h = bidirectional_gru(h, self.rnn) if fused else self.rnn(h)[0]
        embedding = self.dropout(h)
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


def crnn(n_classes: int, n_mels: int = 64, **overrides: Any) -> CRNN:
    """The DCASE baseline CRNN; ``**overrides`` are :class:`CRNNConfig` fields (validated).

    CPU-sized variant: ``crnn(10, width=0.5, rnn_hidden=64)``.
    """
    config = from_dict(CRNNConfig, {**dataclasses.asdict(CRNNConfig()), **overrides})
    return CRNN(config, n_mels, n_classes)
