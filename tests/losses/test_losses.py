"""Tests of jointsed.losses: guided learning, focal/AFL, feature distillation, mean teacher."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from jointsed.losses import (
    AdaptiveFocalLoss,
    FrameDistillationLoss,
    binary_focal_loss,
    binary_focal_loss_with_logits,
    frame_activity_mask,
    guided_learning_loss,
    mean_teacher_consistency,
    mixup,
    sigmoid_rampup,
    strong_frame_loss,
    teacher_weight,
    update_ema,
)
from jointsed.models import promising_student


def _probs(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=g) * 0.98 + 0.01


# ---------------------------------------------------------------- guided learning


def test_guided_learning_terms_match_hand_computation():
    p_t, p_s = _probs(6, 4, seed=1), _probs(6, 4, seed=2)
    y = (_probs(6, 4, seed=3) > 0.5).float()
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
    p_t = _probs(3, 2, seed=1).requires_grad_()
    p_s = _probs(3, 2, seed=2).requires_grad_()
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
    p_t = _probs(4, 3, seed=1).requires_grad_()
    p_s = _probs(4, 3, seed=2).requires_grad_()
    terms = guided_learning_loss(p_t, p_s, torch.zeros(4, 3), torch.zeros(4, dtype=torch.bool), 1.0)
    terms["student_guided"].backward(retain_graph=True)
    assert p_t.grad is None and p_s.grad.abs().sum() > 0
    p_s.grad = None
    terms["teacher_guided"].backward()
    assert p_s.grad is None and p_t.grad.abs().sum() > 0


def test_guided_learning_pluggable_supervised_loss():
    p_t, p_s = _probs(4, 3, seed=1), _probs(4, 3, seed=2)
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
    p = _probs(3, 5, 2, seed=4)
    y = (_probs(3, 5, 2, seed=5) > 0.5).float()
    mask = torch.tensor([False, True, True])
    torch.testing.assert_close(strong_frame_loss(p, y, mask), F.binary_cross_entropy(p[1:], y[1:]))
    assert strong_frame_loss(p, y, torch.zeros(3, dtype=torch.bool)).item() == 0.0
    afl = AdaptiveFocalLoss(2, gamma0=0.0, eta=0.0)
    torch.testing.assert_close(strong_frame_loss(p, y, mask, afl), F.binary_cross_entropy(p[1:], y[1:]))


# ---------------------------------------------------------------- focal / adaptive focal


def test_afl_with_zero_gamma_and_eta_is_bce():
    p, y = _probs(8, 10, seed=6), (_probs(8, 10, seed=7) > 0.5).float()
    afl = AdaptiveFocalLoss(10, gamma0=0.0, eta=0.0)
    afl.update(np.linspace(0, 1, 10))
    torch.testing.assert_close(afl(p, y), F.binary_cross_entropy(p, y), rtol=1e-6, atol=1e-7)
    soft = _probs(8, 10, seed=8)  # soft targets (mixup) too
    torch.testing.assert_close(afl(p, soft), F.binary_cross_entropy(p, soft), rtol=1e-6, atol=1e-7)
    logits = torch.randn(8, 10)
    torch.testing.assert_close(afl.from_logits(logits, y), F.binary_cross_entropy_with_logits(logits, y))


def test_focal_loss_with_gamma_matches_definition():
    p, y = _probs(5, 3, seed=9), (_probs(5, 3, seed=10) > 0.5).float()
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
    p, y = _probs(4, 6, 3, seed=11), (_probs(4, 6, 3, seed=12) > 0.5).float()
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


# ---------------------------------------------------------------- feature distillation


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


# ---------------------------------------------------------------- mean teacher


def test_sigmoid_rampup():
    assert sigmoid_rampup(0, 100) == pytest.approx(np.exp(-5))
    assert sigmoid_rampup(100, 100) == 1.0 and sigmoid_rampup(500, 100) == 1.0
    assert sigmoid_rampup(7, 0) == 1.0
    values = [sigmoid_rampup(s, 50) for s in range(51)]
    assert all(b > a for a, b in zip(values, values[1:]))


def test_mean_teacher_consistency():
    s = _probs(4, 5, 3, seed=1).requires_grad_()
    t = _probs(4, 5, 3, seed=2).requires_grad_()
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


# ---------------------------------------------------------------- a few optimisation steps


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
