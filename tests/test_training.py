"""Training engine: recipes, batch composition, learning, determinism, resume, DDP.

Runs use tiny networks on the 5-s tone dataset of ``conftest.learnable_dataset`` (4 classes),
one torch thread, so that each training run takes seconds on a 2-core CPU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import LEARNABLE_CLASSES, LEARNABLE_CLIP_SECONDS
from jointsed.cli import main as cli_main
from jointsed.config import ConfigError
from jointsed.training.config import RecipeConfig, load_recipe
from jointsed.training.sampler import ComposedBatchSampler
from jointsed.runs.checkpoint import weights_checksum
from jointsed.training.errors import TrainingError
from jointsed.training.phases import train
from jointsed.evaluate.tagging import clip_f1
from jointsed.recipes import recipes_root

REPO = Path(__file__).resolve().parents[1]
GL_RECIPE = recipes_root() / "cpu" / "gl_baseline.yaml"
MT_RECIPE = recipes_root() / "cpu" / "crnn_mean_teacher.yaml"

COMMON = [
    f"features.clip_duration={LEARNABLE_CLIP_SECONDS}",
    f"data.classes=[{','.join(LEARNABLE_CLASSES)}]",
    "trainer.num_threads=1",
    "trainer.progress_bar=false",
]
# Tiny networks; batch-norm momentum 0.1 so that the running statistics used at validation
# settle within the few dozen steps of a test run (Lin's 0.01 needs hundreds).
TINY_GL = COMMON + [
    "model.teacher.width=0.25",
    "model.student.channels=[8,8,8]",
    "model.teacher.bn_momentum=0.1",
    "model.student.bn_momentum=0.1",
    "batch.batch_size=8",
    "optimizer.lr=0.01",
    "guided_learning.teacher_weight_start=1",
]
TINY_MT = COMMON + [
    "model.crnn.width=0.25",
    "model.crnn.rnn_hidden=16",
    "batch.composition={synthetic: 4, weak: 4, unlabelled: 2}",
    "optimizer.lr=0.01",
    "optimizer.warmup_epochs=1",
    "mean_teacher.rampup_epochs=2",
]


def _train(recipe: Path, overrides: list[str], data: Path, run: Path, resume: bool = False):
    return train(load_recipe(recipe, overrides), data, run, resume=resume, progress=False)


def _state(ckpt: Path) -> dict[str, torch.Tensor]:
    return torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]


def _assert_same_weights(a: Path, b: Path) -> None:
    sa, sb = _state(a), _state(b)
    assert sa.keys() == sb.keys()
    different = [k for k in sa if not torch.equal(sa[k], sb[k])]
    assert not different, f"weights differ: {different[:5]}"


# ----- recipes -------------------------------------------------------------------------------------
@pytest.mark.parametrize("recipe", sorted(recipes_root().glob("*/*.yaml")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_recipe_loads(recipe):
    cfg = load_recipe(recipe)
    assert isinstance(cfg, RecipeConfig)
    assert cfg.system in ("guided_learning", "mean_teacher", "frame_teacher")


def test_cpu_recipe_inherits_lins_settings():
    full = load_recipe(recipes_root() / "dcase2019" / "gl_baseline.yaml")
    cpu = load_recipe(GL_RECIPE)
    # the CPU recipe trains a few epochs: a higher constant rate (its own setting); Lin's 0.0018 stays in full
    assert full.optimizer.lr == 0.0018 and cpu.optimizer.lr == 0.003
    assert full.optimizer.gamma == cpu.optimizer.gamma == 0.8
    assert full.guided_learning.teacher_noise_std == cpu.guided_learning.teacher_noise_std == 0.15
    assert full.model.teacher.width == 1.0 and cpu.model.teacher.width == 0.5
    assert full.model.teacher.pools == cpu.model.teacher.pools  # inherited unchanged
    assert full.batch.batch_size == 64 and cpu.batch.batch_size == 16


def test_unknown_recipe_key_is_an_error_naming_it(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"base: {GL_RECIPE}\noptimizer:\n  lrr: 0.1\n")
    with pytest.raises(ConfigError, match=r"optimizer\.lrr"):
        load_recipe(bad)
    with pytest.raises(ConfigError, match=r"model\.student\.dropout"):
        load_recipe(GL_RECIPE, ["model.student.dropout=high"])


def test_cli_reports_bad_recipe_key(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"base: {GL_RECIPE}\ntrainer:\n  max_epoch: 3\n")
    code = cli_main(["train", str(bad), "--data-root", str(tmp_path), "--out", str(tmp_path / "run")])
    assert code == 2
    assert "trainer.max_epoch" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


# ----- batch composition --------------------------------------------------------------------------
def _sets():
    return {"weak": torch.arange(0, 10), "synthetic": torch.arange(10, 30), "unlabelled": torch.arange(30, 70)}


def test_fixed_composition_draws_the_configured_counts():
    s = ComposedBatchSampler(_sets(), mode="fixed", composition={"weak": 2, "synthetic": 3, "unlabelled": 5}, seed=3)
    batches = list(s)
    assert len(batches) == 5  # weak set (10 clips, 2 per batch) runs out first
    for b in batches:
        b = torch.tensor(b)
        assert int((b < 10).sum()) == 2 and int(((b >= 10) & (b < 30)).sum()) == 3 and int((b >= 30).sum()) == 5
    weak = torch.cat([torch.tensor(b)[torch.tensor(b) < 10] for b in batches])
    assert sorted(weak.tolist()) == list(range(10))  # one pass over the weak set


def test_union_epoch_order_depends_only_on_seed_and_epoch():
    a = ComposedBatchSampler(_sets(), mode="union", batch_size=7, seed=1)
    b = ComposedBatchSampler(_sets(), mode="union", batch_size=7, seed=1)
    a.set_epoch(4)
    b.set_epoch(4)
    assert list(a) == list(b)
    b.set_epoch(5)
    assert list(a) != list(b)
    flat = [i for batch in a for i in batch]
    assert len(flat) == len(set(flat)) == 70 // 7 * 7


def test_ranks_get_disjoint_equal_shares():
    ranks = [ComposedBatchSampler(_sets(), mode="union", batch_size=5, seed=0, rank=r, world_size=3) for r in range(3)]
    shares = [[i for b in s for i in b] for s in ranks]
    assert len({len(s) for s in shares}) == 1
    assert not set(shares[0]) & set(shares[1]) and not set(shares[1]) & set(shares[2])


# ----- learning ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def gl_run(learnable_dataset, tmp_path_factory):
    run = tmp_path_factory.mktemp("gl") / "run"
    result = _train(GL_RECIPE, TINY_GL + ["trainer.max_epochs=8"], learnable_dataset, run)
    return run, result


@pytest.fixture(scope="module")
def mt_run(learnable_dataset, tmp_path_factory):
    run = tmp_path_factory.mktemp("mt") / "run"
    result = _train(MT_RECIPE, TINY_MT + ["trainer.max_epochs=10"], learnable_dataset, run)
    return run, result


def _always_positive_clip_f1(data: Path) -> float:
    cfg = load_recipe(GL_RECIPE, TINY_GL)
    from jointsed.training.data import load_validation_set

    targets = load_validation_set(cfg, data, progress=False).weak_targets.numpy()
    return clip_f1(np.ones_like(targets), targets)[0]


def _epoch_losses(run: Path) -> list[float]:
    import pandas as pd

    log = pd.read_csv(run / "logs" / "csv" / "version_0" / "metrics.csv")
    return log.dropna(subset=["loss_epoch"]).sort_values("epoch")["loss_epoch"].tolist()


@pytest.mark.parametrize("which", ["gl_run", "mt_run"])
def test_training_learns(which, request, learnable_dataset):
    run, result = request.getfixturevalue(which)
    losses = _epoch_losses(run)
    assert len(losses) == (8 if which == "gl_run" else 10)
    assert np.mean(losses[-2:]) < 0.85 * np.mean(losses[:2]), losses
    # better than the best trivial tagger (every class always present, F1 = 2p / (1 + p))
    trivial = _always_positive_clip_f1(learnable_dataset)
    assert result.metrics["best"]["clip_f1"] > trivial + 0.05, (result.metrics["best"]["clip_f1"], trivial)


def test_run_folder_layout(gl_run):
    run, result = gl_run
    for rel in ("config.yaml", "checkpoints/best.ckpt", "checkpoints/last.ckpt", "metrics.json",
                "logs/csv/version_0/metrics.csv"):
        assert (run / rel).is_file(), rel
    assert any((run / "logs" / "tensorboard" / "version_0").glob("events.out.tfevents.*"))
    saved = load_recipe(run / "config.yaml")
    assert saved.model.student.channels == (8, 8, 8) and saved.trainer.max_epochs == 8
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["best_epoch"] == max(metrics["history"], key=lambda h: (h["score"], -h["epoch"]))["epoch"]
    assert len(metrics["history"]) == 8
    block = torch.load(run / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)["jointsed"]
    meta = block["meta"]
    assert meta["classes"] == LEARNABLE_CLASSES
    assert len(meta["median_windows"]) == 4 and all(w >= 1 for w in meta["median_windows"])
    assert len(meta["class_dims"]["teacher"]) == 4
    state = _state(run / "checkpoints" / "best.ckpt")
    assert state["feature_mean"].shape == (64,) and float(state["feature_std"].min()) > 0


def test_existing_run_is_not_overwritten(gl_run, learnable_dataset):
    run, _ = gl_run
    with pytest.raises(TrainingError, match="--resume"):
        _train(GL_RECIPE, TINY_GL + ["trainer.max_epochs=1"], learnable_dataset, run)


# ----- determinism and resume ------------------------------------------------------------------
SHORT = ["data.max_clips_per_set=12", "validation.event_f1=false"]


@pytest.mark.parametrize("recipe,tiny", [(GL_RECIPE, TINY_GL), (MT_RECIPE, TINY_MT)], ids=["gl", "mt"])
def test_resume_equals_uninterrupted_run(recipe, tiny, learnable_dataset, tmp_path):
    straight = tmp_path / "straight"
    _train(recipe, tiny + SHORT + ["trainer.max_epochs=4"], learnable_dataset, straight)
    interrupted = tmp_path / "interrupted"
    _train(recipe, tiny + SHORT + ["trainer.max_epochs=2"], learnable_dataset, interrupted)
    _train(recipe, tiny + SHORT + ["trainer.max_epochs=4"], learnable_dataset, interrupted, resume=True)
    _assert_same_weights(straight / "checkpoints" / "last.ckpt", interrupted / "checkpoints" / "last.ckpt")
    history = json.loads((interrupted / "metrics.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [0, 1, 2, 3]
    if recipe == GL_RECIPE:  # same seed, fresh run -> same weights
        again = tmp_path / "again"
        _train(recipe, tiny + SHORT + ["trainer.max_epochs=4"], learnable_dataset, again)
        _assert_same_weights(straight / "checkpoints" / "last.ckpt", again / "checkpoints" / "last.ckpt")
        other = tmp_path / "other_seed"
        _train(recipe, tiny + SHORT + ["trainer.max_epochs=1", "seed=7"], learnable_dataset, other)
        assert weights_checksum_of(other) != weights_checksum_of(straight)


def weights_checksum_of(run: Path) -> str:
    return weights_checksum(_state(run / "checkpoints" / "last.ckpt"))


def test_resume_without_checkpoint_is_an_error(learnable_dataset, tmp_path):
    with pytest.raises(TrainingError, match="last.ckpt"):
        _train(GL_RECIPE, TINY_GL, learnable_dataset, tmp_path / "nothing", resume=True)


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


def test_adaptive_focal_loss_follows_training_average_precision(learnable_dataset, tmp_path):
    """F_c of the adaptive focal loss comes from a threshold-free score of the labelled TRAINING
    clips (one update per training epoch), not from the validation event F1, which is 0 for every
    class early on and made every gamma_c equal (DESIGN section 3)."""
    run = tmp_path / "afl"
    _train(GL_RECIPE, TINY_GL + SHORT + ["trainer.max_epochs=2", "joint.focal.enabled=true", "validation.event_f1=true"],
           learnable_dataset, run)
    state = _state(run / "checkpoints" / "last.ckpt")
    history = json.loads((run / "metrics.json").read_text())["history"]
    assert int(state["focal.num_updates"]) == 2
    score = state["focal.running_score"].numpy()
    assert ((score >= 0) & (score <= 1)).all()
    assert score.std() > 0.01, score  # the classes' difficulties differ: weights and gammas adapt
    # the validation set does not steer it
    first, second = (np.array([h["event_f1_per_class"][c] for c in LEARNABLE_CLASSES]) for h in history)
    assert not np.allclose(score, 0.9 * first + 0.1 * second, atol=1e-3)
