"""The fast inference path (``jointsed predict`` on long files) equals the reference path.

- :class:`jointsed.models.fast.FoldedCNN` (batch norm folded into the convolutions, ReLU after
  the max-pool, first layers chunked in time) gives the scores of the guided-learning CNNs in
  eval mode, for Lin's full-size PT and PS and for odd shapes (even kernels, lengths that are
  not a multiple of the time pooling, chunk boundaries that cut a pool);
- :func:`jointsed.models.fast.overlapping_window_frames` (a time-local frame network run once
  over overlapping windows' union, window edges from crops) equals the network run window by
  window, for overlapping, touching, irregular and refused window layouts.

Scores are compared with ``atol=1e-5`` (float round-off: folding batch norm reorders a few
multiplications). The batch-norm statistics and all weights are random and far from their
initial values, so that a wrong fold or a wrong edge cannot hide.
"""

from __future__ import annotations

import pytest
import torch

import jointsed.models.fast as fast
from jointsed.models import professional_teacher, promising_student
from jointsed.models.fast import FoldedCNN, frame_halo, overlapping_window_frames

RATIOS = [0.05, 0.3, 0.6, 1.0]


def _randomised(net: torch.nn.Module, seed: int) -> torch.nn.Module:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in net.state_dict().items():
            if tensor.is_floating_point():
                # noise on the scale of each tensor (the zero-initialised frame head gets its
                # fan-in's scale): activations keep a trained network's range, not 10^3
                scale = float(tensor.abs().mean()) or float(tensor.shape[-1]) ** -0.5
                tensor.add_(scale * torch.randn(tensor.shape, generator=gen))
                if "running_var" in name:
                    tensor.abs_().add_(0.2)
    return net.eval()


def _input(batch: int, frames: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, frames, 64, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("kind", ["pt", "ps", "ps_even_kernels", "pt_narrow_odd_length"])
def test_folded_cnn_equals_the_network_in_eval_mode(kind, monkeypatch):
    if kind == "pt":
        net, frames = professional_teacher(4, 64, RATIOS), 300
    elif kind == "ps":
        net, frames = promising_student(4, 64, RATIOS), 200
    elif kind == "ps_even_kernels":  # "same" padding pads one more frame after than before
        net, frames = promising_student(4, 64, RATIOS, channels=(12, 10, 8), kernel_sizes=((4, 4), (2, 3), (3, 3))), 123
    else:  # 437 frames: padded to 500 by repeating the last frame; 5-frame pools cut by chunks
        net, frames = professional_teacher(4, 64, RATIOS, width=0.25), 437
    net = _randomised(net, 1)
    # small chunks, so that every convolution with few input channels runs chunked here
    monkeypatch.setattr(fast, "CHUNK_FLOATS", 4096)
    monkeypatch.setattr(fast, "CHUNK_MIN_OUT", 1)
    x = _input(2, frames)
    with torch.inference_mode():
        ref = net(x)
        clip, frame = FoldedCNN(net)(x)
    assert frame.shape == ref.frame.shape and clip.shape == ref.clip.shape
    torch.testing.assert_close(clip, ref.clip, atol=1e-5, rtol=0)
    torch.testing.assert_close(frame, ref.frame, atol=1e-5, rtol=0)
    assert ref.frame.std() > 1e-3 and ref.clip.std() > 1e-3  # scores that vary: a real comparison
    with torch.inference_mode():  # the block maps the distillation's frozen frame teacher gives
        maps = FoldedCNN(net).feature_maps(x)
    assert len(maps) == len(ref.features)
    for got, want in zip(maps, ref.features):
        assert got.shape == want.shape and want.std() > 1e-3
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-5)


def test_frame_halo_only_for_time_local_networks():
    assert frame_halo(promising_student(4, 64)) == (5, 5)  # Lin's PS: kernels 5, 5, 3
    assert frame_halo(promising_student(4, 64, channels=(8, 8, 8), kernel_sizes=((4, 4), (2, 3), (3, 3)))) == (1 + 0 + 1, 2 + 1 + 1)
    assert frame_halo(professional_teacher(4, 64)) is None  # pools time by 100
    assert frame_halo(promising_student(4, 64, input_norm="instance")) is None  # min/max of the window


def _windows(series: torch.Tensor, starts: list[int], window: int) -> torch.Tensor:
    return torch.stack([series[s : s + window] for s in starts])


@pytest.mark.parametrize("starts", [
    [0, 60, 120, 180, 211],   # half-window hop, the last window ending at the file's end
    [0, 24, 48, 72],          # a fifth of a window
    [40, 41, 42, 130],        # one-frame hops, then a jump: any overlap pattern
])
def test_overlapping_windows_share_one_pass(starts):
    # Lin's full-size PS; its frames are time-local, so a shorter window (120 frames) tests the
    # same edges as a 500-frame one, in a quarter of the time
    net = _randomised(promising_student(4, 64, RATIOS), 2)
    window = 120
    x = _windows(_input(1, starts[-1] + window, 3)[0], starts, window)
    folded = FoldedCNN(net)
    with torch.inference_mode():
        ref = net(x).frame
        got = overlapping_window_frames(folded, x, starts, frame_halo(net))
    assert got is not None and got.shape == ref.shape
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=0)
    # the edge frames really differ from the union's: the crops are needed
    with torch.inference_mode():
        union = folded(_input(1, starts[-1] + window, 3))[1][0]
    assert (ref[1, :5] - union[starts[1] : starts[1] + 5]).abs().max() > 1e-3


def test_windows_that_do_not_overlap_are_left_to_the_plain_path():
    net = promising_student(4, 64, channels=(8, 8, 8))
    folded, halo = FoldedCNN(net.eval()), frame_halo(net)
    x = _input(3, 500)
    assert overlapping_window_frames(folded, x, [0, 500, 1000], halo) is None  # no overlap: no gain
    assert overlapping_window_frames(folded, x, [0, 600, 700], halo) is None   # a gap: no union
    assert overlapping_window_frames(folded, x, [300, 0, 150], halo) is None   # not in order
    assert overlapping_window_frames(folded, x[:1], [0], halo) is None


@pytest.mark.parametrize("kind", ["pt", "ps"])
def test_bfloat16_folded_cnn_stays_near_float32(kind):
    """``jointsed predict --precision bf16``: the convolutions in bfloat16 (8 significant bits)
    move the scores, but only by bfloat16's rounding, not by a wrong layout or fold."""
    net = professional_teacher(4, 64, RATIOS, width=0.5) if kind == "pt" else promising_student(4, 64, RATIOS)
    net = _randomised(net, 5)
    x = _input(2, 300 if kind == "pt" else 200, 6)
    with torch.inference_mode():
        ref = net(x)
        clip, frame = FoldedCNN(net, torch.bfloat16)(x)
    assert clip.dtype == frame.dtype == torch.float32 and frame.shape == ref.frame.shape
    assert ref.frame.std() > 1e-2  # scores that vary
    frame_error = (frame - ref.frame).abs()
    assert frame_error.max() > 1e-6  # the reduced precision is really used
    assert frame_error.mean() < 2e-3 and frame_error.max() < 0.02  # measured: 7e-4 and 4e-3 (PS)
    torch.testing.assert_close(clip, ref.clip, atol=0.01, rtol=0)


def test_folded_cnn_refuses_other_dtypes():
    with pytest.raises(ValueError, match="float32 or bfloat16"):
        FoldedCNN(promising_student(4, 64, channels=(8, 8, 8)).eval(), torch.float16)
