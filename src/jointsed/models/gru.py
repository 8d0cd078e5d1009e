"""A training-time bidirectional GRU for CPU with a hand-written backward (the CRNN's ``nn.GRU``).

Why: PyTorch's CPU GRU backward is autograd over ~20 tiny operators per time step, direction
and layer (16 x 64 tensors at the CPU size): ~80 ms forward + backward for the CPU CRNN's 2-layer
GRU over 125 frames, mostly per-operator overhead. Here, per layer, one autograd function:

- forward: the input projections of all steps and both directions in one batched matmul, then a
  Python loop where both directions advance together (a leading dim of 2): one ``baddbmm`` for
  the hidden projections and 11 elementwise operators into preallocated buffers per step, 5 of
  them writing the backward's per-step factors while the step's data is in cache;
- backward: a reverse loop of 4 products (all gate gradients) + ``addcmul`` + ``baddbmm`` (the
  previous state's gradient) per step into one buffer, then the weight, bias and input
  gradients as 3 large matmuls and 2 sums over all steps.

Math (PyTorch's, gate order r, z, n): with ``a = W_i x + b_i`` and ``c = W_h h + b_h``,
``r, z = sigmoid(a_rz + c_rz)``, ``n = tanh(a_n + r * c_n)``, ``h' = n + z * (h - n)``
(= ``(1 - z) n + z h``). With ``g = dL/dh'`` and ``~`` for pre-activation gradients:
``dn~ = g (1 - z)(1 - n^2)``, ``dz~ = g (h - n) z (1 - z)``, ``dr~ = dn~ c_n r (1 - r)``;
the input side takes ``[dr~, dz~, dn~]``, the hidden side ``[dr~, dz~, r dn~]``, and
``dL/dh = g z + W_h^T [dr~, dz~, r dn~]``. Both blocks are contiguous slices of one buffer
``[r dn~, dr~, dz~, dn~]`` when the hidden weights are kept in gate order (n, r, z) internally;
parameters, gradients and checkpoints keep PyTorch's order. Same math as ``nn.GRU``, other
operation order: equal up to float round-off (``tests/models/test_gru.py``).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Optional

import torch
from torch import Tensor, nn

#: run the per-step loops on one thread when a step's hidden matmul is below this many
#: multiply-adds (``2 B H 3H``): at the CPU size (0.4 M) the second thread gains nothing and each
#: parallel region is a synchronisation (which stalls when the other core is busy); from ~1 M
#: (batch 48 x hidden 64, or batch 16 x hidden 128) two threads are faster. 0: never.
ONE_THREAD_MAX_MACS = 1_000_000


def fast_gru_applies(gru: nn.GRU, x: Tensor) -> bool:
    """:func:`bidirectional_gru` runs its own path for ``gru`` on ``x`` (else the module runs)."""
    return (isinstance(gru, nn.GRU) and gru.batch_first and gru.bidirectional and gru.bias
            and getattr(gru, "proj_size", 0) == 0 and (gru.dropout == 0.0 or gru.num_layers == 1)
            and x.dim() == 3 and x.shape[0] > 0 and x.shape[1] > 0 and x.shape[2] == gru.input_size
            and x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64)
            and torch.is_grad_enabled() and not torch.is_autocast_enabled("cpu")
            and all(p.dtype == x.dtype and p.device == x.device for p in gru.parameters()))


def bidirectional_gru(x: Tensor, gru: nn.GRU) -> Tensor:
    """``gru(x)[0]`` (zero initial state; ``(B, T, I) -> (B, T, 2H)``) with the fast forward +
    backward of this module where :func:`fast_gru_applies`, else the module itself.

    Uses ``gru``'s own parameters (``weight_ih_l{k}``, ..., ``_reverse``), so checkpoints and the
    eval path are unchanged. Without grad mode the module runs (its fused forward is faster)."""
    if not fast_gru_applies(gru, x):
        return gru(x)[0]
    h = x
    for k in range(gru.num_layers):
        params = [getattr(gru, f"{name}_l{k}{suffix}") for suffix in ("", "_reverse")
                  for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        h = _BiGRULayer.apply(h, *params)
    return h


def _reversed(steps: int) -> Tensor:
    return torch.arange(steps - 1, -1, -1)


def _directions(x: Tensor, split: bool = False) -> Tensor:
    """``(B, T, C)`` -> ``(2, T, B, C)``: time-major, the second copy reversed in time (``split``:
    ``(B, T, 2H)`` -> ``(2, T, B, H)``, the first half for the forward direction, the second for
    the reverse one: inverse of :func:`_from_directions`)."""
    c = x.shape[2] // 2 if split else x.shape[2]
    out = x.new_empty((2, x.shape[1], x.shape[0], c))
    out[0].copy_(x[:, :, :c].transpose(0, 1))
    torch.index_select(x[:, :, -c:].transpose(0, 1), 0, _reversed(x.shape[1]), out=out[1])
    return out


def _from_directions(y: Tensor) -> Tensor:
    """``(2, T, B, H)`` in each direction's step order -> ``(B, T, 2H)`` (PyTorch's layout)."""
    _, t, b, h = y.shape
    out = y.new_empty((b, t, 2 * h))
    out[:, :, :h].copy_(y[0].transpose(0, 1))
    out[:, :, h:].copy_(y[1].index_select(0, _reversed(t)).transpose(0, 1))
    return out


def _nrz(w: Tensor, h: int) -> Tensor:
    """Gate blocks (r, z, n) -> (n, r, z) along dim 1 of a ``(2, 3H, ...)`` tensor."""
    return torch.cat((w[:, 2 * h:], w[:, :2 * h]), dim=1)


def _rzn(w: Tensor, h: int) -> Tensor:
    """Inverse of :func:`_nrz`."""
    return torch.cat((w[:, h:], w[:, :h]), dim=1)


class _BiGRULayer(torch.autograd.Function):
    """One bidirectional GRU layer, both directions stacked as a leading dim of 2 (module doc).

    The forward loop also writes the backward's per-step factors while they are in cache
    (computing them over all steps afterwards is several memory-bound passes, slower):
    ``kz = (h - n) z (1 - z)``, ``kn = (1 - z)(1 - n^2)``, ``kr = c_n r (1 - r)``; the backward
    loop is then ``dz~ = g kz``, ``dn~ = g kn``, ``dr~ = dn~ kr``, ``r dn~`` and one ``baddbmm``."""

    @staticmethod
    def forward(ctx, x: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor,
                w_ih_r: Tensor, w_hh_r: Tensor, b_ih_r: Tensor, b_hh_r: Tensor) -> Tensor:
        batch, steps, _ = x.shape
        hid = w_hh.shape[1]
        wi = torch.stack((w_ih, w_ih_r))  # (2, 3H, I), gates r, z, n
        wh = _nrz(torch.stack((w_hh, w_hh_r)), hid)  # (2, 3H, H), gates n, r, z
        bh = _nrz(torch.stack((b_hh, b_hh_r)).unsqueeze(2), hid).transpose(1, 2)  # (2, 1, 3H)
        xs = _directions(x)  # (2, T, B, I)
        gi = torch.baddbmm(torch.stack((b_ih, b_ih_r)).unsqueeze(1), xs.view(2, steps * batch, -1),
                           wi.transpose(1, 2)).view(2, steps, batch, 3 * hid)
        hs = x.new_empty((2, steps + 1, batch, hid))  # hs[:, t] = state entering step t
        hs[:, 0].zero_()
        rz = x.new_empty((2, steps, batch, 2 * hid))
        k = x.new_empty((3, 2, steps, batch, hid))  # kz, kn, kr
        # per-step scratch: c = W_h h + b_h (gates n, r, z), n, h - n, sigmoid'(r, z)
        ch = x.new_empty((2, batch, 3 * hid))
        ch_n, ch_rz = ch[..., :hid], ch[..., hid:]
        n, d, q = x.new_empty((2, batch, hid)), x.new_empty((2, batch, hid)), x.new_empty((2, batch, 2 * hid))
        q_r, q_z = q[..., :hid], q[..., hid:]
        one = x.new_ones(())
        wh_t = wh.transpose(1, 2).contiguous()
        ctx.one_thread = 6 * batch * hid * hid < ONE_THREAD_MAX_MACS
        # per-step views, built once (slicing inside the loop costs more than some of its operators)
        gi_rz, gi_n = gi[..., :2 * hid].unbind(1), gi[..., 2 * hid:].unbind(1)
        r_s, z_s = rz[..., :hid].unbind(1), rz[..., hid:].unbind(1)
        kz, kn, kr = (v.unbind(1) for v in k)
        h_s, rz_s = hs.unbind(1), rz.unbind(1)
        with _single_thread(ctx.one_thread):
            for t in range(steps):
                h_t, rz_t, r_t, z_t, kn_t = h_s[t], rz_s[t], r_s[t], z_s[t], kn[t]
                torch.baddbmm(bh, h_t, wh_t, out=ch)
                torch.add(gi_rz[t], ch_rz, out=rz_t).sigmoid_()
                torch.addcmul(gi_n[t], r_t, ch_n, out=n).tanh_()
                torch.sub(h_t, n, out=d)
                torch.addcmul(n, z_t, d, out=h_s[t + 1])
                torch.addcmul(rz_t, rz_t, rz_t, value=-1.0, out=q)  # sigmoid' = s - s^2
                torch.mul(d, q_z, out=kz[t])
                torch.addcmul(one, n, n, value=-1.0, out=kn_t).addcmul_(kn_t, z_t, value=-1.0)
                torch.mul(ch_n, q_r, out=kr[t])
        ctx.save_for_backward(xs, wi, wh, hs, rz, k)
        return _from_directions(hs[:, 1:])

    @staticmethod
    def backward(ctx, grad: Tensor):
        xs, wi, wh, hs, rz, k = ctx.saved_tensors
        _, steps, batch, hid = hs.shape
        steps -= 1
        go = _directions(grad, split=True)  # (2, T, B, H) in step order
        dg = hs.new_empty((2, steps, batch, 4, hid))  # [r dn~, dr~, dz~, dn~]
        flat = dg.view(2, steps, batch, 4 * hid)
        dhn_s, dr_s, dz_s, dn_s = (dg[:, :, :, i].unbind(1) for i in range(4))
        dgh_s = flat[..., :3 * hid].unbind(1)
        r_s, z_s, g_s = rz[..., :hid].unbind(1), rz[..., hid:].unbind(1), go.unbind(1)
        kz, kn, kr = (v.unbind(1) for v in k)
        dh = g_s[-1]
        with _single_thread(ctx.one_thread):
            for t in range(steps - 1, -1, -1):
                dn = dn_s[t]
                torch.mul(dh, kz[t], out=dz_s[t])
                torch.mul(dh, kn[t], out=dn)
                torch.mul(dn, kr[t], out=dr_s[t])
                torch.mul(dn, r_s[t], out=dhn_s[t])
                if t > 0:
                    dh = torch.baddbmm(torch.addcmul(g_s[t - 1], dh, z_s[t]), dgh_s[t], wh)
        flat = flat.view(2, steps * batch, 4 * hid)
        dg_h, dg_i = flat[..., :3 * hid], flat[..., hid:]  # gates (n, r, z) and (r, z, n)
        dw_hh = _rzn(torch.bmm(dg_h.transpose(1, 2), hs[:, :-1].reshape(2, steps * batch, hid)), hid)
        db_hh = _rzn(dg_h.sum(1).unsqueeze(2), hid).squeeze(2)
        dw_ih = torch.bmm(dg_i.transpose(1, 2), xs.view(2, steps * batch, -1))
        db_ih = dg_i.sum(1)
        dx: Optional[Tensor] = None
        if ctx.needs_input_grad[0]:
            dxs = torch.bmm(dg_i, wi).view(2, steps, batch, -1)
            dx = torch.add(dxs[0], dxs[1].index_select(0, _reversed(steps))).transpose(0, 1)
        return dx, dw_ih[0], dw_hh[0], db_ih[0], db_hh[0], dw_ih[1], dw_hh[1], db_ih[1], db_hh[1]


@contextmanager
def _single_thread(enabled: bool) -> Iterator[None]:
    """One thread inside (when ``enabled``), the caller's thread count restored after, errors included."""
    threads = torch.get_num_threads()
    if not enabled or threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
