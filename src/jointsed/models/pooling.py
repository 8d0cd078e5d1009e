"""Temporal pooling heads: frame embeddings ``(B, T, D)`` -> frame and clip predictions.

- :class:`DisentangledAttentionPooling`: embedding-level attention pooling with disentangled
  features, as in Lin, Wang, Liu & Li, "Guided learning for weakly-labeled semi-supervised sound
  event detection" (ICASSP 2020; DCASE 2019 Task 4 winner) and Lin et al., "Specialized decision
  surface and disentangled feature for weakly-supervised polyphonic sound event detection"
  (IEEE/ACM TASLP 2020). Class ``c`` only sees the first ``k_c`` feature dimensions.
- :class:`AttentionPooling`: the DCASE Task 4 baseline CRNN head (Turpault et al., DCASE 2019
  baseline; DESED_task): frame probabilities weighted by a softmax over classes, averaged in time.
- :class:`LinearSoftmaxPooling`: clip = sum_t p^2 / sum_t p (Wang, Li & Metze, ICASSP 2019).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple, Optional

import torch
from torch import Tensor, nn

from jointsed.errors import JointsedError


class PoolingError(JointsedError, ValueError):
    """Invalid disentangled-feature configuration (class ratios, dimensions, labels)."""


class PoolingOutput(NamedTuple):
    """What a pooling head returns.

    frame_logits: ``(B, T, C)``; frame_probs: ``(B, T, C)``; clip_probs: ``(B, C)``;
    clip_logits: ``(B, C)`` or ``None`` when the clip probability is not a sigmoid of a logit.
    """

    frame_logits: Tensor
    frame_probs: Tensor
    clip_probs: Tensor
    clip_logits: Optional[Tensor]


#: smallest disentangled head: a class with one or two dims cannot learn (DESIGN section 1)
MIN_CLASS_DIMS = 8


def disentangled_dims(class_ratios: Sequence[float], feature_dim: int, min_dims: int = MIN_CLASS_DIMS) -> list[int]:
    """Per-class disentangled feature dimensions ``k_c = max(floor(D * (0.96 r_c + 0.04)), min(D, min_dims))``.

    Args:
        class_ratios: ``r_c`` in [0, 1] per class (see :func:`single_class_ratios`).
        feature_dim: ``D``, the embedding dimension.
        min_dims: floor of ``k_c`` (capped at ``D``): at small widths Lin's formula gives rare
            classes one or two dims, and such a head stays dead (measured: frame-logit std 0.002
            after 20 epochs at ``D = 32``). Lin's full-size PS (``D = 160``) gets 6 for ``r_c = 0``.

    Returns:
        ``[k_1, ..., k_C]`` with ``min(D, min_dims) <= k_c <= D``.

    Reference: Lin et al., TASLP 2020 (disentangled feature), used by guided learning (DCASE 2019).
    """
    if feature_dim < 1:
        raise PoolingError(f"feature_dim must be >= 1, got {feature_dim}")
    dims = []
    for c, r in enumerate(class_ratios):
        r = float(r)
        if not (0.0 <= r <= 1.0) or math.isnan(r):
            raise PoolingError(f"class ratio {c} must be in [0, 1], got {r}")
        # The small epsilon keeps exact products (e.g. 160 * 1.0) from flooring one below.
        k = int(math.floor(feature_dim * (0.96 * r + 0.04) + 1e-9))
        dims.append(min(feature_dim, max(1, min_dims, k)))
    return dims


def single_class_ratios(label_sets: Iterable[Sequence[str]], classes: Sequence[str]) -> list[float]:
    """Ratios ``r_c`` = (# clips whose ONLY label is c) / (max of that count over classes).

    Args:
        label_sets: the weak labels of each labelled clip (duplicates within a clip are ignored).
        classes: class names, in model output order.

    Returns:
        ``[r_1, ..., r_C]`` in [0, 1]; the most frequent single-label class gets 1. When no clip has
        exactly one label, every ratio is 1.0 (every class uses the whole embedding, i.e. no
        disentanglement) rather than dividing by zero. Classes without single-label clips get 0
        (``k_c = floor(0.04 D)``, raised to the floor of :func:`disentangled_dims`).

    Raises:
        PoolingError: a clip names a label that is not in ``classes``.
    """
    index = {name: i for i, name in enumerate(classes)}
    counts = [0] * len(classes)
    for labels in label_sets:
        unique = set(labels)
        unknown = sorted(unique - set(index))
        if unknown:
            raise PoolingError(f"label {unknown[0]!r} is not one of the classes {list(classes)}")
        if len(unique) == 1:
            counts[index[next(iter(unique))]] += 1
    top = max(counts, default=0)
    if top == 0:
        return [1.0] * len(classes)
    return [n / top for n in counts]


class DisentangledAttentionPooling(nn.Module):
    """Embedding-level attention pooling with disentangled features (Lin et al., DCASE 2019).

    For class ``c`` with ``k_c`` dims and frame embeddings ``x_t`` (``t = 1..T``):

    - frame logit ``z_ct = w_c . x_t[:k_c] + b_c``; frame probability ``sigmoid(z_ct)``;
    - attention ``a_ct = softmax_t(z_ct / k_c)``;
    - clip embedding ``h_c = sum_t a_ct x_t[:k_c]``; clip probability ``sigmoid(v_c . h_c + d_c)``.

    All classes are computed at once with weight matrices masked to each class's first ``k_c``
    dims (masked entries never receive gradient). Since ``v_c . h_c = sum_t a_ct (v_c . x_t)``,
    the clip logit is computed without materialising ``(B, C, D)`` clip embeddings.

    As in Lin et al.'s code, the frame (attention) weights ``w_c, b_c`` start at zero (uniform
    attention, frame probability 0.5); the clip classifier ``v_c, d_c`` starts uniform in
    ``+-1/sqrt(k_c)`` (PyTorch's ``nn.Linear`` rule applied per class).

    Args:
        feature_dim: ``D``.
        n_classes: ``C``.
        dims: ``[k_1, ..., k_C]``; ``None`` = ``D`` for every class (no disentanglement).
    """

    def __init__(self, feature_dim: int, n_classes: int, dims: Optional[Sequence[int]] = None):
        super().__init__()
        if dims is None:
            dims = [feature_dim] * n_classes
        dims = [int(k) for k in dims]
        if len(dims) != n_classes:
            raise PoolingError(f"got {len(dims)} disentangled dims for {n_classes} classes")
        bad = [k for k in dims if not 1 <= k <= feature_dim]
        if bad:
            raise PoolingError(f"disentangled dims must be in [1, {feature_dim}], got {bad[0]}")
        self.feature_dim = feature_dim
        self.n_classes = n_classes
        self.dims = dims
        k = torch.tensor(dims, dtype=torch.float32)
        mask = (torch.arange(feature_dim)[None, :] < k[:, None]).float()  # (C, D)
        self.register_buffer("dim_mask", mask, persistent=False)
        self.register_buffer("temperature", k, persistent=False)
        # Saved in checkpoints so that loading into a model built with other dims fails loudly.
        self.register_buffer("class_dims", torch.tensor(dims, dtype=torch.long))
        self.frame_weight = nn.Parameter(torch.zeros(n_classes, feature_dim))
        self.frame_bias = nn.Parameter(torch.zeros(n_classes))
        bound = 1.0 / torch.sqrt(k)
        self.clip_weight = nn.Parameter((torch.rand(n_classes, feature_dim) * 2 - 1) * bound[:, None] * mask)
        self.clip_bias = nn.Parameter((torch.rand(n_classes) * 2 - 1) * bound)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        saved = state_dict.get(prefix + "class_dims")
        if saved is not None and saved.tolist() != self.dims:
            raise PoolingError(
                f"checkpoint's disentangled dims {saved.tolist()} differ from this model's "
                f"{self.dims}: build the model with the class ratios/dims it was trained with"
            )
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        return f"feature_dim={self.feature_dim}, n_classes={self.n_classes}, dims={self.dims}"

    def forward(self, x: Tensor) -> PoolingOutput:
        """``x: (B, T, D)`` -> frame logits/probs ``(B, T, C)``, clip probs/logits ``(B, C)``."""
        frame_logits = x @ (self.frame_weight * self.dim_mask).t() + self.frame_bias  # (B, T, C)
        attention = torch.softmax(frame_logits / self.temperature, dim=1)  # over time
        clip_scores = x @ (self.clip_weight * self.dim_mask).t()  # (B, T, C): v_c . x_t[:k_c]
        clip_logits = (attention * clip_scores).sum(dim=1) + self.clip_bias
        return PoolingOutput(frame_logits, torch.sigmoid(frame_logits), torch.sigmoid(clip_logits), clip_logits)


class AttentionPooling(nn.Module):
    """DCASE Task 4 baseline head (DESED_task ``CRNN`` with ``attention=True``).

    ``strong = sigmoid(W_s x_t)``; ``att = clamp(softmax_classes(W_a x_t), 1e-7, 1)`` (softmax
    over CLASSES, per frame); ``clip_c = sum_t strong_ct att_ct / sum_t att_ct``.

    Args:
        feature_dim: ``D`` (e.g. 256 for the BiGRU output).
        n_classes: ``C``.
    """

    def __init__(self, feature_dim: int, n_classes: int):
        super().__init__()
        self.strong = nn.Linear(feature_dim, n_classes)
        self.attention = nn.Linear(feature_dim, n_classes)

    def forward(self, x: Tensor) -> PoolingOutput:
        """``x: (B, T, D)`` -> frame logits/probs ``(B, T, C)``, clip probs ``(B, C)``."""
        frame_logits = self.strong(x)
        frame_probs = torch.sigmoid(frame_logits)
        att = torch.softmax(self.attention(x), dim=-1).clamp(min=1e-7, max=1.0)
        clip = (frame_probs * att).sum(dim=1) / att.sum(dim=1)
        return PoolingOutput(frame_logits, frame_probs, clip, None)


class LinearSoftmaxPooling(nn.Module):
    """Linear-softmax pooling: ``clip_c = sum_t p_ct^2 / sum_t p_ct`` (Wang et al., ICASSP 2019)."""

    def __init__(self, feature_dim: int, n_classes: int, eps: float = 1e-7):
        super().__init__()
        self.strong = nn.Linear(feature_dim, n_classes)
        self.eps = eps

    def forward(self, x: Tensor) -> PoolingOutput:
        """``x: (B, T, D)`` -> frame logits/probs ``(B, T, C)``, clip probs ``(B, C)``."""
        frame_logits = self.strong(x)
        p = torch.sigmoid(frame_logits)
        clip = (p * p).sum(dim=1) / (p.sum(dim=1) + self.eps)
        return PoolingOutput(frame_logits, p, clip.clamp(0.0, 1.0), None)
