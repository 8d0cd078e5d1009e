"""The focal loss takes logits (DESIGN section 3)."""

from __future__ import annotations

import torch

from jointsed.losses.focal import AdaptiveFocalLoss
from jointsed.losses.guided import bce, guided_learning_loss
from jointsed.models import SEDOutput


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
