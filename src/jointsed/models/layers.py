"""Small building blocks shared by the networks: input normalisation and time padding."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from jointsed.errors import JointsedError

InputNorm = Literal["batch", "instance", "none"]


class ModelInputError(JointsedError, ValueError):
    """The input given to a network does not have the shape the network was built for."""


def check_input(x: Tensor, n_mels: int, model: str) -> None:
    """Raise :class:`ModelInputError` unless ``x`` is ``(B, T, n_mels)`` with ``T >= 1``."""
    if x.dim() != 3 or x.shape[-1] != n_mels or x.shape[1] < 1:
        raise ModelInputError(
            f"{model}: expected log-mel input of shape (batch, frames, {n_mels}), "
            f"got {tuple(x.shape)}"
        )


class InputNormalization(nn.Module):
    """Normalise log-mel input ``(B, T, F)``.

    Modes:
        ``"batch"``: batch normalisation per mel band (Lin et al.'s input BatchNormalization layer).
        ``"instance"``: per-clip min-max scaling over time and frequency to [0, 1]
            (the DCASE baseline's ``TorchScaler("instance", "minmax", dims=(1, 2))``).
        ``"none"``: identity (features already normalised upstream).
    """

    def __init__(self, mode: InputNorm, n_mels: int, eps: float = 1e-3, momentum: float = 0.01):
        super().__init__()
        if mode not in ("batch", "instance", "none"):
            raise ValueError(f"input normalisation must be batch, instance or none, got {mode!r}")
        self.mode = mode
        self.eps = eps
        self.norm = nn.BatchNorm1d(n_mels, eps=eps, momentum=momentum) if mode == "batch" else None

    def forward(self, x: Tensor) -> Tensor:
        """``(B, T, F) -> (B, T, F)``."""
        if self.mode == "batch":
            return self.norm(x.transpose(1, 2)).transpose(1, 2)
        if self.mode == "instance":
            lo = x.amin(dim=(1, 2), keepdim=True)
            hi = x.amax(dim=(1, 2), keepdim=True)
            return (x - lo) / (hi - lo + 1e-8)
        return x


def pad_time(x: Tensor, multiple: int) -> Tensor:
    """Pad ``x: (B, T, F)`` at the end of time to a multiple of ``multiple`` frames.

    The padding repeats the last frame (edge replication), so that a clip whose length is not a
    multiple of the network's time pooling keeps its last partial block instead of losing it
    (floor pooling) or mixing in artificial silence. Returns ``(B, ceil(T/multiple)*multiple, F)``.
    """
    remainder = x.shape[1] % multiple
    if remainder == 0:
        return x
    pad = multiple - remainder
    return torch.cat([x, x[:, -1:].expand(-1, pad, -1)], dim=1)


def flatten_frames(maps: Tensor) -> Tensor:
    """``(B, C, T, F) -> (B, T, F*C)`` frequency-major, as Keras' channels-last reshape in Lin et al.

    Feature ``d = f * C + c`` is channel ``c`` of frequency bin ``f``; the disentangled pooling's
    "first k_c dimensions" therefore follow Lin et al.'s ordering.
    """
    b, c, t, f = maps.shape
    return maps.permute(0, 2, 3, 1).reshape(b, t, f * c)


