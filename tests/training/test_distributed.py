"""DDP through every phase of the joint framework (frame teacher, stage 1, stage 2) on 2 CPU
ranks (gloo), launched like a user does: ``jointsed train ... --devices 2 --strategy ddp``.

Lightning's ``ddp`` re-launches the command once per extra rank; every rank runs every phase,
rank 0 alone writes the bookkeeping files and the ranks meet at a barrier between phases. What
a DDP run computes (docs/real_desed.md, "Several GPUs and nodes"): each rank draws
``batch_size`` clips per step (batch sizes are per process), the single-process epoch's batches
are dealt round-robin (rank r gets batches r, r + N, ...), so an epoch has
``total_batches // N`` steps per rank, and the averaged gradient keeps the ranks' weights equal.

Also: a plain recipe on 2 CPU processes (DDP) ends with equal weights on both ranks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from helpers import (
    GL_RECIPE,
    JOINT_RECIPE,
    LEARNABLE_CLASSES,
    LEARNABLE_CLIP_SECONDS,
    SHORT,
    TINY_GL,
    state_of,
    weights_checksum_of,
)
from jointsed.runs.checkpoint import weights_checksum
from jointsed.training.config import load_recipe
from jointsed.training.errors import TrainingError
from jointsed.training.phases import train
from jointsed.training.sampler import ComposedBatchSampler


# tiny widths, one epoch per phase, 12 clips per set (36 training clips, 12 of them strong)
DDP_JOINT = [
    f"features.clip_duration={LEARNABLE_CLIP_SECONDS}",
    f"data.classes=[{','.join(LEARNABLE_CLASSES)}]",
    "data.max_clips_per_set=12",
    "validation.event_f1=false",
    "trainer.num_threads=1",
    "model.teacher.width=0.25",
    "model.student.channels=[8,8,8]",
    # pinned (the recipe's batch settings may change): union batches of 8 per process
    "batch.mode=union",
    "batch.batch_size=8",
    "trainer.max_epochs=1",
    "joint.distillation.teacher_epochs=1",
    "joint.distillation.teacher_batch_size=4",
    "joint.two_stage.epochs=1",
    # one epoch does not make a frame teacher worth distilling; this test is about the mechanics
    "joint.distillation.min_teacher_gain=-1",
]


PHASES = ("frame_teacher", "stage1", "stage2")


def test_joint_recipe_trains_every_phase_on_two_ddp_ranks(learnable_dataset, tmp_path):
    run = tmp_path / "joint_ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    for key in ("LOCAL_RANK", "NODE_RANK", "RANK", "WORLD_SIZE", "MASTER_PORT", "JOINTSED_RUN_DIR"):
        env.pop(key, None)
    proc = subprocess.run(
        [sys.executable, "-m", "jointsed", "train", str(JOINT_RECIPE), "--data-root", str(learnable_dataset),
         "--out", str(run), "--devices", "2", "--strategy", "ddp", "--accelerator", "cpu", "--no-progress",
         *[f"--set={o}" for o in DDP_JOINT]],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    # the children share the parent's stdout: only rank 0 reports the result
    assert proc.stdout.count("run folder:") == 1, proc.stdout[-2000:]
    # every phase ran under DDP (2 ranks) and the ranks ended with the same weights, those of the
    # phase's checkpoint
    # steps per rank: frame teacher 12 strong clips / 4 = 3 batches -> 1 per rank (3 // 2);
    # stages: 36 clips / 8 = 4 batches -> 2 per rank
    expected_steps = {"frame_teacher": 1, "stage1": 2, "stage2": 2}
    for phase in PHASES:
        ranks = [json.loads((run / phase / "ddp" / f"rank{r}.json").read_text()) for r in (0, 1)]
        assert [r["world_size"] for r in ranks] == [2, 2], phase
        assert ranks[0]["weights_sha256"] == ranks[1]["weights_sha256"], phase
        assert ranks[0]["global_step"] == ranks[1]["global_step"] == expected_steps[phase], phase
        assert ranks[0]["weights_sha256"] == weights_checksum(state_of(run / phase / "checkpoints" / "last.ckpt")), phase
        assert (run / phase / "finished.json").is_file(), phase
    # same layout as a single-process run: stage 2 starts from stage 1's checkpoint, and the run
    # folder publishes stage 2's checkpoints, metrics and finished marker
    s2 = json.loads((run / "stage2" / "finished.json").read_text())
    assert s2["init_weights_sha256"] == weights_checksum(state_of(Path(s2["init_checkpoint"])))
    assert Path(s2["init_checkpoint"]).parent.parent == run / "stage1"
    assert weights_checksum(state_of(run / "checkpoints" / "last.ckpt")) == weights_checksum(
        state_of(run / "stage2" / "checkpoints" / "last.ckpt"))
    assert json.loads((run / "finished.json").read_text())["phase"] == "two-stage run"
    assert set(json.loads((run / "metrics.json").read_text())["stages"]) == {"stage1", "stage2"}
    assert (run / "config.yaml").is_file()
    assert not (run / "ddp").exists()  # rank files live in each phase's folder
    # the children used the parent's folder and wrote no stray run folders of their own
    assert sorted(p.name for p in tmp_path.iterdir()) == ["joint_ddp"]
    # each phase trained once, by one DDP session: one CSV log version, written by rank 0 only
    for phase in PHASES:
        assert [p.name for p in (run / phase / "logs" / "csv").iterdir()] == ["version_0"], phase


def test_ranks_share_the_single_process_epoch_round_robin():
    """What the DDP test's step counts rely on: rank r of N gets batches r, r + N, ... of the
    single-process epoch (same composition, per-process batch size), equally many per rank."""
    sets = {"weak": torch.arange(0, 12), "synthetic": torch.arange(12, 24), "unlabelled": torch.arange(24, 36)}
    single = ComposedBatchSampler(sets, mode="union", batch_size=8, seed=3)
    single.set_epoch(2)
    ranks = [ComposedBatchSampler(sets, mode="union", batch_size=8, seed=3, rank=r, world_size=2) for r in (0, 1)]
    for r in ranks:
        r.set_epoch(2)
    one = list(single)
    per_rank = [list(r) for r in ranks]
    assert [len(b) for b in per_rank] == [2, 2]
    assert per_rank[0] == one[0::2] and per_rank[1] == one[1::2]


def test_more_devices_than_the_machine_has_is_an_error_before_anything_starts(tmp_path):
    missing_data = tmp_path / "no_such_data"  # never read: the check comes first
    n = (os.cpu_count() or 1) + 96
    config = load_recipe(JOINT_RECIPE, [f"trainer.devices={n}", "trainer.accelerator=cpu", "trainer.strategy=ddp"])
    with pytest.raises(TrainingError, match=rf"trainer.devices={n}.*{os.cpu_count()} CPU core"):
        train(config, missing_data, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
    if not torch.cuda.is_available():
        config = load_recipe(JOINT_RECIPE, ["trainer.devices=2", "trainer.accelerator=gpu"])
        with pytest.raises(TrainingError, match="0 CUDA GPU"):
            train(config, missing_data, tmp_path / "run", progress=False)


def test_multi_phase_recipe_needs_a_relaunching_strategy(tmp_path):
    config = load_recipe(JOINT_RECIPE, ["trainer.devices=2", "trainer.accelerator=cpu", "trainer.strategy=ddp_spawn"])
    with pytest.raises(TrainingError, match="--strategy ddp"):
        train(config, tmp_path / "no_such_data", tmp_path / "run", progress=False)
    # on one device too (issue 21 item 6): ddp_spawn used to train the frame teacher, then fail
    # on the children's temporary checkpoint
    for strategy in ("ddp_spawn", "ddp_fork"):
        config = load_recipe(JOINT_RECIPE, ["trainer.accelerator=cpu", f"trainer.strategy={strategy}"])
        with pytest.raises(TrainingError, match=f"strategy={strategy} on one device"):
            train(config, tmp_path / "no_such_data", tmp_path / "run", progress=False)
        assert not (tmp_path / "run").exists()


# ----- several processes -------------------------------------------------------------------------
def test_ddp_two_cpu_processes_agree_on_weights(learnable_dataset, tmp_path):
    run = tmp_path / "ddp"
    sets = [f"--set={o}" for o in TINY_GL + SHORT + ["trainer.max_epochs=2"]]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    env.pop("LOCAL_RANK", None)
    proc = subprocess.run(
        [sys.executable, "-m", "jointsed", "train", str(GL_RECIPE), "--data-root", str(learnable_dataset),
         "--out", str(run), "--devices", "2", "--strategy", "ddp", "--accelerator", "cpu", "--no-progress", *sets],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((run / "ddp" / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["world_size"] == ranks[1]["world_size"] == 2
    assert ranks[0]["weights_sha256"] == ranks[1]["weights_sha256"]
    # 12 + 12 + 12 clips, batches of 8 -> 4 batches per epoch -> 2 per process and epoch
    assert ranks[0]["global_step"] == ranks[1]["global_step"] == 4
    assert ranks[0]["weights_sha256"] == weights_checksum_of(run)
