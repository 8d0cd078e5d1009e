"""Mean-teacher pieces (jointsed.losses.consistency): ramp-up, consistency, EMA update, mixup."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers import random_probs
from jointsed.losses import mean_teacher_consistency, mixup, sigmoid_rampup, update_ema
from jointsed.models import promising_student


def test_sigmoid_rampup():
    assert sigmoid_rampup(0, 100) == pytest.approx(np.exp(-5))
    assert sigmoid_rampup(100, 100) == 1.0 and sigmoid_rampup(500, 100) == 1.0
    assert sigmoid_rampup(7, 0) == 1.0
    values = [sigmoid_rampup(s, 50) for s in range(51)]
    assert all(b > a for a, b in zip(values, values[1:]))


def test_mean_teacher_consistency():
    s = random_probs(4, 5, 3, seed=1).requires_grad_()
    t = random_probs(4, 5, 3, seed=2).requires_grad_()
    loss = mean_teacher_consistency(s, t)
    torch.testing.assert_close(loss, F.mse_loss(s, t))
    loss.backward()
    assert t.grad is None and s.grad is not None
    mask = torch.tensor([False, True, True, False])
    torch.testing.assert_close(mean_teacher_consistency(s, t, mask), F.mse_loss(s[1:3], t[1:3]))


def test_update_ema_parameters_and_buffers():
    torch.manual_seed(0)
    student = promising_student(3, channels=(4, 4, 4))
    teacher = copy.deepcopy(student)
    student.train()
    student(torch.randn(2, 10, 64))  # changes BatchNorm running statistics
    with torch.no_grad():
        for p in student.parameters():
            p.add_(1.0)
    before = copy.deepcopy(teacher.state_dict())
    decay = update_ema(teacher, student, 0.9)
    assert decay == 0.9
    after, new = teacher.state_dict(), student.state_dict()
    for name, value in after.items():
        if torch.is_floating_point(value):
            torch.testing.assert_close(value, 0.9 * before[name] + 0.1 * new[name])
        else:
            assert torch.equal(value, new[name])
    assert update_ema(teacher, student, 0.999, step=9) == pytest.approx(0.9)


def test_mixup_is_a_reproducible_convex_combination():
    x = torch.arange(4.0).reshape(4, 1, 1).expand(4, 3, 2).clone()
    y = torch.eye(4)
    mx1, my1 = mixup(x, y, generator=torch.Generator().manual_seed(5))
    mx2, my2 = mixup(x, y, generator=torch.Generator().manual_seed(5))
    assert torch.equal(mx1, mx2) and torch.equal(my1, my2)
    # Clip i becomes c * clip_i + (1 - c) * clip_perm(i); with x_i = i and one-hot targets the
    # mixed targets hold exactly those weights, so the features are the target-weighted index.
    torch.testing.assert_close(mx1, (my1 @ torch.arange(4.0)).reshape(4, 1, 1).expand(4, 3, 2))
    torch.testing.assert_close(my1.sum(dim=1), torch.ones(4))
    assert not torch.equal(my1, y)  # something was mixed (perm is not the identity for this seed)
    _, hard = mixup(x, y, label_type="hard", generator=torch.Generator().manual_seed(5))
    assert set(hard.unique().tolist()) <= {0.0, 1.0} and (hard.sum(1) >= 1).all()
    (only_x,) = mixup(x, generator=torch.Generator().manual_seed(5))
    assert torch.equal(only_x, mx1)
