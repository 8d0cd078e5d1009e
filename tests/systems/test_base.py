"""What every system computes for model selection (jointsed.systems.base): the validation
monitor and the adaptive focal loss's threshold-free training score (DESIGN sections 3 and 8).
Each test fails on the first implementation's behaviour (named in its docstring).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import GL_RECIPE, TINY_GL_WIDTHS
from jointsed.training.config import load_recipe
from jointsed.training.data import load_training_set, load_validation_set
from jointsed.training.fit import prepare_system
from jointsed.training.metrics import average_precision


TINY = TINY_GL_WIDTHS


def test_default_monitor_does_not_reward_an_untrained_network(learnable_dataset):
    """The first monitor, event F1 after 0.5/0.5 post-processing, gave outputs near 0.5 (an
    untrained network: whole-clip events) a score above 0 and kept epoch 0 on ties."""
    config = load_recipe(GL_RECIPE, TINY + ["data.max_clips_per_set=8"])
    assert config.validation.monitor == "ap"
    train = load_training_set(config, learnable_dataset, progress=False)
    val = load_validation_set(config, learnable_dataset, progress=False)
    system = prepare_system(config, train, val)
    targets = val.frame_targets.numpy().astype(np.float32)
    clip_targets = val.weak_targets.numpy()
    flat = system.compute_validation_metrics(np.full_like(clip_targets, 0.5), np.full_like(targets, 0.55), val)
    perfect = system.compute_validation_metrics(clip_targets, targets, val)
    assert flat["event_f1"] > 0  # what the old monitor rewarded
    # a constant score ranks nothing: AP = the classes' prevalence, far below a real detector's
    frame_prevalence = targets.reshape(-1, targets.shape[-1]).mean(0)
    assert flat["frame_ap"] == pytest.approx(frame_prevalence.mean(), abs=0.02)
    assert perfect["ap"] == pytest.approx(1.0) and perfect["ap"] > flat["ap"] + 0.3
    assert system.monitor_score(flat) == flat["ap"]


def test_adaptive_focal_loss_score_is_the_training_average_precision(learnable_dataset):
    """F_c is the per-class AP of the labelled training clips' scores of the epoch (the first
    implementation used the validation event F1, 0 for every class early on)."""
    config = load_recipe(GL_RECIPE, TINY + ["data.max_clips_per_set=8", "joint.focal.enabled=true"])
    train = load_training_set(config, learnable_dataset, progress=False)
    system = prepare_system(config, train, None)
    rng = np.random.default_rng(0)
    scores = torch.tensor(rng.random((12, 4)), dtype=torch.float32)
    targets = torch.tensor(rng.random((12, 4)) < 0.4, dtype=torch.float32)
    labelled = torch.ones(12, dtype=torch.bool)
    labelled[-2:] = False  # unlabelled clips do not count
    system.record_training_clips(scores[:6], targets[:6], labelled[:6])
    system.record_training_clips(scores[6:], targets[6:], labelled[6:])
    with pytest.warns(UserWarning):  # self.log outside a trainer
        system.on_train_epoch_end()
    expected = [average_precision(scores[:10, c].numpy(), targets[:10, c].numpy()) for c in range(4)]
    np.testing.assert_allclose(system.focal.running_score.numpy(), expected, rtol=1e-6)
    assert int(system.focal.num_updates) == 1
    gammas, weights = system.focal.gammas.numpy(), system.focal.class_weights.numpy()
    hardest = int(np.argmin(expected))
    assert gammas[hardest] == gammas.max() and weights[hardest] == weights.max()
