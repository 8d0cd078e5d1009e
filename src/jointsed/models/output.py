"""The common output of every SED network in jointsed.

Every network maps a batch of log-mel spectrograms ``x: (B, T, F)`` to a :class:`SEDOutput`, so the
training systems, losses and inference code never depend on which network produced it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Optional

import torch
from torch import Tensor


@dataclass
class SEDOutput:
    """Predictions and intermediate representations of one forward pass.

    Attributes:
        clip: ``(B, C)`` clip-level (audio tagging) probabilities in [0, 1].
        frame: ``(B, T, C)`` frame-level probabilities at the INPUT frame rate (``T`` = number of
            input frames). Networks that pool time repeat each output frame over the input frames
            it covers (nearest-neighbour upsampling) and crop to ``T``.
        frame_logits: ``(B, T', C)`` frame logits at the network's own frame rate ``T'``
            (``T' = ceil(T / time_pooling)``); ``sigmoid(frame_logits)`` upsampled is ``frame``.
        features: intermediate feature maps, one per convolutional block, each
            ``(B, C_l, T_l, F_l)`` (channels, time, frequency); used for deep feature distillation.
        embedding: ``(B, T', D)`` the frame embeddings the pooling head sees.
        clip_logits: ``(B, C)`` clip logits when the head has them (disentangled attention
            pooling), ``None`` when the clip probability is not a sigmoid of a logit (the CRNN's
            attention-weighted mean of frame probabilities). Lets losses work from logits.
        time_pooling: input frames per output frame (``frame`` repeats each of ``frame_logits``'
            frames this many times).
    """

    clip: Tensor
    frame: Tensor
    frame_logits: Tensor
    features: list[Tensor] = field(default_factory=list)
    embedding: Optional[Tensor] = None
    clip_logits: Optional[Tensor] = None
    time_pooling: int = 1

    def upsampled_frame_logits(self) -> Tensor:
        """``(B, T, C)`` frame logits at the input frame rate: ``sigmoid`` of it is ``frame``."""
        return upsample_frames(self.frame_logits, self.time_pooling, self.frame.shape[1])

    def float_clip(self) -> "SEDOutput":
        """The clip probabilities and logits in float32 (losses run outside autocast); the other
        fields are passed through unchanged."""
        return dataclasses.replace(
            self, clip=self.clip.float(), clip_logits=None if self.clip_logits is None else self.clip_logits.float()
        )

    def detach(self) -> "SEDOutput":
        """A copy whose tensors are detached from the autograd graph (e.g. teacher targets)."""
        return SEDOutput(
            clip=self.clip.detach(),
            frame=self.frame.detach(),
            frame_logits=self.frame_logits.detach(),
            features=[f.detach() for f in self.features],
            embedding=None if self.embedding is None else self.embedding.detach(),
            clip_logits=None if self.clip_logits is None else self.clip_logits.detach(),
            time_pooling=self.time_pooling,
        )

    def to(self, *args, **kwargs) -> "SEDOutput":
        """Move/cast every tensor like :meth:`torch.Tensor.to`."""
        def move(t: Optional[Tensor]) -> Optional[Tensor]:
            return None if t is None else t.to(*args, **kwargs)

        return dataclasses.replace(
            self,
            clip=move(self.clip),
            frame=move(self.frame),
            frame_logits=move(self.frame_logits),
            features=[move(f) for f in self.features],
            embedding=move(self.embedding),
            clip_logits=move(self.clip_logits),
        )


def upsample_frames(frames: Tensor, factor: int, n_frames: int) -> Tensor:
    """Nearest-neighbour upsampling of frame outputs back to the input frame rate.

    Args:
        frames: ``(B, T', C)`` values at the network's frame rate.
        factor: total time pooling of the network (input frames per output frame).
        n_frames: number of input frames ``T`` (``<= T' * factor``).

    Returns:
        ``(B, T, C)``: output frame ``t'`` repeated over input frames
        ``[t' * factor, (t' + 1) * factor)``, cropped to ``T``.
    """
    if factor == 1:
        return frames[:, :n_frames]
    return torch.repeat_interleave(frames, factor, dim=1)[:, :n_frames]
