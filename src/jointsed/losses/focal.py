"""Binary focal loss and the adaptive focal loss (AFL).

Focal loss: Lin, Goyal, Girshick, He & Dollar, "Focal loss for dense object detection", ICCV 2017.
Adaptive focal loss: OUR formulation (jointsed DESIGN section 3) of the AFL named in the abstract
of Liang et al., "Joint framework with deep feature distillation and adaptive focal loss for
weakly supervised audio tagging and acoustic event detection" (arXiv 2103.12388); the paper's
exact formula is not available to us. Per class ``c`` with a running estimate ``F_c`` in [0, 1]
of how well the model already does on that class (a THRESHOLD-FREE score of the labelled
training clips it has just seen, e.g. the per-class average precision of its clip outputs over
the last epoch; see :class:`AdaptiveFocalLoss`):

    FL  = -[ y (1 - p)^gamma_c log p + (1 - y) p^gamma_c log(1 - p) ]
    w_c = K (1 - F_c)^eta / sum_k (1 - F_k)^eta,     gamma_c = gamma_0 (1 - F_c)

so classes the model still gets wrong weigh more and focus harder on hard examples. With
``gamma_0 = 0`` and ``eta = 0`` it is exactly binary cross-entropy. The training systems compute
it from logits (:func:`binary_focal_loss_with_logits`, log-sigmoid): a saturated wrong prediction
keeps its gradient, which the probability form (clamped) loses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Optional, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

Reduction = Literal["mean", "sum", "none"]


def _reduce(loss: Tensor, mask: Optional[Tensor], reduction: Reduction) -> Tensor:
    """Reduce an elementwise loss, optionally masked.

    ``mask`` is broadcast to ``loss.shape`` after appending trailing singleton axes, so a ``(B,)``
    mask selects whole clips of a ``(B, C)`` or ``(B, T, C)`` loss. "mean" = ``sum(m * loss) /
    sum(m broadcast to loss.shape)`` (a weighted mean over elements; 0 when the mask is empty),
    "sum" = ``sum(m * loss)``, "none" = ``m * loss``.
    """
    if mask is not None:
        mask = mask.to(loss.dtype)
        while mask.dim() < loss.dim():
            mask = mask.unsqueeze(-1)
        mask = mask.expand_as(loss)
        loss = loss * mask
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction != "mean":
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    if mask is None:
        return loss.mean()
    count = mask.sum()
    return loss.sum() / count.clamp(min=1e-12) if bool(count > 0) else loss.sum() * 0.0


def _as_class_tensor(value: Union[float, Sequence[float], Tensor], like: Tensor) -> Tensor:
    return torch.as_tensor(value, dtype=like.dtype, device=like.device)


def binary_focal_loss(
    probs: Tensor,
    targets: Tensor,
    gamma: Union[float, Sequence[float], Tensor] = 0.0,
    class_weights: Optional[Union[Sequence[float], Tensor]] = None,
    *,
    eps: float = 1e-7,
    mask: Optional[Tensor] = None,
    reduction: Reduction = "mean",
) -> Tensor:
    """Binary focal loss of probabilities.

    Args:
        probs: ``(..., C)`` probabilities; clamped to ``[eps, 1 - eps]`` so that the loss and its
            gradient stay finite at exactly 0 and 1 (the clamp's gradient there is 0).
        targets: ``(..., C)`` targets in [0, 1] (soft targets allowed, e.g. from mixup).
        gamma: focusing power, a scalar or per class ``(C,)``.
        class_weights: optional ``(C,)`` weight per class (multiplies the elementwise loss).
        eps: probability clamp.
        mask: optional, broadcast from the leading axes (e.g. ``(B,)``); see the reduction.
        reduction: "mean" (masked mean over elements), "sum" or "none" (elementwise).

    With ``gamma = 0`` and no weights this equals ``F.binary_cross_entropy`` for
    ``probs`` in ``[eps, 1 - eps]``.
    """
    p = probs.clamp(eps, 1.0 - eps)
    y = targets.to(p.dtype)
    g = _as_class_tensor(gamma, p)
    # Exact BCE when gamma == 0: x ** 0 == 1 exactly in PyTorch.
    loss = -(y * (1.0 - p).pow(g) * torch.log(p) + (1.0 - y) * p.pow(g) * torch.log1p(-p))
    if class_weights is not None:
        loss = loss * _as_class_tensor(class_weights, p)
    return _reduce(loss, mask, reduction)


def binary_focal_loss_with_logits(
    logits: Tensor,
    targets: Tensor,
    gamma: Union[float, Sequence[float], Tensor] = 0.0,
    class_weights: Optional[Union[Sequence[float], Tensor]] = None,
    *,
    mask: Optional[Tensor] = None,
    reduction: Reduction = "mean",
) -> Tensor:
    """Binary focal loss from logits (numerically stable: ``log p = logsigmoid(z)``).

    Same arguments as :func:`binary_focal_loss`; with ``gamma = 0`` it equals
    ``F.binary_cross_entropy_with_logits``.
    """
    y = targets.to(logits.dtype)
    g = _as_class_tensor(gamma, logits)
    log_p = F.logsigmoid(logits)
    log_not_p = F.logsigmoid(-logits)
    loss = -(y * torch.exp(g * log_not_p) * log_p + (1.0 - y) * torch.exp(g * log_p) * log_not_p)
    if class_weights is not None:
        loss = loss * _as_class_tensor(class_weights, logits)
    return _reduce(loss, mask, reduction)


class AdaptiveFocalLoss(nn.Module):
    """Adaptive focal loss with per-class weights and focusing from a running score (DESIGN section 3).

    Args:
        n_classes: ``C``.
        gamma0: base focusing power ``gamma_0`` (``gamma_c = gamma_0 (1 - F_c)``).
        eta: weight exponent ``eta`` (``w_c`` proportional to ``(1 - F_c)^eta``; 0 = uniform).
        momentum: EMA momentum: ``F_c <- momentum F_c + (1 - momentum) score_c``.
        K: weights sum to ``K`` (default ``C``, so uniform weights are all 1).
        eps: probability clamp of :func:`binary_focal_loss`.
        init_from_first: the first :meth:`update` sets ``F_c = score_c`` instead of averaging with
            the initial 0 (avoids a start-up bias towards hard classes).

    Buffers (saved in checkpoints): ``running_score (C,)`` (``F_c``), ``num_updates ()``.

    Call :meth:`from_logits` with ``(..., C)`` logits (preferred), or ``loss(probs, targets,
    mask=None)`` with probabilities. Before any update ``F_c = 0``: uniform weights,
    ``gamma_c = gamma_0``. The measurement fed to :meth:`update` must be threshold-free: a
    thresholded one (F1 at 0.5) is 0 for every class early in training, which makes ``gamma_c``
    and ``w_c`` constant (the first implementation's defect).
    """

    running_score: Tensor
    num_updates: Tensor

    def __init__(self, n_classes: int, gamma0: float = 2.0, eta: float = 1.0, momentum: float = 0.9,
                 K: Optional[float] = None, eps: float = 1e-7, init_from_first: bool = True):
        super().__init__()
        if n_classes < 1:
            raise ValueError(f"n_classes must be >= 1, got {n_classes}")
        if gamma0 < 0 or eta < 0 or not 0.0 <= momentum < 1.0:
            raise ValueError(f"need gamma0 >= 0, eta >= 0, 0 <= momentum < 1; got {gamma0}, {eta}, {momentum}")
        self.n_classes = n_classes
        self.gamma0 = float(gamma0)
        self.eta = float(eta)
        self.momentum = float(momentum)
        self.K = float(n_classes if K is None else K)
        self.eps = eps
        self.init_from_first = init_from_first
        self.register_buffer("running_score", torch.zeros(n_classes))
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))

    def extra_repr(self) -> str:
        return f"n_classes={self.n_classes}, gamma0={self.gamma0}, eta={self.eta}, momentum={self.momentum}, K={self.K}"

    @torch.no_grad()
    def update(self, score_per_class: Union[Tensor, np.ndarray, Sequence[float]]) -> None:
        """Fold a new per-class score ``(C,)`` (values in [0, 1], e.g. average precision) into the
        running estimate.

        NaN entries (a class absent from the measurement) keep that class's previous estimate.
        """
        score = torch.as_tensor(np.asarray(score_per_class, dtype=np.float64), dtype=self.running_score.dtype,
                                device=self.running_score.device).reshape(-1)
        if score.numel() != self.n_classes:
            raise ValueError(f"expected {self.n_classes} per-class scores, got {score.numel()}")
        valid = ~torch.isnan(score)
        if bool(((score[valid] < 0) | (score[valid] > 1)).any()):
            raise ValueError(f"per-class scores must be in [0, 1], got {score.tolist()}")
        if self.init_from_first and int(self.num_updates) == 0:
            new = score
        else:
            new = self.momentum * self.running_score + (1.0 - self.momentum) * score
        self.running_score.copy_(torch.where(valid, new, self.running_score))
        self.num_updates += 1

    @property
    def class_weights(self) -> Tensor:
        """``(C,)`` ``w_c = K (1 - F_c)^eta / sum_k (1 - F_k)^eta`` (uniform when every ``F_c = 1``)."""
        # Clamp so that classes at F = 1 do not divide by zero when all are perfect.
        miss = (1.0 - self.running_score).clamp(min=1e-6).pow(self.eta)
        return self.K * miss / miss.sum()

    @property
    def gammas(self) -> Tensor:
        """``(C,)`` ``gamma_c = gamma_0 (1 - F_c)``."""
        return self.gamma0 * (1.0 - self.running_score)

    def forward(self, probs: Tensor, targets: Tensor, mask: Optional[Tensor] = None,
                reduction: Reduction = "mean") -> Tensor:
        """AFL of ``(..., C)`` probabilities against targets (see :func:`binary_focal_loss`)."""
        self._check(probs)
        return binary_focal_loss(probs, targets, self.gammas.to(probs.dtype), self.class_weights.to(probs.dtype),
                                 eps=self.eps, mask=mask, reduction=reduction)

    def from_logits(self, logits: Tensor, targets: Tensor, mask: Optional[Tensor] = None,
                    reduction: Reduction = "mean") -> Tensor:
        """AFL of ``(..., C)`` logits (see :func:`binary_focal_loss_with_logits`)."""
        self._check(logits)
        return binary_focal_loss_with_logits(logits, targets, self.gammas.to(logits.dtype),
                                             self.class_weights.to(logits.dtype), mask=mask, reduction=reduction)

    def _check(self, x: Tensor) -> None:
        if x.shape[-1] != self.n_classes:
            raise ValueError(f"AdaptiveFocalLoss built for {self.n_classes} classes got shape {tuple(x.shape)}")
