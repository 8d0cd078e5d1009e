"""Guided-learning loss (Lin et al., DCASE 2019 Task 4 winner) and frame-level strong loss.

Reference: Lin, Wang, Liu & Li, "Guided learning for weakly-labeled semi-supervised sound event
detection", ICASSP 2020. With ``m = 1`` for labelled clips and ``B`` a hard threshold at 0.5:

    L = BCE(y, P_T) m + BCE(y, P_S) m + BCE(B(P_T), P_S) (1 - m) + a * BCE(B(P_S), P_T) (1 - m)

where ``P_T`` / ``P_S`` are the clip probabilities of the professional teacher / promising
student and ``a`` ramps up with :func:`teacher_weight`. Pseudo-labels ``B(.)`` are detached.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

if TYPE_CHECKING:
    from jointsed.models.output import SEDOutput

ClipLoss = Callable[[Tensor, Tensor], Tensor]
"""``loss(probs (N, C), targets (N, C)) -> scalar``: mean over what it is given (e.g. BCE, AFL).
A loss that also has ``from_logits(logits, targets)`` is computed from the logits whenever the
network provides them (log-sigmoid: a saturated wrong prediction keeps its gradient)."""

GUIDED_TERMS: tuple[str, ...] = ("teacher_supervised", "student_supervised", "student_guided", "teacher_guided")


class BinaryCrossEntropy:
    """Mean binary cross-entropy: of probabilities (PyTorch's, log clamped at -100) or, through
    :meth:`from_logits`, of logits (exact log-sigmoid)."""

    def __call__(self, probs: Tensor, targets: Tensor) -> Tensor:
        return F.binary_cross_entropy(probs, targets)

    @staticmethod
    def from_logits(logits: Tensor, targets: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(logits, targets)

    def __repr__(self) -> str:
        return "bce"


#: the default loss of every term
bce = BinaryCrossEntropy()


def apply_loss(loss_fn: ClipLoss, probs: Tensor, targets: Tensor, logits: Optional[Tensor] = None) -> Tensor:
    """``loss_fn`` of the logits when they are given and the loss takes them, else of the probabilities."""
    from_logits = getattr(loss_fn, "from_logits", None)
    if logits is not None and from_logits is not None:
        return from_logits(logits, targets)
    return loss_fn(probs, targets)


def teacher_weight(epoch: int, start: int = 5, base: float = 0.99) -> float:
    """Weight ``a`` of the student-guides-teacher term: 0 for ``epoch <= start``, else ``1 - base^(epoch - start)``.

    ``epoch`` is counted as the caller counts it (Lin et al. count from 1; with 0-based epochs the
    ramp starts one epoch later than theirs if ``start`` is unchanged).
    """
    if epoch <= start:
        return 0.0
    return 1.0 - base ** (epoch - start)


def _subset_loss(loss_fn: ClipLoss, probs: Tensor, targets: Tensor, rows: Tensor,
                 logits: Optional[Tensor] = None) -> Tensor:
    """``loss_fn`` on the selected rows, or an exact zero (keeping the graph) when none is selected."""
    if not bool(rows.any()):
        return probs.sum() * 0.0
    return apply_loss(loss_fn, probs[rows], targets[rows], None if logits is None else logits[rows])


def hard_threshold(probs: Tensor, threshold: float = 0.5) -> Tensor:
    """``B(p)``: detached 0/1 pseudo-labels, 1 where ``p > threshold``."""
    return (probs.detach() > threshold).to(probs.dtype)


def _clip_probs(value: "Tensor | object") -> tuple[Tensor, Optional[Tensor]]:
    """``(probs, logits)`` of a ``(B, C)`` tensor (no logits) or of a ``SEDOutput``."""
    if isinstance(value, Tensor):
        return value, None
    return value.clip, getattr(value, "clip_logits", None)  # type: ignore[attr-defined]


def guided_learning_loss(
    teacher_clip: "Tensor | SEDOutput",
    student_clip: "Tensor | SEDOutput",
    targets: Tensor,
    labelled_mask: Tensor,
    teacher_weight: float = 0.0,
    *,
    supervised_loss: Optional[ClipLoss] = None,
    guided_loss: Optional[ClipLoss] = None,
    term_weights: Optional[Mapping[str, float]] = None,
    threshold: float = 0.5,
) -> dict[str, Tensor]:
    """Guided-learning loss of a teacher/student pair on one batch.

    Args:
        teacher_clip: ``(B, C)`` teacher clip probabilities ``P_T`` (or the teacher's ``SEDOutput``,
            whose ``clip_logits``, when present, are what the losses are computed from).
        student_clip: ``(B, C)`` student clip probabilities ``P_S`` (or the student's ``SEDOutput``).
        targets: ``(B, C)`` weak (clip) targets; rows of unlabelled clips are ignored.
        labelled_mask: ``(B,)`` bool, True for clips with clip labels (weak or strong).
        teacher_weight: ``a`` (see :func:`teacher_weight`).
        supervised_loss: loss of the two labelled terms (default BCE; pass an
            :class:`~jointsed.losses.focal.AdaptiveFocalLoss` for stage 2).
        guided_loss: loss of the two pseudo-label terms (default BCE).
        term_weights: optional extra weight per term (keys in :data:`GUIDED_TERMS`, default 1),
            e.g. ``{"teacher_guided": 0}`` to switch the student's guidance off.
        threshold: the threshold of ``B`` (Lin: 0.5).

    Returns:
        ``{"teacher_supervised", "student_supervised", "student_guided", "teacher_guided",
        "total"}``, scalar tensors. Reduction: each term is the mean over the batch members it
        applies to (labelled clips for the supervised terms, unlabelled clips for the guided
        ones) and over classes; a term with no such member is exactly 0. The returned terms are
        unweighted; ``total = sum_k w_k term_k`` with ``a`` multiplying ``teacher_guided``.
    """
    (teacher_clip, teacher_logits), (student_clip, student_logits) = _clip_probs(teacher_clip), _clip_probs(student_clip)
    if teacher_clip.shape != student_clip.shape or teacher_clip.shape != targets.shape:
        raise ValueError(
            f"teacher {tuple(teacher_clip.shape)}, student {tuple(student_clip.shape)} and targets "
            f"{tuple(targets.shape)} must all be (batch, classes)"
        )
    labelled = labelled_mask.to(torch.bool).reshape(-1)
    if labelled.shape[0] != targets.shape[0]:
        raise ValueError(f"labelled_mask has {labelled.shape[0]} items for a batch of {targets.shape[0]}")
    weights = {name: 1.0 for name in GUIDED_TERMS}
    for name, value in (term_weights or {}).items():
        if name not in weights:
            raise ValueError(f"unknown guided-learning term {name!r} (terms: {', '.join(GUIDED_TERMS)})")
        weights[name] = float(value)
    supervised_loss = supervised_loss or bce
    guided_loss = guided_loss or bce
    unlabelled = ~labelled
    targets = targets.detach().to(student_clip.dtype)
    terms = {
        "teacher_supervised": _subset_loss(supervised_loss, teacher_clip, targets, labelled, teacher_logits),
        "student_supervised": _subset_loss(supervised_loss, student_clip, targets, labelled, student_logits),
        "student_guided": _subset_loss(guided_loss, student_clip, hard_threshold(teacher_clip, threshold), unlabelled,
                                       student_logits),
        "teacher_guided": _subset_loss(guided_loss, teacher_clip, hard_threshold(student_clip, threshold), unlabelled,
                                       teacher_logits),
    }
    weights["teacher_guided"] *= float(teacher_weight)
    terms["total"] = sum(weights[name] * terms[name] for name in GUIDED_TERMS)
    return terms


def strong_frame_loss(
    frame_probs: Tensor,
    strong_targets: Tensor,
    strong_mask: Tensor,
    loss_fn: Optional[ClipLoss] = None,
    frame_logits: Optional[Tensor] = None,
) -> Tensor:
    """Frame-level loss on the clips that have strong (onset/offset) labels.

    Args:
        frame_probs: ``(B, T, C)`` frame probabilities at the input frame rate.
        strong_targets: ``(B, T, C)`` frame targets (rows of clips without strong labels ignored).
        strong_mask: ``(B,)`` bool, True for strongly labelled clips.
        loss_fn: ``loss(probs, targets) -> scalar`` mean (default BCE). It receives
            ``(N*T, C)`` matrices, so class-wise losses (focal) see classes on the last axis.
        frame_logits: optional ``(B, T, C)`` logits of ``frame_probs``: the loss is then computed
            from them (see :func:`apply_loss`).

    Returns:
        Scalar: mean over strongly labelled clips x frames x classes; exactly 0 if there are none.
    """
    if frame_probs.shape != strong_targets.shape:
        raise ValueError(
            f"frame probabilities {tuple(frame_probs.shape)} and strong targets "
            f"{tuple(strong_targets.shape)} must have the same (batch, frames, classes) shape"
        )
    rows = strong_mask.to(torch.bool).reshape(-1)
    if not bool(rows.any()):
        return frame_probs.sum() * 0.0
    loss_fn = loss_fn or bce
    n_classes = frame_probs.shape[-1]
    probs = frame_probs[rows].reshape(-1, n_classes)
    targets = strong_targets[rows].detach().to(frame_probs.dtype).reshape(-1, n_classes)
    logits = None if frame_logits is None else frame_logits[rows].reshape(-1, n_classes)
    return apply_loss(loss_fn, probs, targets, logits)
