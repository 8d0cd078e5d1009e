"""What makes the trained models worth keeping (DESIGN sections 1, 2, 3 and 8): a threshold-free
checkpoint monitor with ties to the later epoch, disentangled dims counted over every labelled
clip with a floor, a frame-level teacher that must beat an untrained network, the adaptive focal
loss fed by a threshold-free training score and computed from logits, and the better stage
published.

Each test fails on the first implementation's behaviour (named in its docstring).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from conftest import LEARNABLE_CLASSES, LEARNABLE_CLIP_SECONDS
from jointsed.config import ConfigError
from jointsed.losses.focal import AdaptiveFocalLoss
from jointsed.losses.guided import bce, guided_learning_loss
from jointsed.models import SEDOutput
from jointsed.models.pooling import single_class_ratios
from jointsed.training.config import load_recipe
from jointsed.training.data import class_ratios, load_training_set, load_validation_set
from jointsed.runs.state import TrainResult, summarize_history
from jointsed.training.errors import TrainingError
from jointsed.training.fit import prepare_system
from jointsed.training.phases import better_stage, check_frame_teacher
from jointsed.training.trainer import BestCheckpoint
from jointsed.training.metrics import average_precision
from jointsed.recipes import recipes_root

REPO = Path(__file__).resolve().parents[1]
GL_RECIPE = recipes_root() / "cpu" / "gl_baseline.yaml"
TINY = [
    f"features.clip_duration={LEARNABLE_CLIP_SECONDS}",
    f"data.classes=[{','.join(LEARNABLE_CLASSES)}]",
    "trainer.num_threads=1",
    "model.teacher.width=0.25",
    "model.student.channels=[8,8,8]",
]


# ----- checkpoint selection (DESIGN section 8) ------------------------------------------------------
def test_average_precision_matches_its_definition():
    # positives ranked 1st and 3rd: AP = (1/1 + 2/3) / 2
    assert average_precision(np.array([0.9, 0.8, 0.1]), np.array([1, 0, 1])) == pytest.approx(5 / 6)
    # tied scores form one operating point: all tied -> AP = prevalence
    assert average_precision(np.full(8, 0.5), np.array([1, 0, 0, 0, 1, 0, 0, 0])) == pytest.approx(0.25)
    assert np.isnan(average_precision(np.array([0.3, 0.2]), np.array([0, 0])))
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    scores, labels = np.round(rng.random(300), 1), rng.random(300) < 0.3
    assert average_precision(scores, labels) == pytest.approx(sklearn_metrics.average_precision_score(labels, scores))


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


def test_ties_go_to_the_later_epoch():
    """Lightning's ModelCheckpoint and the first summarize_history kept the EARLIER epoch."""
    history = [{"epoch": e, "score": s} for e, s in enumerate([0.0, 0.2, 0.2, 0.1])]
    summary = summarize_history(history, "ap", {"score": 0.05})
    assert summary["best_epoch"] == 2 and summary["untrained"] == {"score": 0.05}
    trainer = SimpleNamespace(strategy=SimpleNamespace(reduce_boolean_decision=lambda decision: decision))
    for cls, keeps_tie in ((BestCheckpoint, True), (ModelCheckpoint, False)):
        callback = cls(monitor="val/score", mode="max", save_top_k=1)
        callback.best_k_models = {"best.ckpt": torch.tensor(0.2)}
        callback.kth_best_model_path = "best.ckpt"
        assert callback.check_monitor_top_k(trainer, torch.tensor(0.2)) is keeps_tie
        assert callback.check_monitor_top_k(trainer, torch.tensor(0.1)) is False


# ----- disentangled dims (DESIGN section 1) -----------------------------------------------------------
def test_class_ratios_count_weak_and_strong_clips(learnable_dataset):
    """The first implementation counted weak clips only: without a weak set every ratio was 1,
    and at the CPU width rare classes got k_c = 1."""
    config = load_recipe(GL_RECIPE, TINY)
    train = load_training_set(config, learnable_dataset, progress=False)
    from jointsed.data.annotations import read_strong_tsv, read_weak_tsv

    weak = read_weak_tsv(learnable_dataset / config.data.weak_tsv, LEARNABLE_CLASSES)
    strong = read_strong_tsv(learnable_dataset / config.data.synthetic_tsv, LEARNABLE_CLASSES)
    by_file = strong.by_file()
    label_sets = [tuple(v) for v in weak.labels.values()]
    label_sets += [tuple({e.event_label for e in by_file[f]}) for f in strong.filenames if by_file[f]]
    assert class_ratios(train, LEARNABLE_CLASSES) == pytest.approx(single_class_ratios(label_sets, LEARNABLE_CLASSES))
    strong_only = load_recipe(GL_RECIPE, TINY + ["data.weak_tsv=null"])
    ratios = class_ratios(load_training_set(strong_only, learnable_dataset, progress=False), LEARNABLE_CLASSES)
    assert ratios != [1.0] * len(LEARNABLE_CLASSES)


# ----- the frame-level teacher (DESIGN section 2) ------------------------------------------------------
def _result(best: float, untrained: float, tmp_path: Path) -> TrainResult:
    metrics = {"monitor": "ap", "best_score": best, "best_epoch": 3, "best": {"score": best, "event_f1": 0.0},
               "untrained": {"score": untrained}}
    return TrainResult(tmp_path, None, tmp_path / "last.ckpt", metrics)


def test_a_teacher_no_better_than_an_untrained_network_is_refused(tmp_path):
    """The first implementation distilled a teacher whose validation event F1 was 0 in every epoch."""
    with pytest.raises(TrainingError, match="no better than an untrained network.*teacher_epochs"):
        check_frame_teacher(_result(0.31, 0.29, tmp_path), min_gain=0.05)
    summary = check_frame_teacher(_result(0.62, 0.29, tmp_path), min_gain=0.05)
    assert "0.620" in summary and "untrained network 0.290" in summary


# ----- adaptive focal loss and two stages (DESIGN section 3) --------------------------------------------
def test_focal_loss_from_logits_keeps_the_gradient_of_saturated_mistakes():
    """``losses/focal.py`` clamped probabilities: a confidently wrong clip (p = 1, y = 0) had no
    gradient. The systems now hand the logits to the loss."""
    logits = torch.tensor([[40.0, -40.0]], requires_grad=True)
    targets = torch.tensor([[0.0, 1.0]])
    output = SEDOutput(clip=torch.sigmoid(logits), frame=torch.zeros(1, 1, 2), frame_logits=torch.zeros(1, 1, 2),
                       clip_logits=logits)
    afl = AdaptiveFocalLoss(2, gamma0=2.0, eta=1.0)
    for loss_fn in (afl, bce):
        logits.grad = None
        terms = guided_learning_loss(output, output, targets, torch.tensor([True]), supervised_loss=loss_fn)
        terms["student_supervised"].backward()
        assert torch.isfinite(logits.grad).all() and (logits.grad.abs() > 0.1).all(), (loss_fn, logits.grad)
    logits.grad = None
    afl(torch.sigmoid(logits), targets).backward()  # the probability form loses it
    assert float(logits.grad.abs().max()) == 0.0


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


def test_the_better_stage_is_published(tmp_path):
    """The first implementation always published stage 2, which degraded every validation metric."""
    def stage(score):
        return TrainResult(tmp_path, None, tmp_path / "last.ckpt", {"best_score": score})

    assert better_stage({"stage1": stage(0.6), "stage2": stage(0.5)}) == "stage1"
    assert better_stage({"stage1": stage(0.5), "stage2": stage(0.5)}) == "stage2"
    assert better_stage({"stage1": stage(0.5), "stage2": stage(0.7)}) == "stage2"
    assert better_stage({"stage2": stage(None)}) == "stage2"


# ----- event-specific post-processing is chosen after training -----------------------------------------
def test_no_recipe_key_that_nothing_reads():
    """``postprocess.event_specific`` was read by nothing: joint_no_esp.yaml trained and evaluated
    exactly like joint.yaml. Event-specific post-processing is a separate step (``jointsed tune``);
    the key is gone and an old recipe that sets it is told so."""
    with pytest.raises(ConfigError, match="postprocess.event_specific"):
        load_recipe(GL_RECIPE, ["postprocess.event_specific=true"])
    assert not list(recipes_root().glob("*/joint_no_esp.yaml"))
