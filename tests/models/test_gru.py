"""The training-time bidirectional GRU (jointsed.models.gru) against nn.GRU and float64."""

from __future__ import annotations

import copy
import importlib

import pytest
import torch
from torch import nn

from jointsed.models import crnn
from jointsed.models.gru import _single_thread, bidirectional_gru, fast_gru_applies

crnn_module = importlib.import_module("jointsed.models.crnn")  # the package re-exports crnn() over it


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """Norm-relative difference."""
    a, b = a.detach().double(), b.detach().double()
    return float((a - b).norm() / (b.norm() + 1e-30))


def _gru(inputs: int, hidden: int, layers: int, seed: int = 0, **kwargs) -> nn.GRU:
    torch.manual_seed(seed)
    gru = nn.GRU(inputs, hidden, num_layers=layers, batch_first=True, bidirectional=True, **kwargs)
    with torch.no_grad():  # larger than the default init: saturated and non-saturated gates
        for p in gru.parameters():
            p.mul_(2.0)
    return gru


def _run(gru: nn.GRU, x: torch.Tensor, g: torch.Tensor, dtype: torch.dtype, fast: bool,
         input_grad: bool = True) -> dict[str, torch.Tensor]:
    """Output, input gradient and every parameter's gradient of ``gru`` (a copy in ``dtype``)."""
    gru = copy.deepcopy(gru).to(dtype)
    x = x.to(dtype).detach().clone().requires_grad_(input_grad)
    y = bidirectional_gru(x, gru) if fast else gru(x)[0]
    if fast:
        assert type(y.grad_fn).__name__ == "_BiGRULayerBackward"  # the fast path ran
    y.backward(g.to(dtype))
    out = {"y": y, **{name: p.grad for name, p in gru.named_parameters()}}
    if input_grad:
        out["x"] = x.grad
    return out


# (batch, steps, inputs, hidden, layers): batch 1, one step, hidden 8 and 64, 1 and 2 layers
SHAPES = [(1, 6, 3, 8, 1), (3, 1, 5, 8, 2), (4, 11, 6, 8, 2), (2, 24, 16, 64, 2), (5, 9, 16, 8, 1)]


def _inputs(batch: int, steps: int, inputs: int, hidden: int, zeros: bool, seed: int = 1):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, steps, inputs, generator=gen, dtype=torch.float64)
    if zeros:  # dropout zeros: whole frames and single elements exactly 0
        x[:, ::2] = 0.0
        x[torch.rand(x.shape, generator=gen) < 0.5] = 0.0
    g = torch.randn(batch, steps, 2 * hidden, generator=gen, dtype=torch.float64)
    return x, g


@pytest.mark.parametrize("zeros", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_matches_nn_gru(shape, zeros):
    batch, steps, inputs, hidden, layers = shape
    gru = _gru(inputs, hidden, layers)
    x, g = _inputs(batch, steps, inputs, hidden, zeros)
    ref = _run(gru, x, g, torch.float64, fast=False)
    ours64 = _run(gru, x, g, torch.float64, fast=True)
    ours32 = _run(gru, x, g, torch.float32, fast=True)
    theirs32 = _run(gru, x, g, torch.float32, fast=False)
    assert ours64.keys() == ref.keys() == ours32.keys()
    for name, r in ref.items():
        assert ours64[name].dtype == torch.float64 and ours32[name].dtype == torch.float32
        assert ours64[name].shape == r.shape
        assert rel(ours64[name], r) < 1e-12, name
        err32, theirs = rel(ours32[name], r), rel(theirs32[name], r)
        assert err32 < 1e-5, (name, err32, theirs)
        assert err32 < 10 * theirs + 1e-6, (name, err32, theirs)  # float32 as accurate as nn.GRU's


def test_without_input_gradient():
    gru = _gru(6, 8, 2)
    x, g = _inputs(3, 7, 6, 8, zeros=False)
    ref = _run(gru, x, g, torch.float64, fast=False, input_grad=False)
    ours = _run(gru, x, g, torch.float64, fast=True, input_grad=False)
    assert "x" not in ours and ours.keys() == ref.keys()
    assert max(rel(ours[k], ref[k]) for k in ref) < 1e-12


@pytest.mark.parametrize("kwargs", [
    {"layers": 2, "dropout": 0.5},  # dropout between layers
    {"layers": 2, "bidirectional": False},
    {"layers": 1, "batch_first": False},
    {"layers": 1, "bias": False},
])
def test_fallback_is_nn_gru(kwargs):
    kwargs = {"batch_first": True, "bidirectional": True, **kwargs}
    layers = kwargs.pop("layers")
    torch.manual_seed(0)
    gru = nn.GRU(5, 8, num_layers=layers, **kwargs)
    x = torch.randn(3, 6, 5, requires_grad=True)
    assert not fast_gru_applies(gru, x)
    torch.manual_seed(7)
    ours = bidirectional_gru(x, gru)
    torch.manual_seed(7)
    ref = gru(x)[0]
    assert torch.equal(ours, ref)  # with dropout 0.5, a path without it would differ


def test_fallback_without_grad_mode_and_for_autocast():
    gru = _gru(5, 8, 2)
    x = torch.randn(3, 6, 5)
    assert fast_gru_applies(gru, x)
    with torch.no_grad():
        assert not fast_gru_applies(gru, x)
        assert torch.equal(bidirectional_gru(x, gru), gru(x)[0])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not fast_gru_applies(gru, x)
    assert not fast_gru_applies(gru, x.double())  # parameters in another dtype


def test_thread_count_restored():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with pytest.raises(RuntimeError):
            with _single_thread(True):
                assert torch.get_num_threads() == 1
                raise RuntimeError("inside the loop")
        assert torch.get_num_threads() == 2
        gru = _gru(5, 8, 2)
        x = torch.randn(3, 6, 5, requires_grad=True)
        bidirectional_gru(x, gru).sum().backward()
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def _crnn_step(model, x, dtype, reference: bool, monkeypatch) -> dict[str, torch.Tensor]:
    model = copy.deepcopy(model).to(dtype).train()
    monkeypatch.setenv("JOINTSED_REFERENCE_TRAINING", "1" if reference else "0")
    out = model(x.to(dtype))
    (out.frame.square().sum() + out.clip.sum() + out.embedding.sum()).backward()
    grads = {name: p.grad for name, p in model.named_parameters()
             if not name.endswith("conv.bias")}  # conv biases feed batch norm: gradient 0 + round-off
    return {"frame": out.frame, "clip": out.clip, "embedding": out.embedding, **grads}


def test_crnn_training_matches_reference(monkeypatch):
    calls: list = []
    wrapped = crnn_module.bidirectional_gru
    monkeypatch.setattr(crnn_module, "bidirectional_gru", lambda x, gru: calls.append(1) or wrapped(x, gru))
    torch.manual_seed(0)
    model = crnn(5, n_mels=16, width=0.25, rnn_hidden=16, dropout=0.0)  # no dropout: same masks in both
    x = torch.rand(2, 40, 16, dtype=torch.float64)
    ref64 = _crnn_step(model, x, torch.float64, True, monkeypatch)
    assert not calls  # the reference path runs the module
    fast64 = _crnn_step(model, x, torch.float64, False, monkeypatch)
    assert len(calls) == 1  # CRNN.forward took the fast GRU
    fast32 = _crnn_step(model, x, torch.float32, False, monkeypatch)
    ref32 = _crnn_step(model, x, torch.float32, True, monkeypatch)
    for name, r in ref64.items():
        assert rel(fast64[name], r) < 1e-10, name
        # float32 against float64, as accurate as the reference path (the attention pooling's
        # gradients cancel to ~1e-4 of their terms: both paths are ~1e-4 off there)
        err, theirs = rel(fast32[name], r), rel(ref32[name], r)
        assert err < max(1e-5, 10 * theirs), (name, err, theirs)
