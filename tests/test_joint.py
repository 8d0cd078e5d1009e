"""The joint framework (our reconstruction of Liang et al., arXiv 2103.12388): the frame-level
teacher, deep feature distillation in guided learning, two-stage training with the adaptive focal
loss, the joint recipes and their ablations.

Tiny networks on the 5-s tone dataset of ``conftest.learnable_dataset`` (4 classes), one torch
thread: every run takes seconds on a 2-core CPU.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from conftest import LEARNABLE_CLASSES, LEARNABLE_CLIP_SECONDS
from jointsed.cli import main as cli_main
from jointsed.config import ConfigError, to_dict
from jointsed.losses.focal import AdaptiveFocalLoss
from jointsed.losses.guided import bce
from jointsed.training.config import load_recipe
from jointsed.training.data import SEDDataModule, load_training_set
from jointsed.runs.checkpoint import weights_checksum
from jointsed.training.errors import TrainingError
from jointsed.training.fit import prepare_system
from jointsed.systems.settings import DistillationSource
from jointsed.training.phases import load_frame_teacher, train
from jointsed.systems.frame_teacher import FrameTeacherSystem
from jointsed.systems.guided_learning import GuidedLearningSystem
from jointsed.recipes import recipes_root

REPO = Path(__file__).resolve().parents[1]
GL_RECIPE = recipes_root() / "cpu" / "gl_baseline.yaml"
JOINT_RECIPE = recipes_root() / "cpu" / "joint.yaml"

TINY = [
    f"features.clip_duration={LEARNABLE_CLIP_SECONDS}",
    f"data.classes=[{','.join(LEARNABLE_CLASSES)}]",
    "trainer.num_threads=1",
    "trainer.progress_bar=false",
    "model.teacher.width=0.25",
    "model.student.channels=[8,8,8]",
    "model.teacher.bn_momentum=0.1",
    "model.student.bn_momentum=0.1",
    "batch.batch_size=8",
    "optimizer.lr=0.01",
    "guided_learning.teacher_weight_start=1",
]
# the joint recipe on fewer clips and epochs (stage 1: 3 epochs, stage 2: 2, teacher: 3)
TINY_JOINT = TINY + [
    "data.max_clips_per_set=16",
    "trainer.max_epochs=3",
    "joint.two_stage.epochs=2",
    "joint.distillation.teacher_epochs=3",
]


class FitRecorder(Callback):
    """Records, for every fit, the system's class, its phase metadata and its weights at the start,
    and the frozen frame teacher's weights at the end."""

    def __init__(self) -> None:
        self.fits: list[dict] = []

    def on_train_start(self, trainer, module) -> None:
        self.fits.append({"system": type(module).__name__, "stage": module.phase.stage,
                          "start_sha": weights_checksum(module)})

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        if isinstance(module, FrameTeacherSystem):
            self.fits[-1].setdefault("all_strong", True)
            self.fits[-1]["all_strong"] &= bool(batch["strong_mask"].all())

    def on_train_end(self, trainer, module) -> None:
        teacher = getattr(module, "frame_teacher", None)
        if teacher is not None:
            self.fits[-1]["teacher_end_sha"] = weights_checksum(teacher)
            self.fits[-1]["teacher_training"] = teacher.training


def _state(ckpt: Path) -> dict[str, torch.Tensor]:
    return torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]


def _csv(run: Path):
    import pandas as pd

    return pd.read_csv(run / "logs" / "csv" / "version_0" / "metrics.csv")


@pytest.fixture(scope="module")
def joint_run(learnable_dataset, tmp_path_factory):
    run = tmp_path_factory.mktemp("joint") / "run"
    recorder = FitRecorder()
    result = train(load_recipe(JOINT_RECIPE, TINY_JOINT), learnable_dataset, run, progress=False,
                   callbacks=[recorder])
    return run, result, recorder


# ----- frame-level teacher ---------------------------------------------------------------------------------
def test_frame_teacher_trains_on_strong_clips_and_its_frame_loss_falls(learnable_dataset, tmp_path):
    run = tmp_path / "teacher"
    recorder = FitRecorder()
    train(load_recipe(GL_RECIPE, TINY + ["system=frame_teacher", "trainer.max_epochs=8", "validation.event_f1=false"]),
          learnable_dataset, run, progress=False, callbacks=[recorder])
    assert recorder.fits[0]["system"] == "FrameTeacherSystem"
    assert recorder.fits[0]["all_strong"]  # only strongly labelled clips in its batches
    log = _csv(run).dropna(subset=["train/frame"]).sort_values("epoch")
    frame, clip = log["train/frame"].tolist(), log["train/clip"].tolist()
    assert len(frame) == 8
    assert np.mean(frame[-2:]) < 0.85 * np.mean(frame[:2]), frame
    assert np.mean(clip[-2:]) < np.mean(clip[:2]), clip
    assert (run / "checkpoints" / "best.ckpt").is_file() and (run / "finished.json").is_file()
    # it is a detector in its own right
    from jointsed.inference import Detector

    pred = Detector.from_checkpoint(run).predict(next((learnable_dataset / "audio" / "validation").glob("*.wav")))
    assert pred.frame_scores.shape[1] == len(LEARNABLE_CLASSES)


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


def test_distillation_is_logged_and_the_teacher_stays_frozen(joint_run):
    run, _, recorder = joint_run
    for stage in ("stage1", "stage2"):
        values = _csv(run / stage)["train/distillation"].dropna()
        assert len(values) > 0 and (values > 0).all(), stage
    meta = torch.load(run / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)["jointsed"]["meta"]
    teacher_ckpt = Path(meta["distillation"]["teacher_checkpoint"])
    assert teacher_ckpt.parent == run / "frame_teacher" / "checkpoints"
    teacher_sha = weights_checksum(_state(teacher_ckpt))
    student_fits = [f for f in recorder.fits if f["system"] == "GuidedLearningSystem"]
    assert len(student_fits) == 2
    for fit in student_fits:
        assert fit["teacher_end_sha"] == teacher_sha and not fit["teacher_training"]
    assert meta["distillation"]["teacher_weights_sha256"] == teacher_sha


def test_auto_teacher_is_trained_into_the_run_folder(joint_run):
    run, _, recorder = joint_run
    teacher_dir = run / "frame_teacher"
    assert (teacher_dir / "finished.json").is_file()
    cfg = load_recipe(teacher_dir / "config.yaml")
    assert cfg.system == "frame_teacher" and cfg.trainer.max_epochs == 3
    assert cfg.model.student == load_recipe(run / "config.yaml").model.student
    assert [f["system"] for f in recorder.fits] == ["FrameTeacherSystem", "GuidedLearningSystem", "GuidedLearningSystem"]


def test_bad_teacher_checkpoint_is_a_clear_error(learnable_dataset, tmp_path):
    with pytest.raises(TrainingError, match="teacher_checkpoint"):
        train(load_recipe(JOINT_RECIPE, TINY_JOINT + ["joint.distillation.teacher_checkpoint=nowhere.ckpt"]),
              learnable_dataset, tmp_path / "run", progress=False)


# ----- two-stage training --------------------------------------------------------------------------------------
def test_two_stage_layout_and_stage2_starts_from_stage1_best(joint_run):
    run, result, recorder = joint_run
    for stage in ("stage1", "stage2"):
        assert (run / stage / "finished.json").is_file() and (run / stage / "checkpoints" / "best.ckpt").is_file()
    stage1_best = weights_checksum(_state(run / "stage1" / "checkpoints" / "best.ckpt"))
    stage2_fit = recorder.fits[2]
    assert stage2_fit["stage"] == 2 and stage2_fit["start_sha"] == stage1_best
    assert json.loads((run / "stage2" / "finished.json").read_text())["init_weights_sha256"] == stage1_best
    assert len(json.loads((run / "stage1" / "metrics.json").read_text())["history"]) == 3
    assert len(json.loads((run / "stage2" / "metrics.json").read_text())["history"]) == 2
    # the run folder's files are the final stage's
    assert weights_checksum(_state(run / "checkpoints" / "best.ckpt")) == weights_checksum(
        _state(run / "stage2" / "checkpoints" / "best.ckpt"))
    top = json.loads((run / "metrics.json").read_text())
    assert top["history"] == json.loads((run / "stage2" / "metrics.json").read_text())["history"]
    assert set(top["stages"]) == {"stage1", "stage2"}
    assert result.best_checkpoint == run / "checkpoints" / "best.ckpt"
    assert load_recipe(run / "config.yaml") == load_recipe(JOINT_RECIPE, TINY_JOINT)


def test_stage2_uses_the_adaptive_focal_loss_fed_by_training_clips(joint_run, learnable_dataset):
    run, _, _ = joint_run
    from jointsed.systems import load_system

    stage1 = load_system(run / "stage1" / "checkpoints" / "best.ckpt")
    stage2 = load_system(run / "stage2" / "checkpoints" / "last.ckpt")
    assert stage1.supervised_loss() is bce
    assert isinstance(stage2.supervised_loss(), AdaptiveFocalLoss)
    # the running score was updated at every training epoch: stage 1's up to its best epoch + stage 2's 2 epochs
    init_updates = int(_state(run / "stage1" / "checkpoints" / "best.ckpt")["focal.num_updates"])
    assert int(_state(run / "stage2" / "checkpoints" / "last.ckpt")["focal.num_updates"]) == init_updates + 2
    # on the same batch, the stage-2 loss differs from the same model's BCE loss (gamma0 > 0)
    config = load_recipe(run / "config.yaml")
    batch = load_training_set(config, learnable_dataset, progress=False).gather(torch.arange(12))
    losses = []
    for use_focal in (True, False):
        stage2.phase.use_focal = use_focal
        torch.manual_seed(0)
        stage2.eval()  # no dropout: only the loss differs
        distillation, stage2.distillation = stage2.distillation, None  # no teacher needed here
        with torch.no_grad():
            losses.append(float(stage2.training_step(batch, 0)))
        stage2.distillation = distillation
    assert stage2.focal.gamma0 > 0
    assert abs(losses[0] - losses[1]) > 1e-6, losses


def test_top_level_checkpoint_works_with_the_detector(joint_run, learnable_dataset):
    run, _, _ = joint_run
    from jointsed.inference import Detector

    detector = Detector.from_checkpoint(run)
    wav = next((learnable_dataset / "audio" / "validation").glob("*.wav"))
    pred = detector.predict(wav)
    assert pred.frame_scores.shape == (int(LEARNABLE_CLIP_SECONDS / 0.02), len(LEARNABLE_CLASSES))
    assert np.isfinite(pred.frame_scores).all()


def test_rerun_skips_finished_phases(joint_run, learnable_dataset):
    run, result, _ = joint_run
    recorder = FitRecorder()
    again = train(load_recipe(JOINT_RECIPE, TINY_JOINT), learnable_dataset, run, progress=False, callbacks=[recorder])
    assert recorder.fits == []
    assert again.best_checkpoint == result.best_checkpoint
    assert weights_checksum(_state(again.best_checkpoint)) == weights_checksum(_state(run / "stage2" / "checkpoints" / "best.ckpt"))
    # another configuration in the same folder is refused, not silently reused
    with pytest.raises(TrainingError, match="--force"):
        train(load_recipe(JOINT_RECIPE, TINY_JOINT + ["optimizer.lr=0.02"]), learnable_dataset, run, progress=False)
    assert load_recipe(run / "config.yaml") == load_recipe(JOINT_RECIPE, TINY_JOINT)  # left as it was
    assert json.loads((run / "finished.json").read_text())["stages"].keys() == {"stage1", "stage2"}


def test_stages_one_by_one_from_the_cli(learnable_dataset, tmp_path, capsys):
    run = tmp_path / "run"
    base = ["train", str(JOINT_RECIPE), "--data-root", str(learnable_dataset), "--out", str(run), "--no-progress",
            *[f"--set={o}" for o in TINY_JOINT + ["joint.distillation.enabled=false", "trainer.max_epochs=2",
                                                    "joint.two_stage.epochs=1", "validation.event_f1=false"]]]
    assert cli_main([*base, "--stage", "2"]) == 2  # stage 1 is missing
    assert "--init" in capsys.readouterr().err
    assert cli_main([*base, "--stage", "1"]) == 0
    assert (run / "stage1" / "finished.json").is_file() and not (run / "stage2").exists()
    assert not (run / "checkpoints" / "best.ckpt").exists()
    assert cli_main([*base, "--stage", "2"]) == 0
    stage1_best = weights_checksum(_state(run / "stage1" / "checkpoints" / "best.ckpt"))
    assert json.loads((run / "stage2" / "finished.json").read_text())["init_weights_sha256"] == stage1_best
    assert (run / "checkpoints" / "best.ckpt").is_file()
    first = (run / "stage2" / "finished.json").stat().st_mtime_ns
    assert cli_main(base) == 0  # both finished: nothing retrained
    assert (run / "stage2" / "finished.json").stat().st_mtime_ns == first
    assert cli_main([*base, "--stage", "2", "--force"]) == 0  # retrained
    assert (run / "stage2" / "finished.json").stat().st_mtime_ns != first
    # --init: stage 2 from given weights (here stage 1's last checkpoint) into another folder
    other = tmp_path / "other"
    init = run / "stage1" / "checkpoints" / "last.ckpt"
    args = [a if a != str(run) else str(other) for a in base]
    assert cli_main([*args, "--stage", "2", "--init", str(init)]) == 0
    assert json.loads((other / "stage2" / "finished.json").read_text())["init_weights_sha256"] == weights_checksum(_state(init))


def test_stage_option_needs_a_two_stage_recipe(learnable_dataset, tmp_path):
    with pytest.raises(TrainingError, match="two-stage"):
        train(load_recipe(GL_RECIPE, TINY), learnable_dataset, tmp_path / "run", progress=False, stage=1)


# ----- configuration ---------------------------------------------------------------------------------------
def test_joint_config_is_validated():
    with pytest.raises(ConfigError, match="joint.two_stage"):
        load_recipe(JOINT_RECIPE, ["joint.focal.enabled=false"])
    with pytest.raises(ConfigError, match="joint.distillation.layers"):
        load_recipe(JOINT_RECIPE, ["joint.distillation.layers=[3]"])
    with pytest.raises(ConfigError, match="joint.distillation"):
        load_recipe(recipes_root() / "cpu" / "crnn_mean_teacher.yaml",
                    ["joint.distillation.enabled=true", "joint.distillation.teacher_checkpoint=auto"])
    with pytest.raises(ConfigError, match="frame_teacher"):
        load_recipe(GL_RECIPE, ["system=frame_teacher", "data.synthetic_tsv=null"])


def _flatten(data, prefix=""):
    out = {}
    for key, value in data.items():
        if isinstance(value, dict) and value:
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


ABLATIONS = {
    "joint_no_dfd.yaml": {"joint.distillation.enabled": False},
    "joint_no_afl.yaml": {"joint.focal.enabled": False, "joint.two_stage.enabled": False},
}


@pytest.mark.parametrize("folder", ["dcase2019", "cpu"])
@pytest.mark.parametrize("name", sorted(ABLATIONS))
def test_ablation_differs_from_joint_only_in_its_switch(folder, name):
    joint = _flatten(to_dict(load_recipe(recipes_root() / folder / "joint.yaml")))
    ablation = _flatten(to_dict(load_recipe(recipes_root() / folder / name)))
    assert joint.keys() == ablation.keys()
    diff = {k: ablation[k] for k in joint if joint[k] != ablation[k] and k != "name"}
    assert diff == ABLATIONS[name]


@pytest.mark.parametrize("folder", ["dcase2019", "cpu"])
def test_joint_recipe_switches_everything_on(folder):
    cfg = load_recipe(recipes_root() / folder / "joint.yaml")
    j = cfg.joint
    assert j.distillation.enabled and j.distillation.teacher_checkpoint == "auto" and j.distillation.mask_mode == "target"
    assert j.focal.enabled and j.focal.gamma0 > 0 and j.two_stage.enabled
    header = (recipes_root() / folder / "joint.yaml").read_text().splitlines()[:8]
    assert any("2103.12388" in line for line in header)
