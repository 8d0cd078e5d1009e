"""Deep feature distillation in the guided-learning system (jointsed.systems.guided_learning),
on the frame teacher of the shared ``joint_run`` (conftest).
"""

from __future__ import annotations

from pathlib import Path

import torch

from helpers import JOINT_RECIPE, TINY_JOINT
from jointsed.runs.checkpoint import weights_checksum
from jointsed.systems.guided_learning import GuidedLearningSystem
from jointsed.runs.settings import DistillationSource
from jointsed.training.config import load_recipe
from jointsed.training.data import load_training_set
from jointsed.training.fit import prepare_system
from jointsed.training.phases import load_frame_teacher


# ----- distillation ----------------------------------------------------------------------------------------
def _distillation_system(data: Path, teacher_ckpt: Path, extra: list[str]):
    config = load_recipe(JOINT_RECIPE, TINY_JOINT + [f"joint.distillation.teacher_checkpoint={teacher_ckpt}", *extra])
    train_set = load_training_set(config, data, progress=False)
    teacher = load_frame_teacher(teacher_ckpt, config)
    system = prepare_system(config, train_set, None, distillation=DistillationSource(teacher_channels=teacher.feature_channels))
    system.attach_frame_teacher(teacher)
    strong_rows = train_set.indices_of("synthetic")[:4]
    weak_rows = train_set.indices_of("weak")[:4]
    batch = train_set.gather(torch.cat([strong_rows, weak_rows]))
    return system, teacher, batch


def test_distillation_gradients_reach_student_and_adapters_not_teacher(joint_run, learnable_dataset):
    run, _, _ = joint_run
    system, teacher, batch = _distillation_system(learnable_dataset, run / "frame_teacher" / "checkpoints" / "best.ckpt", [])
    assert isinstance(system, GuidedLearningSystem)
    teacher_before = weights_checksum(teacher)
    system.train()
    out_s = system.student(system.normalize(batch["features"]))
    dfd = system.distillation_loss(batch["features"], out_s.features, batch["strong"], batch["strong_mask"])
    assert float(dfd) > 0
    dfd.backward()
    for adapter in system.distillation.adapters:
        assert adapter.weight.grad is not None and float(adapter.weight.grad.abs().sum()) > 0
    # blocks up to the last distilled one get gradients; the pooling head does not
    for block in system.student.blocks[: max(system.distillation.layers) + 1]:
        assert float(block.convs[0].weight.grad.abs().sum()) > 0
    assert all(p.grad is None for p in system.student.pooling.parameters())  # DFD does not reach the head
    assert all(p.grad is None for p in teacher.parameters())
    assert not teacher.training and weights_checksum(teacher) == teacher_before
    # the teacher is not part of the system's weights (not trained, not saved)
    assert not any(k.startswith("_frame_teacher") for k in system.state_dict())
    assert any(k.startswith("distillation.adapters.") for k in system.state_dict())


def test_mask_mode_none_gives_zero_distillation(joint_run, learnable_dataset):
    run, _, _ = joint_run
    teacher_ckpt = run / "frame_teacher" / "checkpoints" / "best.ckpt"
    system, _, batch = _distillation_system(learnable_dataset, teacher_ckpt, ["joint.distillation.mask_mode=none"])
    out_s = system.student(system.normalize(batch["features"]))
    assert float(system.distillation_loss(batch["features"], out_s.features, batch["strong"], batch["strong_mask"])) == 0.0
    system_all, _, _ = _distillation_system(learnable_dataset, teacher_ckpt, ["joint.distillation.mask_mode=all"])
    system_all.load_state_dict(system.state_dict())
    assert float(system_all.distillation_loss(batch["features"], out_s.features, batch["strong"], batch["strong_mask"])) > 0
    # no strongly labelled clip in the batch: exactly 0
    none = torch.zeros_like(batch["strong_mask"])
    assert float(system_all.distillation_loss(batch["features"], out_s.features, batch["strong"], none)) == 0.0


def test_stage_two_without_the_focal_loss_trains_with_bce_at_the_lower_rate(learnable_dataset):
    """joint_no_afl.yaml keeps the two stages and changes only stage 2's loss: BCE in both."""
    from jointsed.losses.guided import bce
    from jointsed.runs.settings import PhaseSettings
    from jointsed.recipes import packaged_recipe

    config = load_recipe(packaged_recipe("cpu/joint_no_afl"), TINY_JOINT + ["joint.distillation.enabled=false"])
    assert config.joint.two_stage.enabled and not config.joint.focal.enabled
    train_set = load_training_set(config, learnable_dataset, progress=False)
    stage2 = prepare_system(config, train_set, None, PhaseSettings.stage2(config.joint.two_stage.lr_factor, 8))
    assert stage2.supervised_loss() is bce and stage2.focal is None
    assert stage2.lr_factor() == config.joint.two_stage.lr_factor < 1.0
