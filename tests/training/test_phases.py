"""The training phases (jointsed.training.phases): the joint framework (our reconstruction of
Liang et al., arXiv 2103.12388): the frame-level teacher and the check that it beats an untrained
network, distillation during training, two-stage training with the adaptive focal loss, the
better stage published, finished phases reused, ``stage=`` / ``init_checkpoint=``.

Tiny networks on the 5-s tone dataset of ``conftest.learnable_dataset`` (4 classes), one torch
thread; the three phases are trained once (``conftest.joint_run``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import (
    FitRecorder,
    GL_RECIPE,
    JOINT_RECIPE,
    LEARNABLE_CLASSES,
    LEARNABLE_CLIP_SECONDS,
    TINY_GL,
    TINY_JOINT,
    state_of,
)
from jointsed.losses.focal import AdaptiveFocalLoss
from jointsed.losses.guided import bce
from jointsed.runs.checkpoint import weights_checksum
from jointsed.runs.state import TrainResult
from jointsed.training.config import load_recipe
from jointsed.training.data import load_training_set
from jointsed.training.errors import TrainingError
from jointsed.training.phases import better_stage, check_frame_teacher, train


def _csv(run: Path):
    import pandas as pd

    return pd.read_csv(run / "logs" / "csv" / "version_0" / "metrics.csv")


# ----- frame-level teacher ---------------------------------------------------------------------------------
def test_frame_teacher_trains_on_strong_clips_and_its_frame_loss_falls(learnable_dataset, tmp_path):
    run = tmp_path / "teacher"
    recorder = FitRecorder()
    train(load_recipe(GL_RECIPE, TINY_GL + ["system=frame_teacher", "trainer.max_epochs=8", "validation.event_f1=false"]),
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


def test_distillation_is_logged_and_the_teacher_stays_frozen(joint_run):
    run, _, recorder = joint_run
    for stage in ("stage1", "stage2"):
        values = _csv(run / stage)["train/distillation"].dropna()
        assert len(values) > 0 and (values > 0).all(), stage
    meta = torch.load(run / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)["jointsed"]["meta"]
    teacher_ckpt = Path(meta["distillation"]["teacher_checkpoint"])
    assert teacher_ckpt.parent == run / "frame_teacher" / "checkpoints"
    teacher_sha = weights_checksum(state_of(teacher_ckpt))
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
    stage1_best = weights_checksum(state_of(run / "stage1" / "checkpoints" / "best.ckpt"))
    stage2_fit = recorder.fits[2]
    assert stage2_fit["stage"] == 2 and stage2_fit["start_sha"] == stage1_best
    assert json.loads((run / "stage2" / "finished.json").read_text())["init_weights_sha256"] == stage1_best
    assert len(json.loads((run / "stage1" / "metrics.json").read_text())["history"]) == 3
    assert len(json.loads((run / "stage2" / "metrics.json").read_text())["history"]) == 2
    # the run folder's files are the final stage's
    assert weights_checksum(state_of(run / "checkpoints" / "best.ckpt")) == weights_checksum(
        state_of(run / "stage2" / "checkpoints" / "best.ckpt"))
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
    init_updates = int(state_of(run / "stage1" / "checkpoints" / "best.ckpt")["focal.num_updates"])
    assert int(state_of(run / "stage2" / "checkpoints" / "last.ckpt")["focal.num_updates"]) == init_updates + 2
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
    assert pred.frame_scores.shape == (round(LEARNABLE_CLIP_SECONDS / pred.frame_hop), len(LEARNABLE_CLASSES))
    assert np.isfinite(pred.frame_scores).all()


def test_rerun_skips_finished_phases(joint_run, learnable_dataset):
    run, result, _ = joint_run
    recorder = FitRecorder()
    again = train(load_recipe(JOINT_RECIPE, TINY_JOINT), learnable_dataset, run, progress=False, callbacks=[recorder])
    assert recorder.fits == []
    assert again.best_checkpoint == result.best_checkpoint
    assert weights_checksum(state_of(again.best_checkpoint)) == weights_checksum(state_of(run / "stage2" / "checkpoints" / "best.ckpt"))
    # another configuration in the same folder is refused, not silently reused
    with pytest.raises(TrainingError, match="--force"):
        train(load_recipe(JOINT_RECIPE, TINY_JOINT + ["optimizer.lr=0.02"]), learnable_dataset, run, progress=False)
    assert load_recipe(run / "config.yaml") == load_recipe(JOINT_RECIPE, TINY_JOINT)  # left as it was
    assert json.loads((run / "finished.json").read_text())["stages"].keys() == {"stage1", "stage2"}


def test_stages_one_by_one(learnable_dataset, tmp_path):
    """``stage=1``, ``stage=2``, a rerun, ``force``, ``init_checkpoint`` (``jointsed train --stage/
    --force/--init``; the command's exit status is tested in tests/cli/test_cli_train.py)."""
    run = tmp_path / "run"
    config = load_recipe(JOINT_RECIPE, TINY_JOINT + ["joint.distillation.enabled=false", "trainer.max_epochs=2",
                                                     "joint.two_stage.epochs=1", "validation.event_f1=false"])

    def fit(out: Path = run, **kwargs):
        return train(config, learnable_dataset, out, progress=False, **kwargs)

    with pytest.raises(TrainingError, match="--init"):  # stage 1 is missing
        fit(stage=2)
    fit(stage=1)
    assert (run / "stage1" / "finished.json").is_file() and not (run / "stage2").exists()
    assert not (run / "checkpoints" / "best.ckpt").exists()
    fit(stage=2)
    stage1_best = weights_checksum(state_of(run / "stage1" / "checkpoints" / "best.ckpt"))
    assert json.loads((run / "stage2" / "finished.json").read_text())["init_weights_sha256"] == stage1_best
    assert (run / "checkpoints" / "best.ckpt").is_file()
    first = (run / "stage2" / "finished.json").stat().st_mtime_ns
    fit()  # both finished: nothing retrained
    assert (run / "stage2" / "finished.json").stat().st_mtime_ns == first
    fit(stage=2, force=True)  # retrained
    assert (run / "stage2" / "finished.json").stat().st_mtime_ns != first
    # init_checkpoint: stage 2 from given weights (here stage 1's last checkpoint) into another folder
    other = tmp_path / "other"
    init = run / "stage1" / "checkpoints" / "last.ckpt"
    fit(other, stage=2, init_checkpoint=init)
    assert json.loads((other / "stage2" / "finished.json").read_text())["init_weights_sha256"] == weights_checksum(state_of(init))


def test_stage_option_needs_a_two_stage_recipe(learnable_dataset, tmp_path):
    with pytest.raises(TrainingError, match="two-stage"):
        train(load_recipe(GL_RECIPE, TINY_GL), learnable_dataset, tmp_path / "run", progress=False, stage=1)


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


def test_the_better_stage_is_published(tmp_path):
    """The first implementation always published stage 2, which degraded every validation metric."""
    def stage(score):
        return TrainResult(tmp_path, None, tmp_path / "last.ckpt", {"best_score": score})

    assert better_stage({"stage1": stage(0.6), "stage2": stage(0.5)}) == "stage1"
    assert better_stage({"stage1": stage(0.5), "stage2": stage(0.5)}) == "stage2"
    assert better_stage({"stage1": stage(0.5), "stage2": stage(0.7)}) == "stage2"
    assert better_stage({"stage2": stage(None)}) == "stage2"
