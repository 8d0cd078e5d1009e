"""The training fast paths (jointsed.models.fused) against the reference operators and float64."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from jointsed.models import crnn, professional_teacher, promising_student
from jointsed.models.fused import ByteMaskDropout, conv_batch_norm, keep_mask

CL = torch.channels_last


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """Norm-relative difference (a max-abs metric would count the rare max-pool argmax flips that
    any reordering of float operations causes as errors of the gradient's full size)."""
    a, b = a.detach().double(), b.detach().double()
    return float((a - b).norm() / (b.norm() + 1e-30))


def _conv_bn(cin: int, cout: int, k: int, seed: int = 0):
    torch.manual_seed(seed)
    conv = torch.nn.Conv2d(cin, cout, k, padding="same")
    bn = torch.nn.BatchNorm2d(cout, eps=1e-3, momentum=0.1)
    with torch.no_grad():  # gamma of both signs, a bias: the general case
        bn.weight.uniform_(-1.0, 2.0)
        bn.bias.normal_()
    return conv, bn


def _run(conv, bn, x, g, relu, dtype, fused):
    conv, bn = copy.deepcopy(conv).to(dtype), copy.deepcopy(bn).to(dtype)
    x = x.to(dtype).detach().clone()
    if fused:
        x = x.contiguous(memory_format=CL)
    x.requires_grad_(x.shape[1] > 1)
    if fused:
        y = conv_batch_norm(x, conv, bn, relu)
    else:
        y = bn(conv(x))
        y = torch.relu(y) if relu else y
    y.backward(g.to(dtype))
    out = {"y": y, "conv.weight": conv.weight.grad, "bn.weight": bn.weight.grad, "bn.bias": bn.bias.grad,
           "running_mean": bn.running_mean, "running_var": bn.running_var}
    if x.grad is not None:
        out["x"] = x.grad
    return out, bn


# (input channels, output channels, kernel, frames, bands, input offset): the first layers of the
# CPU networks, a wide full-size one, and inputs far from zero mean (cancellation)
CASES = [
    (1, 8, 3, 200, 64, 0.0),
    (8, 8, 3, 200, 64, 3.0),
    (16, 32, 3, 100, 16, 0.0),
    (64, 64, 5, 100, 16, 5.0),
]


@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize("cin,cout,k,t,f,offset", CASES)
def test_conv_batch_norm_matches_the_modules_within_float32_round_off(cin, cout, k, t, f, offset, relu):
    conv, bn = _conv_bn(cin, cout, k)
    x = torch.randn(8, cin, t, f) + offset
    if cin > 1:
        x = torch.relu(x) + offset
    g = torch.randn(8, cout, t, f)
    truth, _ = _run(conv, bn, x, g, relu, torch.float64, fused=False)
    reference, _ = _run(conv, bn, x, g, relu, torch.float32, fused=False)
    fused, fused_bn = _run(conv, bn, x, g, relu, torch.float32, fused=True)
    assert fused["y"].is_contiguous(memory_format=CL)  # the fast path ran (channels-last out)
    assert int(fused_bn.num_batches_tracked) == 1
    for name, value in truth.items():
        err_fused, err_ref = rel(fused[name], value), rel(reference[name], value)
        # as accurate as float32 itself: within 4x the reference operators' error, or 1e-6
        assert err_fused <= max(4 * err_ref, 1e-6), (name, err_fused, err_ref)


def test_conv_batch_norm_falls_back_to_the_modules_outside_its_fast_path():
    conv, bn = _conv_bn(8, 8, 3)
    x = torch.randn(2, 8, 20, 16)
    # NCHW input, eval mode: exactly the modules' result
    assert torch.equal(conv_batch_norm(x, conv, bn, relu=True), torch.relu(bn(conv(x))))
    bn.eval()
    assert torch.equal(conv_batch_norm(x.contiguous(memory_format=CL), conv, bn, relu=False), bn(conv(x)))


def test_keep_mask_drops_the_quantised_rate_and_dropout_keeps_the_expectation():
    torch.manual_seed(0)
    x = torch.ones(4, 8, 100, 64).contiguous(memory_format=CL)
    mask, dropped = keep_mask(x, 0.3)
    assert dropped == pytest.approx(77 / 256)
    assert mask.shape == x.shape and mask.dtype == torch.bool and mask.is_contiguous(memory_format=CL)
    n = mask.numel()
    kept = float(mask.float().mean())
    assert abs(kept - (1 - dropped)) < 5 * (dropped * (1 - dropped) / n) ** 0.5
    drop = ByteMaskDropout(0.3)
    y = drop(x)
    assert float(y.mean()) == pytest.approx(1.0, abs=0.01)  # rescaled by the realised keep rate
    values = torch.unique(y).tolist()
    assert len(values) == 2 and values[0] == 0.0 and values[1] == pytest.approx(1.0 / (1 - dropped))
    drop.eval()
    assert torch.equal(drop(x), x)


def test_byte_mask_dropout_is_deterministic_per_seed_and_its_gradient_is_the_mask():
    drop = ByteMaskDropout(0.5)
    x = torch.randn(3, 5, 7, requires_grad=True)
    torch.manual_seed(1)
    a = drop(x)
    torch.manual_seed(1)
    b = drop(x)
    assert torch.equal(a, b)
    a.backward(torch.ones_like(a))
    assert torch.equal(x.grad, (a != 0).float() * 2.0)  # p = 0.5: kept elements are scaled by 2


@pytest.mark.parametrize("build", [
    lambda: professional_teacher(10, width=0.5),
    lambda: promising_student(10, channels=(16, 32, 32), kernel_sizes=((3, 3),) * 3, pools=((2, 4), (1, 4), (1, 4))),
    lambda: crnn(10, width=0.5, rnn_hidden=16),
], ids=["teacher", "student", "crnn"])
def test_networks_train_the_same_on_the_fused_path(build, monkeypatch):
    """A training forward + backward of whole networks (dropout off): outputs, gradients and
    batch-norm statistics of the fused path equal the reference operators' up to round-off."""
    torch.manual_seed(0)
    net = build()
    for m in net.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    x = torch.randn(4, 100, 64) * 2
    y = (torch.rand(4, 10) < 0.3).float()
    results = {}
    for mode in ("1", "0"):
        monkeypatch.setenv("JOINTSED_REFERENCE_TRAINING", mode)
        m = copy.deepcopy(net).train()
        out = m(x)
        (F.binary_cross_entropy(out.clip, y) + out.frame.mean()).backward()
        results[mode] = (out, m)
    (ref, ref_net), (fast, fast_net) = results["1"], results["0"]
    assert fast.features[0].is_contiguous(memory_format=CL) and not ref.features[0].is_contiguous(memory_format=CL)
    assert rel(fast.clip, ref.clip) < 1e-5 and rel(fast.frame, ref.frame) < 1e-5
    for (name, p_ref), p_fast in zip(ref_net.named_parameters(), fast_net.parameters()):
        if name.endswith(".bias") and ("convs" in name or ".conv." in name):
            continue  # a bias before batch norm has gradient 0: both are float noise
        if p_ref.grad.abs().max() < 1e-4:  # e.g. attention pooling's bias: softmax over time ignores it
            assert p_fast.grad.abs().max() < 1e-4, name
            continue
        assert rel(p_fast.grad, p_ref.grad) < 1e-3, name
    for (name, b_ref), b_fast in zip(ref_net.named_buffers(), fast_net.buffers()):
        assert rel(b_fast.float(), b_ref.float()) < 1e-5, name
