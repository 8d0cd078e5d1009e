"""Deep feature distillation (jointsed.losses.distillation): the frame activity mask, the loss
formula, its gradients, bad layers."""

from __future__ import annotations

import pytest
import torch

from jointsed.losses import FrameDistillationLoss, frame_activity_mask
from jointsed.models import promising_student


def test_frame_activity_mask_hand_example():
    targets = torch.zeros(1, 8, 2)
    targets[0, 1, 0] = 1  # block 0 (frames 0-1)
    targets[0, 5, 1] = 1  # block 2 (frames 4-5)
    targets[0, 6:8, 0] = 0.0
    torch.testing.assert_close(frame_activity_mask(targets, 4), torch.tensor([[1.0, 0.0, 1.0, 0.0]]))
    torch.testing.assert_close(frame_activity_mask(targets, 1), torch.tensor([[1.0]]))
    torch.testing.assert_close(frame_activity_mask(targets, 8), (targets.amax(-1) > 0).float())


def _feature_maps(seed, channels=(4, 6), frames=(8, 4), batch=3):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, c, t, 5, generator=g) for c, t in zip(channels, frames)]


def test_distillation_matches_formula_and_is_nonnegative():
    student, teacher = _feature_maps(0, (4, 6)), _feature_maps(1, (4, 3))
    targets = torch.zeros(3, 8, 2)
    targets[0, 0:3, 1] = 1
    targets[2, 6:8, 0] = 1
    strong = torch.tensor([True, False, True])
    loss_fn = FrameDistillationLoss([4, 6], [4, 3], layers=[0, 1])
    loss = loss_fn(student, teacher, targets, strong)
    expected = 0.0
    for adapter, i in zip(loss_fn.adapters, [0, 1]):
        s = student[i][strong].mean(-1)
        t = teacher[i][strong].mean(-1)
        m = frame_activity_mask(targets[strong], s.shape[-1])
        sq = ((adapter(s) - t) ** 2).sum(1)
        expected = expected + (m * sq).sum() / (m.sum() * t.shape[1] + 1e-8)
    torch.testing.assert_close(loss, expected)
    assert loss.item() > 0
    all_frames = FrameDistillationLoss([4, 6], [4, 3], layers=[0], mask_mode="all")
    s, t = student[0][strong].mean(-1), teacher[0][strong].mean(-1)
    torch.testing.assert_close(all_frames(student, teacher, targets, strong), ((s - t) ** 2).mean())


def test_distillation_zero_cases():
    student, teacher = _feature_maps(0), _feature_maps(1)
    targets = torch.ones(3, 8, 2)
    strong = torch.ones(3, dtype=torch.bool)
    loss_fn = FrameDistillationLoss([4, 6], [4, 6], layers=[0, 1])
    assert loss_fn(student, [f.clone() for f in student], targets, strong).item() == pytest.approx(0.0, abs=1e-10)
    assert loss_fn(student, teacher, torch.zeros(3, 8, 2), strong).item() == 0.0  # no active frame
    assert loss_fn(student, teacher, targets, torch.zeros(3, dtype=torch.bool)).item() == 0.0
    off = FrameDistillationLoss([4, 6], [4, 6], layers=[0, 1], mask_mode="none")
    assert off(student, teacher, targets, strong).item() == 0.0


def test_distillation_gradients_reach_only_student_and_adapters():
    student = promising_student(3, channels=(8, 8, 8))
    teacher = promising_student(3, channels=(8, 12, 8))
    x = torch.randn(2, 12, 64)
    targets = torch.zeros(2, 12, 3)
    targets[:, 3:7, 1] = 1
    loss_fn = FrameDistillationLoss(student.feature_channels, teacher.feature_channels, layers=[1, 2])
    loss = loss_fn(student(x).features, teacher(x).features, targets, torch.tensor([True, True]))
    loss.backward()
    assert all(p.grad is None for p in teacher.parameters())
    assert student.blocks[0].convs[0].weight.grad.abs().sum() > 0
    assert all(p.grad is not None for p in loss_fn.parameters())


def test_distillation_rejects_bad_layers():
    with pytest.raises(ValueError, match="out of range"):
        FrameDistillationLoss([4, 6], [4, 6], layers=[2])
