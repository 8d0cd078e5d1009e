"""Guided learning losses (jointsed.losses.guided): the terms, the teacher weight schedule, the
strong frame loss."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from helpers import random_probs
from jointsed.losses import AdaptiveFocalLoss, guided_learning_loss, strong_frame_loss, teacher_weight


def test_guided_learning_terms_match_hand_computation():
    p_t, p_s = random_probs(6, 4, seed=1), random_probs(6, 4, seed=2)
    y = (random_probs(6, 4, seed=3) > 0.5).float()
    m = torch.tensor([True, False, True, False, False, True])
    a = 0.3
    terms = guided_learning_loss(p_t, p_s, y, m, a)
    bt, bs = (p_t > 0.5).float(), (p_s > 0.5).float()
    expected = {
        "teacher_supervised": F.binary_cross_entropy(p_t[m], y[m]),
        "student_supervised": F.binary_cross_entropy(p_s[m], y[m]),
        "student_guided": F.binary_cross_entropy(p_s[~m], bt[~m]),
        "teacher_guided": F.binary_cross_entropy(p_t[~m], bs[~m]),
    }
    for name, value in expected.items():
        torch.testing.assert_close(terms[name], value)
    total = sum(expected.values()) - expected["teacher_guided"] + a * expected["teacher_guided"]
    torch.testing.assert_close(terms["total"], total)
    # SEDOutputs are accepted in place of their clip probabilities.
    from jointsed.models import SEDOutput

    wrap = lambda p: SEDOutput(clip=p, frame=p[:, None], frame_logits=p[:, None])  # noqa: E731
    torch.testing.assert_close(guided_learning_loss(wrap(p_t), wrap(p_s), y, m, a)["total"], total)


def test_guided_learning_empty_parts_and_weights():
    p_t = random_probs(3, 2, seed=1).requires_grad_()
    p_s = random_probs(3, 2, seed=2).requires_grad_()
    y = torch.zeros(3, 2)
    all_labelled = guided_learning_loss(p_t, p_s, y, torch.ones(3, dtype=torch.bool), 1.0)
    assert all_labelled["student_guided"].item() == 0.0 and all_labelled["teacher_guided"].item() == 0.0
    none_labelled = guided_learning_loss(p_t, p_s, y, torch.zeros(3, dtype=torch.bool), 1.0,
                                         term_weights={"student_guided": 0.0})
    assert none_labelled["teacher_supervised"].item() == 0.0
    torch.testing.assert_close(none_labelled["total"], none_labelled["teacher_guided"])
    with pytest.raises(ValueError, match="unknown guided-learning term"):
        guided_learning_loss(p_t, p_s, y, torch.ones(3, dtype=torch.bool), term_weights={"student": 1.0})


def test_guided_pseudo_labels_are_detached():
    """The student-guided term trains only the student; the teacher-guided term only the teacher."""
    p_t = random_probs(4, 3, seed=1).requires_grad_()
    p_s = random_probs(4, 3, seed=2).requires_grad_()
    terms = guided_learning_loss(p_t, p_s, torch.zeros(4, 3), torch.zeros(4, dtype=torch.bool), 1.0)
    terms["student_guided"].backward(retain_graph=True)
    assert p_t.grad is None and p_s.grad.abs().sum() > 0
    p_s.grad = None
    terms["teacher_guided"].backward()
    assert p_s.grad is None and p_t.grad.abs().sum() > 0


def test_guided_learning_pluggable_supervised_loss():
    p_t, p_s = random_probs(4, 3, seed=1), random_probs(4, 3, seed=2)
    y = (p_t > 0.4).float()
    m = torch.tensor([True, True, False, True])
    afl = AdaptiveFocalLoss(3, gamma0=2.0, eta=1.0)
    terms = guided_learning_loss(p_t, p_s, y, m, supervised_loss=afl)
    torch.testing.assert_close(terms["teacher_supervised"], afl(p_t[m], y[m]))
    # Focal loss down-weights well-classified terms, so it is smaller than BCE here.
    assert terms["teacher_supervised"] < F.binary_cross_entropy(p_t[m], y[m])


def test_teacher_weight_schedule():
    assert [teacher_weight(e) for e in range(6)] == [0.0] * 6
    assert teacher_weight(6) == pytest.approx(0.01)
    assert teacher_weight(105) == pytest.approx(1 - 0.99**100)
    values = [teacher_weight(e) for e in range(6, 50)]
    assert all(b > a for a, b in zip(values, values[1:])) and values[-1] < 1


def test_strong_frame_loss_only_on_strong_clips():
    p = random_probs(3, 5, 2, seed=4)
    y = (random_probs(3, 5, 2, seed=5) > 0.5).float()
    mask = torch.tensor([False, True, True])
    torch.testing.assert_close(strong_frame_loss(p, y, mask), F.binary_cross_entropy(p[1:], y[1:]))
    assert strong_frame_loss(p, y, torch.zeros(3, dtype=torch.bool)).item() == 0.0
    afl = AdaptiveFocalLoss(2, gamma0=0.0, eta=0.0)
    torch.testing.assert_close(strong_frame_loss(p, y, mask, afl), F.binary_cross_entropy(p[1:], y[1:]))
