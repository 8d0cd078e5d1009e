"""Training-time fast paths for the convolutional blocks on CPU (the networks' ``forward`` in
training mode; inference has its own fast forms in :mod:`jointsed.models.fast`).

Where a training step's time goes (``benchmarks/train_profile.py``): at 10-s clips the first
blocks work on full-resolution maps (500 frames x 64 bands x 8-16 channels x batch 16, 16-33 MB
each), where every operator is a pass over memory, and oneDNN's convolution backward for few
channels is slow on NCHW tensors. So:

- the maps are kept **channels-last** (``(B, C, T, F)`` with ``C`` innermost), where oneDNN's
  small-channel convolutions are 2-5x faster forward + backward, and the frequency max-pool too;
- **batch norm + ReLU** in training mode is one autograd function (:func:`batch_norm_train`)
  whose statistics and backward reductions come from two BLAS products over the ``(N, C)`` rows
  of the channels-last map, and whose output and input gradient are affine maps of it: fewer
  passes than ``BatchNorm2d`` then ``ReLU``, and accurate (PyTorch 2.13's own channels-last
  ``BatchNorm2d`` on CPU loses precision on such maps: input gradients off by ~0.2 of their
  range against a float64 reference, ours by ~1e-6; ``tests/models/test_fused.py``);
- **dropout** draws its keep mask from random bytes (:class:`ByteMaskDropout`): three mask
  elements per 32-bit draw instead of one Bernoulli draw per element, ~10x faster.

Numerics: batch norm and the convolutions equal the reference operators up to float round-off;
dropout draws other random masks (and applies its rate at 1/256 resolution), so a training run
is not bit-identical to one before these paths, which is why ``benchmarks/README.md`` reports
held-out results before and after over three seeds.
"""

from __future__ import annotations

import os
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_CL = torch.channels_last


def fused_training_enabled() -> bool:
    """The training fast paths are on unless ``JOINTSED_REFERENCE_TRAINING=1`` (benchmarks and
    tests compare both; read at each forward so a test can switch it)."""
    return os.environ.get("JOINTSED_REFERENCE_TRAINING", "") not in ("1", "true", "yes")


def is_channels_last(x: Tensor) -> bool:
    """``x`` is a 4-D channels-last-contiguous tensor (``C`` has stride 1)."""
    return x.dim() == 4 and x.is_contiguous(memory_format=_CL)


def _rows(x: Tensor) -> Tensor:
    """A channels-last ``(B, C, T, F)`` map as its ``(B*T*F, C)`` rows (a view, no copy)."""
    return x.permute(0, 2, 3, 1).reshape(-1, x.shape[1])


def _as_map(rows: Tensor, like: Tensor) -> Tensor:
    """``(B*T*F, C)`` rows back to a channels-last ``(B, C, T, F)`` map shaped like ``like``."""
    b, c, t, f = like.shape
    return rows.view(b, t, f, c).permute(0, 3, 1, 2)


class _BatchNormChannelsLast(torch.autograd.Function):
    """Training-mode batch norm (optionally + ReLU) of a channels-last map.

    Forward: per channel ``mean``, ``var`` (biased) from ``sum(x)`` and the diagonal of the
    Gram matrix ``X^T X`` (a BLAS product: one read of the map), combined in float64, then
    ``y = max(0, x * scale + shift)``. Backward: with ``g`` the output gradient (masked by
    ``y > 0`` after a ReLU), ``sum(g)`` and ``sum(g * x)`` (the Gram diagonal again) give the
    exact batch-norm gradient as another affine map ``dx = a * g + b * x + c`` per channel.
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor, eps: float, relu: bool):
        rows = _rows(x)
        n = rows.shape[0]
        mean = rows.sum(0).double() / n
        second = torch.diagonal(torch.mm(rows.t(), rows)).double() / n
        var = (second - mean * mean).clamp_min(0.0)
        invstd = torch.rsqrt(var + eps)
        scale = weight.double() * invstd
        shift = bias.double() - mean * scale
        out = torch.addcmul(shift.to(x.dtype), rows, scale.to(x.dtype))
        if relu:
            out.clamp_min_(0.0)
        ctx.save_for_backward(x, out, weight, mean, invstd)
        ctx.relu = relu
        ctx.mark_non_differentiable(mean, var)
        return _as_map(out, x), mean.to(x.dtype), var.to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out: Tensor, _grad_mean: Optional[Tensor], _grad_var: Optional[Tensor]):
        x, out, weight, mean, invstd = ctx.saved_tensors
        rows = _rows(x)
        n = rows.shape[0]
        g = _rows(grad_out.contiguous(memory_format=_CL))
        if ctx.relu:
            g = torch.ops.aten.threshold_backward(g, out, 0.0)
        sum_g = g.sum(0).double()
        sum_gx = torch.diagonal(torch.mm(g.t(), rows)).double()
        centred = sum_gx - mean * sum_g  # sum of g * (x - mean)
        w = weight.double()
        a = w * invstd
        b = -w * invstd.pow(3) * centred / n
        c = -a * sum_g / n - b * mean
        dx = torch.addcmul(c.to(x.dtype), g, a.to(x.dtype)).addcmul_(rows, b.to(x.dtype))
        return _as_map(dx, x), (centred * invstd).to(weight.dtype), sum_g.to(weight.dtype), None, None


def _fast_batch_norm_applies(x: Tensor, bn: nn.BatchNorm2d) -> bool:
    return (bn.training and bn.affine and bn.track_running_stats and bn.momentum is not None
            and x.dtype == torch.float32 and x.device.type == "cpu" and is_channels_last(x)
            and not torch.is_autocast_enabled("cpu"))


def _batch_norm_relu(x: Tensor, bn: nn.BatchNorm2d, relu: bool, offset: Optional[Tensor]) -> Tensor:
    """:class:`_BatchNormChannelsLast` of ``x = true map - offset`` (per channel), and the running
    statistics updated with the true map's mean and unbiased variance, as ``BatchNorm2d`` does."""
    y, mean, var = _BatchNormChannelsLast.apply(x, bn.weight, bn.bias, bn.eps, relu)
    with torch.no_grad():
        n = x.numel() // x.shape[1]
        true_mean = mean if offset is None else mean + offset
        bn.running_mean.mul_(1.0 - bn.momentum).add_(true_mean, alpha=bn.momentum)
        bn.running_var.mul_(1.0 - bn.momentum).add_(var * (n / max(n - 1, 1)), alpha=bn.momentum)
        bn.num_batches_tracked.add_(1)
    return y


def conv_batch_norm(x: Tensor, conv: nn.Conv2d, bn: nn.BatchNorm2d, relu: bool) -> Tensor:
    """``relu(bn(conv(x)))`` (or ``bn(conv(x))``) in training mode, fast on CPU.

    On a float32 channels-last CPU map (the weight is made channels-last so that oneDNN keeps
    the map so, one input channel included): the convolution, then :class:`_BatchNormChannelsLast`.
    The convolution's bias is lowered by an estimate of the output's per-channel mean: batch
    norm's output does not depend on a per-channel shift of its input, and a map centred near 0
    keeps the float32 statistics and gradient sums free of cancellation (the shift is added back
    for the running statistics). Anything else (eval mode, autocast, other devices): the modules themselves.
    """
    weight = conv.weight.contiguous(memory_format=_CL)
    fast = _fast_batch_norm_applies(x, bn) and conv.bias is not None
    if not fast:
        y = bn(conv(x))
        return F.relu(y, inplace=True) if relu else y
    with torch.no_grad():
        # the output's per-channel mean from the input's (every 7th position: a cheap estimate;
        # the zero padding at the borders makes it approximate, which is all centring needs)
        offset = conv.bias + weight.sum(dim=(2, 3)) @ _rows(x)[::7].mean(0)
    y = F.conv2d(x, weight, conv.bias - offset, conv.stride, conv.padding, conv.dilation, conv.groups)
    if not is_channels_last(y):  # pragma: no cover - oneDNN returned another layout
        y = y.contiguous(memory_format=_CL)
    return _batch_norm_relu(y, bn, relu, offset)


class _MaskedScale(torch.autograd.Function):
    """``x * mask * scale`` saving the boolean mask (1 byte per element) for the backward."""

    @staticmethod
    def forward(ctx, x: Tensor, mask: Tensor, scale: float) -> Tensor:
        ctx.save_for_backward(mask)
        ctx.scale = scale
        return x.mul(mask).mul_(scale)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (mask,) = ctx.saved_tensors
        return grad.mul(mask).mul_(ctx.scale), None, None


def keep_mask(like: Tensor, drop_rate: float) -> tuple[Tensor, float]:
    """A random boolean keep mask laid out like ``like`` and the rate it really drops.

    Each 32-bit draw of the default generator gives three uniform bytes (``random_`` on int32
    draws 31 random bits); an element is dropped when its byte is below ``round(256 * rate)``.
    So the rate is applied at 1/256 resolution (0.3 -> 0.30078; 0.5 exactly), and the caller
    rescales by the realised keep probability, keeping the expectation exact.
    """
    n = like.numel()
    threshold = int(round(drop_rate * 256))
    words = torch.empty((n + 2) // 3, dtype=torch.int32, device=like.device).random_()
    random_bytes = words.view(torch.uint8).view(-1, 4)[:, :3].reshape(-1)[:n]
    mask = random_bytes >= threshold
    if is_channels_last(like):
        b, c, t, f = like.shape
        return mask.view(b, t, f, c).permute(0, 3, 1, 2), threshold / 256.0
    return mask.view(like.shape), threshold / 256.0


class ByteMaskDropout(nn.Dropout):
    """``nn.Dropout`` with its keep mask drawn from random bytes (:func:`keep_mask`).

    Same interface, state dict (none) and eval behaviour (identity) as ``nn.Dropout``; in
    training on CPU ~10x faster than its Bernoulli draws (46 -> 4 ms for 4 M elements on 2
    cores). Other devices keep ``nn.Dropout``'s kernel, which is fast there.
    """

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0 or x.device.type != "cpu":
            return super().forward(x)
        mask, dropped = keep_mask(x, self.p)
        if dropped >= 1.0:
            return x * 0.0
        return _MaskedScale.apply(x, mask, 1.0 / (1.0 - dropped))
