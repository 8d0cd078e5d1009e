"""One training run (jointsed.training.phases.train of a plain recipe: jointsed.training.fit):
learning, the run folder, determinism and resume, the adaptive focal loss's training score,
the trainer settings checked before any data, and what ``resume`` may change.

Runs use tiny networks on the 5-s tone dataset of ``conftest.learnable_dataset`` (4 classes),
one torch thread, so that each training run takes seconds on a 2-core CPU.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from helpers import (
    GL_RECIPE,
    LEARNABLE_CLASSES,
    MT_RECIPE,
    RUN_SETS,
    SHORT,
    TINY_GL,
    TINY_MT,
    assert_same_weights,
    state_of,
    weights_checksum_of,
)
from jointsed.evaluate.tagging import clip_f1
from jointsed.training.config import load_recipe
from jointsed.training.errors import TrainingError
from jointsed.training.phases import train


def _train(recipe: Path, overrides: list[str], data: Path, run: Path, resume: bool = False):
    return train(load_recipe(recipe, overrides), data, run, resume=resume, progress=False)


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


@pytest.mark.parametrize("recipe,tiny", [(GL_RECIPE, TINY_GL), (MT_RECIPE, TINY_MT)])
def test_bf16_mixed_precision_trains_with_gradient_clipping(recipe, tiny, learnable_dataset, tmp_path):
    """``trainer.precision=bf16-mixed`` (``--precision bf16-mixed``: GPUs, CPUs with AMX) with
    gradient clipping. Lightning's mixed-precision plugin refuses to clip for an optimizer that
    unscales its gradients itself (fused Adam), so the systems take the multi-tensor Adam there."""
    run = tmp_path / "run"
    _train(recipe, tiny + SHORT + ["trainer.precision=bf16-mixed", "trainer.gradient_clip_val=1.0",
                                   "trainer.max_epochs=3"], learnable_dataset, run)
    losses = _epoch_losses(run)
    assert len(losses) == 3 and np.isfinite(losses).all() and losses[-1] < losses[0], losses
    state = state_of(run / "checkpoints" / "last.ckpt")
    assert all(torch.isfinite(t).all() for t in state.values() if t.is_floating_point())


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
    state = state_of(run / "checkpoints" / "best.ckpt")
    assert state["feature_mean"].shape == (64,) and float(state["feature_std"].min()) > 0


def test_existing_run_is_not_overwritten(gl_run, learnable_dataset):
    run, _ = gl_run
    with pytest.raises(TrainingError, match="--resume"):
        _train(GL_RECIPE, TINY_GL + ["trainer.max_epochs=1"], learnable_dataset, run)


@pytest.mark.parametrize("recipe,tiny", [(GL_RECIPE, TINY_GL), (MT_RECIPE, TINY_MT)], ids=["gl", "mt"])
def test_resume_equals_uninterrupted_run(recipe, tiny, learnable_dataset, tmp_path):
    straight = tmp_path / "straight"
    _train(recipe, tiny + SHORT + ["trainer.max_epochs=4"], learnable_dataset, straight)
    interrupted = tmp_path / "interrupted"
    _train(recipe, tiny + SHORT + ["trainer.max_epochs=2"], learnable_dataset, interrupted)
    _train(recipe, tiny + SHORT + ["trainer.max_epochs=4"], learnable_dataset, interrupted, resume=True)
    assert_same_weights(straight / "checkpoints" / "last.ckpt", interrupted / "checkpoints" / "last.ckpt")
    history = json.loads((interrupted / "metrics.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [0, 1, 2, 3]
    if recipe == GL_RECIPE:  # same seed, fresh run -> same weights
        again = tmp_path / "again"
        _train(recipe, tiny + SHORT + ["trainer.max_epochs=4"], learnable_dataset, again)
        assert_same_weights(straight / "checkpoints" / "last.ckpt", again / "checkpoints" / "last.ckpt")
        other = tmp_path / "other_seed"
        _train(recipe, tiny + SHORT + ["trainer.max_epochs=1", "seed=7"], learnable_dataset, other)
        assert weights_checksum_of(other) != weights_checksum_of(straight)


def test_resume_without_checkpoint_is_an_error(learnable_dataset, tmp_path):
    with pytest.raises(TrainingError, match="last.ckpt"):
        _train(GL_RECIPE, TINY_GL, learnable_dataset, tmp_path / "nothing", resume=True)


def test_adaptive_focal_loss_follows_training_average_precision(learnable_dataset, tmp_path):
    """F_c of the adaptive focal loss comes from a threshold-free score of the labelled TRAINING
    clips (one update per training epoch), not from the validation event F1, which is 0 for every
    class early on and made every gamma_c equal (DESIGN section 3)."""
    run = tmp_path / "afl"
    _train(GL_RECIPE, TINY_GL + SHORT + ["trainer.max_epochs=2", "joint.focal.enabled=true", "validation.event_f1=true"],
           learnable_dataset, run)
    state = state_of(run / "checkpoints" / "last.ckpt")
    history = json.loads((run / "metrics.json").read_text())["history"]
    assert int(state["focal.num_updates"]) == 2
    score = state["focal.running_score"].numpy()
    assert ((score >= 0) & (score <= 1)).all()
    assert score.std() > 0.01, score  # the classes' difficulties differ: weights and gammas adapt
    # the validation set does not steer it
    first, second = (np.array([h["event_f1_per_class"][c] for c in LEARNABLE_CLASSES]) for h in history)
    assert not np.allclose(score, 0.9 * first + 0.1 * second, atol=1e-3)


@pytest.fixture
def short_run(short_gl_run: Path) -> Path:
    """The session's short tiny GL run (conftest ``short_gl_run``)."""
    return short_gl_run


@pytest.fixture
def model(short_gl_run: Path) -> Path:
    """The session's short tiny GL run (conftest ``short_gl_run``)."""
    return short_gl_run


@pytest.mark.parametrize("override,key", [("trainer.precision=17-bogus", "trainer.precision"),
                                          ("trainer.accelerator=bogus", "accelerator")])
def test_bad_trainer_names_fail_before_any_data(override, key, tmp_path):
    with pytest.raises(Exception) as info:  # TrainingError or DeviceError, both JointsedError
        train(load_recipe(GL_RECIPE, RUN_SETS + [override]), tmp_path / "no-data", tmp_path / "run", progress=False)
    from jointsed.errors import JointsedError

    assert isinstance(info.value, JointsedError) and key in str(info.value) and "bogus" in str(info.value)


def test_resume_with_a_changed_recipe_is_refused_naming_the_keys(short_run, learnable_dataset, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(short_run, run)
    before = (run / "config.yaml").read_text()
    changed = RUN_SETS + ["optimizer.lr=0.5", "seed=3", "trainer.max_epochs=2"]
    with pytest.raises(TrainingError) as info:
        train(load_recipe(GL_RECIPE, changed), learnable_dataset, run, resume=True, progress=False)
    message = str(info.value)
    assert "optimizer.lr: 0.01 in the run, 0.5 now" in message and "seed: 42 in the run, 3 now" in message
    assert "max_epochs" not in message.split("A resumed run")[0]  # allowed to change: not listed as a difference
    assert (run / "config.yaml").read_text() == before  # the run's files still tell the truth


def test_resume_may_train_longer_and_change_hardware_keys(short_run, learnable_dataset, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(short_run, run)
    longer = RUN_SETS + ["trainer.max_epochs=2", "trainer.num_threads=2", "trainer.accelerator=cpu"]
    train(load_recipe(GL_RECIPE, longer), learnable_dataset, run, resume=True, progress=False)
    assert yaml.safe_load((run / "config.yaml").read_text())["trainer"]["max_epochs"] == 2


# ----- class 7: derived files belong to the model in the folder ----------------------------------------------
def _derived(run: Path) -> None:
    """What tune / evaluate / report and the raw-score cache leave in a run folder."""
    (run / "postprocess.json").write_text('{"info": {}}')
    for folder, marker in (("eval/validation", "info.json"), ("report", "index.html"),
                           ("scores/validation", "raw_scores.npz")):
        (run / folder).mkdir(parents=True, exist_ok=True)
        (run / folder / marker).write_text("x")


@pytest.mark.parametrize("mode", ["force", "resume"])
def test_retraining_removes_the_derived_files(mode, model, learnable_dataset, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(model, run)
    _derived(run)
    (run / "notes").mkdir()
    (run / "notes" / "mine.txt").write_text("keep")
    sets = RUN_SETS if mode == "force" else [s for s in RUN_SETS if "max_epochs" not in s] + ["trainer.max_epochs=2"]
    train(load_recipe(GL_RECIPE, sets), learnable_dataset, run, progress=False,
          force=mode == "force", resume=mode == "resume")
    for name in ("postprocess.json", "eval", "report", "scores"):
        assert not (run / name).exists(), name
    assert (run / "notes" / "mine.txt").read_text() == "keep"
    # predict now uses the new model's own defaults, not a stale tuning
    from jointsed.inference import Detector

    assert Detector.from_checkpoint(run).postprocess_source.startswith("default")
