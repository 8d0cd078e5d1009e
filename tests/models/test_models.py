"""Tests of jointsed.models' networks (cnn, crnn, build_model): shapes, configs, a short
optimisation. The pooling maths is in test_pooling.py."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from jointsed.config import ConfigError, from_dict, to_dict
from jointsed.models import (
    CRNNConfig,
    ConvNetConfig,
    ModelInputError,
    PoolingError,
    SEDOutput,
    build_model,
    crnn,
    professional_teacher,
    promising_student,
)


N_CLASSES = 10


def _check_output(out: SEDOutput, batch: int, frames: int, net_frames: int, dim: int) -> None:
    assert out.clip.shape == (batch, N_CLASSES)
    assert out.frame.shape == (batch, frames, N_CLASSES)
    assert out.frame_logits.shape == (batch, net_frames, N_CLASSES)
    assert out.embedding.shape == (batch, net_frames, dim)
    for probs in (out.clip, out.frame):
        assert torch.isfinite(probs).all() and probs.min() >= 0 and probs.max() <= 1


@torch.no_grad()
def test_professional_teacher_shapes_500x64():
    torch.manual_seed(0)
    model = professional_teacher(N_CLASSES).eval()
    out = model(torch.randn(2, 500, 64))
    _check_output(out, 2, 500, 5, 512)
    assert model.feature_dim == 512
    assert [f.shape[1] for f in out.features] == model.feature_channels == [16, 32, 64, 128, 256]
    assert [tuple(f.shape[2:]) for f in out.features] == [(100, 16), (20, 8), (10, 4), (5, 2), (5, 2)]
    # The frame output is the net-rate frame probability repeated over the 100 input frames it covers.
    expected = torch.sigmoid(out.frame_logits).repeat_interleave(100, dim=1)
    torch.testing.assert_close(out.frame, expected)


@torch.no_grad()
def test_promising_student_shapes_500x64():
    torch.manual_seed(0)
    model = promising_student(N_CLASSES).eval()
    out = model(torch.randn(1, 500, 64))
    _check_output(out, 1, 500, 500, 160)
    assert [tuple(f.shape[1:]) for f in out.features] == [(160, 500, 16), (160, 500, 4), (160, 500, 1)]
    torch.testing.assert_close(out.frame, torch.sigmoid(out.frame_logits))


@torch.no_grad()
def test_crnn_shapes_500x64():
    torch.manual_seed(0)
    model = crnn(N_CLASSES).eval()
    out = model(torch.randn(2, 500, 64))
    _check_output(out, 2, 500, 125, 256)
    assert out.clip_logits is None
    assert [f.shape[1] for f in out.features] == [16, 32, 64, 128, 128, 128, 128]
    assert out.features[-1].shape[-1] == 1  # frequency pooled down to one bin
    # Baseline parameter count is about 1.1 M.
    assert 1.0e6 < sum(p.numel() for p in model.parameters()) < 1.2e6


@pytest.mark.parametrize("frames", [1, 99, 503])
@pytest.mark.parametrize("name", ["professional_teacher", "crnn"])
@torch.no_grad()
def test_lengths_not_multiple_of_time_pooling(name, frames):
    model = build_model(name, N_CLASSES, 64, width=0.25).eval()
    out = model(torch.randn(2, frames, 64))
    assert out.frame.shape == (2, frames, N_CLASSES)
    assert out.frame_logits.shape[1] == math.ceil(frames / model.time_pooling)


@torch.no_grad()
def test_short_tail_is_edge_padded():
    """A length that is not a multiple of the time pooling behaves like repeating the last frame."""
    torch.manual_seed(0)
    model = professional_teacher(N_CLASSES, width=0.25, input_norm="none").eval()
    x = torch.randn(1, 230, 64)
    padded = torch.cat([x, x[:, -1:].expand(-1, 70, -1)], dim=1)  # 300 frames = 3 x 100
    out, ref = model(x), model(padded)
    torch.testing.assert_close(out.embedding, ref.embedding)
    torch.testing.assert_close(out.clip, ref.clip)
    torch.testing.assert_close(out.frame, ref.frame[:, :230])


def test_width_and_channel_overrides():
    ps64 = promising_student(N_CLASSES, channels=(64, 64, 64))
    assert ps64.feature_dim == 64 and ps64.feature_channels == [64, 64, 64]
    pt_half = professional_teacher(N_CLASSES, width=0.5)
    assert pt_half.feature_channels == [8, 16, 32, 64, 128] and pt_half.feature_dim == 256
    small_crnn = crnn(N_CLASSES, width=0.5, rnn_hidden=32)
    assert small_crnn.feature_channels == [8, 16, 32, 64, 64, 64, 64] and small_crnn.feature_dim == 64
    projected = promising_student(N_CLASSES, channels=(16, 16, 16), embedding_dim=24)
    assert projected(torch.randn(1, 20, 64)).embedding.shape == (1, 20, 24)


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match="chanels"):
        professional_teacher(N_CLASSES, chanels=(1, 2))
    with pytest.raises(ConfigError, match="pools"):
        professional_teacher(N_CLASSES, pools=((2, 2),))
    with pytest.raises(ConfigError, match="dropout"):
        crnn(N_CLASSES, dropout=1.5)
    with pytest.raises(ConfigError, match="unknown model"):
        build_model("resnet", N_CLASSES, 64)
    with pytest.raises(ConfigError, match="pooled away"):
        professional_teacher(N_CLASSES, n_mels=8)
    with pytest.raises(PoolingError, match="class ratios"):
        professional_teacher(N_CLASSES, class_ratios=[1.0, 0.5])


def test_configs_round_trip_through_from_dict():
    for cls in (ConvNetConfig, CRNNConfig):
        cfg = cls()
        assert from_dict(cls, to_dict(cfg)) == cfg
    cfg = from_dict(ConvNetConfig, {"channels": [8, 8], "convs_per_block": [1, 1],
                                    "kernel_sizes": [[3, 3], [1, 1]], "pools": [[2, 4], [1, 2]]})
    assert cfg.pools == ((2, 4), (1, 2)) and cfg.time_pooling == 2 and cfg.feature_dim(64) == 8 * 8


def test_wrong_input_shape_is_a_clear_error():
    model = promising_student(N_CLASSES, channels=(8, 8, 8))
    with pytest.raises(ModelInputError, match=r"\(batch, frames, 64\)"):
        model(torch.randn(2, 64, 100))


def test_crnn_frequency_pools_adapt_to_n_mels():
    assert CRNNConfig().resolved_freq_pools(128) == [2] * 7
    assert CRNNConfig().resolved_freq_pools(64) == [2] * 6 + [1]
    assert CRNNConfig().freq_bins(40) == 1
    # More bands than the pools can absorb: channels x bins are flattened into the GRU input.
    model = crnn(N_CLASSES, n_mels=256, width=0.25, rnn_hidden=8)
    assert model.rnn.input_size == model.feature_channels[-1] * 2
    assert model(torch.randn(1, 16, 256)).frame.shape == (1, 16, N_CLASSES)


def test_same_seed_same_model_output():
    outs = []
    for _ in range(2):
        torch.manual_seed(3)
        model = promising_student(N_CLASSES, channels=(8, 8, 8)).eval()
        outs.append(model(torch.randn(1, 30, 64)).clip)
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=0)


@pytest.mark.parametrize("name", ["professional_teacher", "promising_student", "crnn"])
def test_few_steps_reduce_supervised_loss(name):
    torch.manual_seed(0)
    kwargs = {"width": 0.25} if name != "crnn" else {"width": 0.25, "rnn_hidden": 16}
    model = build_model(name, 3, 64, class_ratios=[1.0, 0.5, 0.2] if name != "crnn" else None, **kwargs)
    x = torch.randn(4, 100, 64)
    x[:2, 20:60, :10] += 3.0  # class 0 present in clips 0 and 1 at frames 20-60
    strong = torch.zeros(4, 100, 3)
    strong[:2, 20:60, 0] = 1
    weak = strong.amax(dim=1)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)

    def loss_fn() -> torch.Tensor:
        out = model(x)
        return F.binary_cross_entropy(out.clip, weak) + F.binary_cross_entropy(out.frame, strong)

    model.train()
    first = loss_fn()
    for _ in range(8):
        optimiser.zero_grad()
        loss = loss_fn()
        loss.backward()
        optimiser.step()
    assert loss_fn().item() < first.item()
