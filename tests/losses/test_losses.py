"""Every loss of jointsed.losses (guided learning, adaptive focal, strong frame, feature
distillation, mean-teacher consistency) decreases under a few optimisation steps."""

from __future__ import annotations

import torch

from jointsed.losses import (
    AdaptiveFocalLoss,
    FrameDistillationLoss,
    guided_learning_loss,
    mean_teacher_consistency,
    strong_frame_loss,
)


def _decreases(loss_fn, params, steps=15, lr=0.05) -> bool:
    optimiser = torch.optim.Adam(params, lr=lr)
    first = loss_fn().item()
    for _ in range(steps):
        optimiser.zero_grad()
        loss_fn().backward()
        optimiser.step()
    return loss_fn().item() < first


def test_a_few_steps_reduce_each_loss():
    torch.manual_seed(0)
    y = (torch.rand(6, 4) > 0.5).float()
    m = torch.tensor([True, True, True, False, False, False])
    t_logits = torch.randn(6, 4, requires_grad=True)
    s_logits = torch.randn(6, 4, requires_grad=True)
    guided = lambda: guided_learning_loss(t_logits.sigmoid(), s_logits.sigmoid(), y, m, 0.5)["total"]  # noqa: E731
    assert _decreases(guided, [t_logits, s_logits])

    afl = AdaptiveFocalLoss(4)
    afl.update([0.2, 0.4, 0.6, 0.8])
    logits = torch.randn(6, 4, requires_grad=True)
    assert _decreases(lambda: afl(logits.sigmoid(), y), [logits])

    frames = torch.randn(6, 10, 4, requires_grad=True)
    strong = (torch.rand(6, 10, 4) > 0.7).float()
    assert _decreases(lambda: strong_frame_loss(frames.sigmoid(), strong, m), [frames])

    student = [torch.randn(2, 4, 8, 3, requires_grad=True)]
    teacher = [torch.randn(2, 4, 8, 3)]
    dfd = FrameDistillationLoss([4], [4], layers=[0], mask_mode="all")
    assert _decreases(lambda: dfd(student, teacher, None, torch.ones(2, dtype=torch.bool)),
                      [student[0], *dfd.parameters()])

    teacher_probs = torch.rand(3, 5)
    student_logits = torch.randn(3, 5, requires_grad=True)
    assert _decreases(lambda: mean_teacher_consistency(student_logits.sigmoid(), teacher_probs), [student_logits])
