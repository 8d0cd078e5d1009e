"""Mean-teacher pieces of the DCASE Task 4 baseline: ramp-up, consistency, EMA and mixup.

References: Tarvainen & Valpola, "Mean teachers are better role models", NeurIPS 2017 (EMA
teacher, consistency cost, sigmoid ramp-up from Laine & Aila 2017); Zhang et al., "mixup: Beyond
empirical risk minimization", ICLR 2018; as used by the DCASE Task 4 baseline (DESED_task).
"""

from __future__ import annotations

from typing import Literal, Optional

import numpy as np
import torch
from scipy.special import betaincinv
from torch import Tensor, nn


def sigmoid_rampup(step: float, rampup_length: float) -> float:
    """``exp(-5 (1 - t)^2)`` with ``t = clip(step / rampup_length, 0, 1)``; 1.0 if the length is 0."""
    if rampup_length <= 0:
        return 1.0
    t = float(np.clip(step, 0.0, rampup_length)) / rampup_length
    return float(np.exp(-5.0 * (1.0 - t) ** 2))


def mean_teacher_consistency(student_probs: Tensor, teacher_probs: Tensor, mask: Optional[Tensor] = None) -> Tensor:
    """MSE between student and (detached) teacher probabilities, clip ``(B, C)`` or frame ``(B, T, C)``.

    ``mask`` (optional, ``(B,)``) restricts the mean to some clips (0 if none is selected).
    """
    if student_probs.shape != teacher_probs.shape:
        raise ValueError(f"student {tuple(student_probs.shape)} and teacher {tuple(teacher_probs.shape)} differ")
    squared = (student_probs - teacher_probs.detach()).pow(2)
    if mask is None:
        return squared.mean()
    rows = mask.to(torch.bool).reshape(-1)
    if not bool(rows.any()):
        return squared.sum() * 0.0
    return squared[rows].mean()


@torch.no_grad()
def update_ema(teacher_model: nn.Module, student_model: nn.Module, decay: float, step: Optional[int] = None) -> float:
    """In-place ``teacher <- decay * teacher + (1 - decay) * student`` for parameters AND buffers.

    Args:
        teacher_model: the EMA (mean) teacher; same architecture as the student.
        student_model: the trained student.
        decay: EMA decay (baseline: 0.999).
        step: global step; if given, the decay is ``min(decay, 1 - 1 / (step + 1))`` as in the
            baseline, so that early teachers follow the student closely.

    Floating-point buffers (BatchNorm running statistics) are averaged like parameters; other
    buffers (``num_batches_tracked``) are copied. Returns the decay used.
    """
    if step is not None:
        decay = min(decay, 1.0 - 1.0 / (step + 1))
    teacher_params = dict(teacher_model.named_parameters())
    for name, param in student_model.named_parameters():
        teacher_params[name].mul_(decay).add_(param.detach(), alpha=1.0 - decay)
    teacher_buffers = dict(teacher_model.named_buffers())
    for name, buf in student_model.named_buffers():
        target = teacher_buffers[name]
        if torch.is_floating_point(target):
            target.mul_(decay).add_(buf, alpha=1.0 - decay)
        else:
            target.copy_(buf)
    return decay


def mixup(
    features: Tensor,
    *targets: Tensor,
    alpha: float = 0.2,
    beta: float = 0.2,
    label_type: Literal["soft", "hard"] = "soft",
    generator: Optional[torch.Generator] = None,
) -> tuple[Tensor, ...]:
    """Mixup within a batch (part), as in the DCASE baseline.

    A single ``c ~ Beta(alpha, beta)`` and a random permutation ``perm`` of the batch are drawn;
    ``x' = c x + (1 - c) x[perm]``; targets are mixed the same way ("soft") or united
    (``clamp(y + y[perm], 0, 1)``, "hard"). Apply it to each labelled part of a batch separately
    (weak clips with weak targets, strong clips with strong targets), like the baseline.

    Args:
        features: ``(N, ...)`` inputs (e.g. ``(N, T, F)`` log-mels).
        *targets: any number of ``(N, ...)`` targets, mixed with the same ``c`` and ``perm``.
        alpha, beta: Beta distribution parameters (baseline 0.2, 0.2).
        label_type: "soft" or "hard".
        generator: torch generator for reproducibility (``c`` is drawn by inverse-CDF from a
            uniform of this generator); ``None`` = torch's global RNG.

    Returns:
        ``(mixed_features, *mixed_targets)``; no gradient flows through the mixing.
    """
    if label_type not in ("soft", "hard"):
        raise ValueError(f"label_type must be 'soft' or 'hard', got {label_type!r}")
    n = features.shape[0]
    for y in targets:
        if y.shape[0] != n:
            raise ValueError(f"targets with {y.shape[0]} items for {n} features")
    with torch.no_grad():
        u = float(torch.rand((), generator=generator))
        c = float(betaincinv(alpha, beta, u))
        perm = torch.randperm(n, generator=generator).to(features.device)
        mixed = [c * features + (1.0 - c) * features[perm]]
        for y in targets:
            if label_type == "soft":
                mixed.append((c * y + (1.0 - c) * y[perm]).clamp(0.0, 1.0))
            else:
                mixed.append((y + y[perm]).clamp(0.0, 1.0))
    return tuple(mixed)


__all__ = ["mean_teacher_consistency", "mixup", "sigmoid_rampup", "update_ema"]
