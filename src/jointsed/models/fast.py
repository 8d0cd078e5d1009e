"""Inference-only fast path of the guided-learning CNNs (PT / PS); training never uses it.

:class:`FoldedCNN` computes what a :class:`~jointsed.models.cnn.GuidedLearningCNN` computes in
eval mode, equal up to float round-off (tests/models/test_fast.py: ~1e-6), faster on CPU:

- each eval-mode BatchNorm2d is folded into the convolution before it (one affine pass fewer
  over the largest activations);
- ReLU runs after the block's max-pool: ``max(relu(a), relu(b)) == relu(max(a, b))`` exactly, on
  a quarter of the values for Lin's frequency pools;
- wide convolutions with few input channels (the PS's first layer, 1 -> 160 channels at the
  full 500 x 64 resolution, memory-bound) run over time chunks of ~200 frames, each pooled
  while it is still in cache: measured on 2 idle cores, the full-size PS's first block takes
  ~10 ms per 10-s window instead of 45 ms. Chunking in time is exact: the input is zero-padded once
  ("same" padding) and each chunk sees the same samples.

With ``dtype=torch.bfloat16`` (``jointsed predict --precision bf16``) the convolutions run in
bfloat16 on channels-last tensors (oneDNN's AMX kernels on Xeon CPUs that have them, tensor cores
on GPUs) and the head (projection, pooling) in float32. That is NOT equal up to round-off:
bfloat16 keeps 8 significant bits, so scores move by ~1e-3 and an event whose score sits on a
threshold can flip; docs/quickstart.md gives the measured effect on detections and the speed.

:func:`frame_halo` says whether a network's frame output is *time-local* (no time pooling,
no per-clip input normalisation): then frame ``t`` depends only on input frames
``[t - left, t + right]`` and the frames of overlapping windows can be computed once over
their union (see :meth:`jointsed.runs.predictor.Predictor.window_scores`).
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from jointsed.models.cnn import GuidedLearningCNN
from jointsed.models.layers import flatten_frames, pad_time
from jointsed.models.output import upsample_frames

#: output floats per time chunk of a chunked convolution (8 MB, ~200 frames of the PS's first
#: layer). Idle 2-core machine, PS first block per 10 s: 7 ms at 2 MB chunks, ~10 ms at 8 MB,
#: 43 ms unchunked; but every chunk is a few thread-synchronised operations, and on a loaded
#: machine (load average 3 on 2 cores) 2 MB chunks were 1.5-2x slower than 8 MB ones.
CHUNK_FLOATS = 1 << 21
#: convolutions with fewer input channels than this and at least CHUNK_MIN_OUT output channels
#: are chunked in time: they write far more than they read (the PS's 1 -> 160 first layer).
#: The PT's narrow first layers (16 channels) gained nothing from it (measured, batch 16).
CHUNK_BELOW_CHANNELS = 32
CHUNK_MIN_OUT = 64


def _same_pads(kernel: tuple[int, int]) -> tuple[int, int, int, int]:
    """``F.pad`` widths (freq left, freq right, time left, time right) of ``padding="same"``:
    PyTorch puts ``(k - 1) // 2`` before and the rest after (even kernels pad one more after)."""
    kt, kf = kernel
    return ((kf - 1) // 2, kf - 1 - (kf - 1) // 2, (kt - 1) // 2, kt - 1 - (kt - 1) // 2)


def frame_halo(net: nn.Module) -> Optional[tuple[int, int]]:
    """``(left, right)`` input frames that frame ``t``'s output of ``net`` depends on around
    ``t``, or ``None`` when its frame output is not time-local (time pooling, instance input
    normalisation, a network that is not a :class:`GuidedLearningCNN`)."""
    if not isinstance(net, GuidedLearningCNN) or net.time_pooling != 1 or net.input_norm.mode == "instance":
        return None
    left = right = 0
    for block in net.blocks:
        for layer in block.convs:
            if isinstance(layer, nn.Conv2d):
                _, _, tl, tr = _same_pads(layer.kernel_size)
                left, right = left + tl * layer.dilation[0], right + tr * layer.dilation[0]
    return left, right


class FoldedCNN(nn.Module):
    """Eval-mode copy of a :class:`GuidedLearningCNN` with batch norm folded into the convolutions.

    Holds its own folded weights (the source network is not modified, and later changes to it
    are not seen: build it from the final, loaded network).

    Forward: ``x: (B, T, F)`` (normalised log-mel, as the network's input) ->
    ``(clip (B, C), frame (B, T, C))`` float32 probabilities.

    Args:
        net: the network, in eval mode.
        dtype: ``torch.float32`` (equal to ``net`` up to round-off) or ``torch.bfloat16`` (the
            convolutions in bfloat16, channels-last; see the module docstring).
    """

    def __init__(self, net: GuidedLearningCNN, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        if net.training:
            raise ValueError("FoldedCNN folds eval-mode batch norm: call net.eval() first")
        if dtype not in (torch.float32, torch.bfloat16):
            raise ValueError(f"FoldedCNN computes in float32 or bfloat16, not {dtype}")
        self.dtype = dtype
        self.n_mels = net.n_mels
        self.time_pooling = net.time_pooling
        self.input_norm = net.input_norm
        self.projection = net.projection
        self.pooling = net.pooling
        # per block: [(weight, bias, kernel)] and its (time, freq) pool
        self._layers: list[list[tuple[Tensor, Tensor, tuple[int, int]]]] = []
        self.pools: list[tuple[int, int]] = []
        params = []
        for block in net.blocks:
            mods = list(block.convs)
            layers = []
            for conv, bn in zip(mods[0::3], mods[1::3]):
                assert isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)
                if conv.dilation != (1, 1) or conv.stride != (1, 1) or conv.groups != 1:
                    raise ValueError("FoldedCNN supports stride-1, undilated, ungrouped convolutions only")
                scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
                weight = (conv.weight.detach() * scale[:, None, None, None]).contiguous()
                bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(bn.running_mean)
                bias = ((bias - bn.running_mean) * scale + bn.bias.detach()).contiguous()
                if dtype != torch.float32:  # reduced precision: channels-last weights too
                    weight = weight.to(dtype).contiguous(memory_format=torch.channels_last)
                    bias = bias.to(dtype)
                params += [weight, bias]
                layers.append((weight, bias, tuple(conv.kernel_size)))
            self._layers.append(layers)
            pool = block.pool.kernel_size if isinstance(block.pool, nn.MaxPool2d) else (1, 1)
            self.pools.append((pool, pool) if isinstance(pool, int) else tuple(pool))
        # registered so that .to(device) moves them; the list above keeps the structure
        self._folded = nn.ParameterList([nn.Parameter(p, requires_grad=False) for p in params])
        self._relink()

    def _relink(self) -> None:
        it = iter(self._folded)
        self._layers = [[(next(it), next(it), k) for (_, _, k) in layers] for layers in self._layers]

    def _apply(self, fn, *args, **kwargs):  # keep the structure pointing at the moved tensors
        out = super()._apply(fn, *args, **kwargs)
        self._relink()
        return out

    @staticmethod
    def _pool_relu(h: Tensor, pool: tuple[int, int]) -> Tensor:
        pt, pf = pool
        if pool != (1, 1):
            b, c, t, f = h.shape
            if pt == 1 and f % pf == 0:  # same maxima as max_pool2d, without its index bookkeeping
                if h.is_contiguous():
                    h = h.view(b, c, t, f // pf, pf).amax(-1)
                else:  # channels-last (bfloat16): pool the dimension next to the contiguous channels
                    h = h.permute(0, 2, 3, 1).reshape(b, t, f // pf, pf, c).amax(3).permute(0, 3, 1, 2)
            else:
                h = F.max_pool2d(h, pool)
        return torch.relu_(h)

    def _conv(self, h: Tensor, weight: Tensor, bias: Tensor, kernel: tuple[int, int],
              pool: Optional[tuple[int, int]]) -> Tensor:
        """``relu(conv_same(h))``, max-pooled by ``pool`` when given (the block's last conv)."""
        b, c_in, t, f = h.shape
        pool = pool or (1, 1)
        per_frame = b * weight.shape[0] * f
        pads = _same_pads(kernel)
        chunked = (self.dtype == torch.float32 and c_in < CHUNK_BELOW_CHANNELS and weight.shape[0] >= CHUNK_MIN_OUT
                   and per_frame * t > 2 * CHUNK_FLOATS)
        if not chunked:
            if pads[0] == pads[1] and pads[2] == pads[3]:  # odd kernels: no padded copy of the input
                return self._pool_relu(F.conv2d(h, weight, bias, padding=(pads[2], pads[0])), pool)
            return self._pool_relu(F.conv2d(F.pad(h, pads), weight, bias), pool)
        padded = F.pad(h, pads)
        step = max(8, CHUNK_FLOATS // per_frame) // pool[0] * pool[0] or pool[0]
        kt = kernel[0]
        outs = [self._pool_relu(F.conv2d(padded[:, :, s : min(t, s + step) + kt - 1], weight, bias), pool)
                for s in range(0, t, step)]
        return torch.cat(outs, dim=2)

    def feature_maps(self, x: Tensor) -> list[Tensor]:
        """Each block's pooled map ``(B, C_l, T_l, F_l)``, as the network's ``features`` (the
        deep feature distillation's frozen frame teacher asks for these)."""
        h = pad_time(self.input_norm(x), self.time_pooling).unsqueeze(1)  # (B, 1, T_pad, F)
        if self.dtype != torch.float32:  # bfloat16 convolutions on channels-last tensors (not chunked)
            h = h.to(self.dtype).contiguous(memory_format=torch.channels_last)
        maps = []
        for layers, pool in zip(self._layers, self.pools):
            for i, (weight, bias, kernel) in enumerate(layers):
                h = self._conv(h, weight, bias, kernel, pool if i == len(layers) - 1 else None)
            maps.append(h)
        return maps

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        n_frames = x.shape[1]
        h = self.feature_maps(x)[-1]
        out = self.pooling(self.projection(flatten_frames(h.float())))  # the head in float32
        return out.clip_probs, upsample_frames(out.frame_probs, self.time_pooling, n_frames)


def overlapping_window_frames(net: FoldedCNN, x: Tensor, starts: Sequence[int],
                              halo: tuple[int, int]) -> Optional[Tensor]:
    """Frame probabilities ``(W, T, C)`` of the windows ``x (W, T, F)`` of one file starting at
    frames ``starts``, for a network whose frame output is time-local with ``halo`` (see
    :func:`frame_halo`), from one pass over the windows' union instead of one per window.

    Frame ``j`` of a window depends on the window's input frames ``[j - left, j + right]``; for
    ``left <= j < T - right`` these lie inside the window, so it equals the union's frame (same
    inputs). The ``left`` first and ``right`` last frames see the window's zero padding: they
    come from crops of ``left + right`` frames at the window's edges, which see the same inputs
    and the same padding. Equal to ``net(x)[1]`` up to float round-off.

    Returns ``None`` when this does not apply (windows not ordered, not overlapping or touching,
    shorter than the crops) or does not pay (less than ~2 crops' worth of overlap per window).
    """
    n, window = x.shape[0], x.shape[1]
    left, right = halo
    crop = left + right
    starts = [int(s) for s in starts]
    if n < 2 or len(starts) != n or crop == 0 or crop >= window:
        return None
    steps = [b - a for a, b in zip(starts, starts[1:])]
    if min(steps) < 1 or max(steps) > window:
        return None
    s0 = starts[0]
    union = starts[-1] + window - s0
    if union + 2 * n * crop >= n * window:
        return None  # (nearly) no overlap: window by window is as cheap
    segment = x.new_empty(1, union, x.shape[2])
    for s, w in zip(starts, x):  # overlapping windows hold the same frames: any one fills them
        segment[0, s - s0 : s - s0 + window] = w
    whole = net(segment)[1][0]  # (union, C)
    edges = net(torch.cat([x[:, :crop], x[:, window - crop :]]))[1]  # (2W, crop, C)
    frame = torch.stack([whole[s - s0 : s - s0 + window] for s in starts])  # (W, T, C)
    if left:
        frame[:, :left] = edges[:n, :left]
    if right:
        frame[:, window - right :] = edges[n:, crop - right :]
    return frame
