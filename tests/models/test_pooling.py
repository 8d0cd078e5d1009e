"""Pooling maths (jointsed.models.pooling): the disentangled dims and class ratios, disentangled
attention pooling against a naive loop, attention and linear-softmax pooling formulas."""

from __future__ import annotations

import math

import pytest
import torch

from jointsed.models import (
    AttentionPooling,
    DisentangledAttentionPooling,
    PoolingError,
    disentangled_dims,
    single_class_ratios,
)


def test_disentangled_dims_table():
    # Lin's k_c = floor(D (0.96 r_c + 0.04)), at least 1, at most D (min_dims=1: no floor)
    assert disentangled_dims([1.0, 0.5, 0.0], 160, min_dims=1) == [160, math.floor(160 * 0.52), math.floor(160 * 0.04)]
    assert disentangled_dims([1.0, 0.5, 0.0], 512) == [512, 266, 20]
    assert disentangled_dims([0.0], 10, min_dims=1) == [1]
    # the default floor min(D, 8) (DESIGN section 1): the CPU width D = 32 gave rare classes 1 dim
    assert disentangled_dims([1.0, 0.5, 0.0], 160) == [160, 83, 8]
    assert disentangled_dims([1.0, 0.1, 0.0], 32) == [32, 8, 8]
    assert disentangled_dims([0.0], 10) == [8]
    assert disentangled_dims([0.0, 1.0], 4) == [4, 4]
    with pytest.raises(PoolingError):
        disentangled_dims([1.5], 10)


def test_single_class_ratios():
    label_sets = [("Dog",), ("Dog",), ("Dog", "Dog"), ("Cat",), ("Cat", "Dog"), ("Speech", "Cat")]
    ratios = single_class_ratios(label_sets, ["Cat", "Dog", "Speech"])
    assert ratios == [1 / 3, 1.0, 0.0]
    assert single_class_ratios([("Cat", "Dog")], ["Cat", "Dog"]) == [1.0, 1.0]  # no single-label clip
    with pytest.raises(PoolingError, match="Bird"):
        single_class_ratios([("Bird",)], ["Cat", "Dog"])


def test_single_class_ratios_on_real_weak_labels():
    from pathlib import Path

    path = Path("/work/shared/desed_meta/weak.tsv")
    if not path.is_file():
        pytest.skip("shared DESED metadata not available on this machine")
    import csv

    from jointsed.data.classes import DESED_CLASSES

    with path.open() as f:
        rows = [r["event_labels"].split(",") for r in csv.DictReader(f, delimiter="\t")]
    ratios = single_class_ratios(rows, DESED_CLASSES)
    assert max(ratios) == 1.0 and all(0 <= r <= 1 for r in ratios)
    dims = disentangled_dims(ratios, 160)
    assert all(6 <= k <= 160 for k in dims)


def _naive_disentangled(pool: DisentangledAttentionPooling, x: torch.Tensor):
    frame_logits, clip_logits = [], []
    for c, k in enumerate(pool.dims):
        xc = x[:, :, :k]
        z = xc @ pool.frame_weight[c, :k] + pool.frame_bias[c]  # (B, T)
        a = torch.softmax(z / k, dim=1)
        h = (a.unsqueeze(-1) * xc).sum(dim=1)  # (B, k)
        clip_logits.append(h @ pool.clip_weight[c, :k] + pool.clip_bias[c])
        frame_logits.append(z)
    return torch.stack(frame_logits, -1), torch.stack(clip_logits, -1)


def test_disentangled_pooling_matches_naive_loop():
    torch.manual_seed(0)
    pool = DisentangledAttentionPooling(12, 4, dims=[12, 7, 3, 1])
    with torch.no_grad():  # zero-initialised frame weights would make the test trivial
        pool.frame_weight.normal_()
        pool.frame_bias.normal_()
        pool.clip_weight.normal_()
    x = torch.randn(3, 9, 12)
    out = pool(x)
    frame_logits, clip_logits = _naive_disentangled(pool, x)
    torch.testing.assert_close(out.frame_logits, frame_logits)
    torch.testing.assert_close(out.clip_logits, clip_logits)
    torch.testing.assert_close(out.clip_probs, torch.sigmoid(clip_logits))
    torch.testing.assert_close(out.frame_probs, torch.sigmoid(frame_logits))
    # Dimensions beyond k_c neither influence class c nor receive gradient.
    (out.clip_probs.sum() + out.frame_probs.sum()).backward()
    assert pool.frame_weight.grad[2, 3:].abs().sum() == 0 and pool.clip_weight.grad[3, 1:].abs().sum() == 0
    assert pool.frame_weight.grad[2, :3].abs().sum() > 0


def test_disentangled_dims_are_checked_when_loading():
    a = DisentangledAttentionPooling(8, 2, dims=[8, 4])
    b = DisentangledAttentionPooling(8, 2, dims=[8, 2])
    with pytest.raises(PoolingError, match="differ"):
        b.load_state_dict(a.state_dict())
    DisentangledAttentionPooling(8, 2, dims=[8, 4]).load_state_dict(a.state_dict())


def test_attention_pooling_matches_baseline_formula():
    torch.manual_seed(0)
    pool = AttentionPooling(6, 3)
    x = torch.randn(2, 5, 6)
    out = pool(x)
    strong = torch.sigmoid(x @ pool.strong.weight.t() + pool.strong.bias)
    att = torch.softmax(x @ pool.attention.weight.t() + pool.attention.bias, dim=-1).clamp(1e-7, 1)
    torch.testing.assert_close(out.clip_probs, (strong * att).sum(1) / att.sum(1))
    torch.testing.assert_close(out.frame_probs, strong)


def test_linear_softmax_pooling_is_sum_of_squares_over_sum():
    """clip_c = sum_t p_ct^2 / sum_t p_ct (Wang, Li & Metze 2019): louder frames weigh more, a clip
    is never scored above its loudest frame nor below its mean."""
    from jointsed.models.pooling import LinearSoftmaxPooling

    torch.manual_seed(0)
    head = LinearSoftmaxPooling(feature_dim=6, n_classes=3)
    x = torch.randn(2, 40, 6)
    out = head(x)
    p = torch.sigmoid(x @ head.strong.weight.t() + head.strong.bias)
    torch.testing.assert_close(out.frame_probs, p)
    torch.testing.assert_close(out.clip_probs, (p * p).sum(1) / p.sum(1), rtol=1e-5, atol=1e-6)
    assert (out.clip_probs <= p.max(1).values + 1e-6).all() and (out.clip_probs >= p.mean(1) - 1e-6).all()
    assert out.clip_logits is None
