"""Focal and adaptive focal losses (jointsed.losses.focal); the focal loss takes logits (DESIGN
section 3)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers import random_probs
from jointsed.losses import (
    AdaptiveFocalLoss,
    binary_focal_loss,
    binary_focal_loss_with_logits,
    guided_learning_loss,
)
from jointsed.losses.guided import bce
from jointsed.models import SEDOutput


def test_afl_with_zero_gamma_and_eta_is_bce():
    p, y = random_probs(8, 10, seed=6), (random_probs(8, 10, seed=7) > 0.5).float()
    afl = AdaptiveFocalLoss(10, gamma0=0.0, eta=0.0)
    afl.update(np.linspace(0, 1, 10))
    torch.testing.assert_close(afl(p, y), F.binary_cross_entropy(p, y), rtol=1e-6, atol=1e-7)
    soft = random_probs(8, 10, seed=8)  # soft targets (mixup) too
    torch.testing.assert_close(afl(p, soft), F.binary_cross_entropy(p, soft), rtol=1e-6, atol=1e-7)
    logits = torch.randn(8, 10)
    torch.testing.assert_close(afl.from_logits(logits, y), F.binary_cross_entropy_with_logits(logits, y))


def test_focal_loss_with_gamma_matches_definition():
    p, y = random_probs(5, 3, seed=9), (random_probs(5, 3, seed=10) > 0.5).float()
    gamma = torch.tensor([0.5, 1.0, 2.0])
    expected = -(y * (1 - p) ** gamma * torch.log(p) + (1 - y) * p**gamma * torch.log(1 - p))
    torch.testing.assert_close(binary_focal_loss(p, y, gamma, reduction="none"), expected)
    logits = torch.logit(p)
    torch.testing.assert_close(binary_focal_loss_with_logits(logits, y, gamma, reduction="none"), expected,
                               rtol=1e-5, atol=1e-6)


def test_lower_running_score_gets_larger_weight_and_focus():
    afl = AdaptiveFocalLoss(3, gamma0=2.0, eta=1.0)
    torch.testing.assert_close(afl.class_weights, torch.ones(3))  # before any update
    afl.update([0.9, 0.5, 0.2])
    w, g = afl.class_weights, afl.gammas
    assert w[2] > w[1] > w[0] and g[2] > g[1] > g[0]
    torch.testing.assert_close(w.sum(), torch.tensor(3.0))
    # Same error on every class: the class with the lowest F1 contributes most.
    p, y = torch.full((4, 3), 0.3), torch.ones(4, 3)
    per_class = afl(p, y, reduction="none").mean(0)
    assert per_class[2] > per_class[1] > per_class[0]


def test_afl_running_score_ema_and_checkpoint_buffers():
    afl = AdaptiveFocalLoss(2, momentum=0.9)
    afl.update(torch.tensor([0.4, 0.6]))
    torch.testing.assert_close(afl.running_score, torch.tensor([0.4, 0.6]))  # first update initialises
    afl.update(np.array([1.0, float("nan")]))  # NaN = class not measured: keep its estimate
    torch.testing.assert_close(afl.running_score, torch.tensor([0.9 * 0.4 + 0.1, 0.6]))
    state = afl.state_dict()
    assert set(state) == {"running_score", "num_updates"} and state["num_updates"].item() == 2
    restored = AdaptiveFocalLoss(2)
    restored.load_state_dict(state)
    torch.testing.assert_close(restored.class_weights, afl.class_weights)
    with pytest.raises(ValueError):
        afl.update([0.5])
    with pytest.raises(ValueError):
        afl.update([0.5, 1.5])
    perfect = AdaptiveFocalLoss(2)
    perfect.update([1.0, 1.0])
    assert torch.isfinite(perfect.class_weights).all()


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_focal_gradients_finite_at_zero_and_one(gamma):
    p = torch.tensor([[0.0, 1.0, 0.0, 1.0, 0.5]], requires_grad=True)
    y = torch.tensor([[0.0, 1.0, 1.0, 0.0, 1.0]])
    loss = binary_focal_loss(p, y, gamma)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(p.grad).all()
    afl = AdaptiveFocalLoss(5, gamma0=gamma)
    afl.update([0.1, 0.3, 0.5, 0.7, 0.95])
    p.grad = None
    afl(p, y).backward()
    assert torch.isfinite(p.grad).all()


def test_focal_masked_and_weighted_reduction():
    p, y = random_probs(4, 6, 3, seed=11), (random_probs(4, 6, 3, seed=12) > 0.5).float()
    elementwise = binary_focal_loss(p, y, 1.0, reduction="none")
    mask = torch.tensor([1.0, 0.0, 1.0, 0.0])
    # A (B,) mask selects whole clips of a (B, T, C) loss: mean over the selected elements.
    torch.testing.assert_close(binary_focal_loss(p, y, 1.0, mask=mask), elementwise[[0, 2]].mean())
    torch.testing.assert_close(binary_focal_loss(p, y, 1.0, mask=mask, reduction="sum"), elementwise[[0, 2]].sum())
    assert binary_focal_loss(p, y, 1.0, mask=torch.zeros(4)).item() == 0.0
    weights = torch.tensor([0.5, 1.0, 1.5])
    torch.testing.assert_close(binary_focal_loss(p, y, 1.0, weights), (elementwise * weights).mean())
    frame_mask = torch.zeros(4, 6)
    frame_mask[1, 2:4] = 1
    torch.testing.assert_close(binary_focal_loss(p, y, 1.0, mask=frame_mask), elementwise[1, 2:4].mean())


# ----- adaptive focal loss and two stages (DESIGN section 3) --------------------------------------------
def test_focal_loss_from_logits_keeps_the_gradient_of_saturated_mistakes():
    """``losses/focal.py`` clamped probabilities: a confidently wrong clip (p = 1, y = 0) had no
    gradient. The systems now hand the logits to the loss."""
    logits = torch.tensor([[40.0, -40.0]], requires_grad=True)
    targets = torch.tensor([[0.0, 1.0]])
    output = SEDOutput(clip=torch.sigmoid(logits), frame=torch.zeros(1, 1, 2), frame_logits=torch.zeros(1, 1, 2),
                       clip_logits=logits)
    afl = AdaptiveFocalLoss(2, gamma0=2.0, eta=1.0)
    for loss_fn in (afl, bce):
        logits.grad = None
        terms = guided_learning_loss(output, output, targets, torch.tensor([True]), supervised_loss=loss_fn)
        terms["student_supervised"].backward()
        assert torch.isfinite(logits.grad).all() and (logits.grad.abs() > 0.1).all(), (loss_fn, logits.grad)
    logits.grad = None
    afl(torch.sigmoid(logits), targets).backward()  # the probability form loses it
    assert float(logits.grad.abs().max()) == 0.0
