"""The demo pipeline (jointsed.pipeline.run_demo, what ``jointsed demo`` runs): the whole chain
on the ``tiny`` synthetic preset with a tiny network (``conftest.demo_folder``), and its reuse of
finished steps (a second run neither synthesises nor trains nor scores again).
"""

from __future__ import annotations

import json
from pathlib import Path

from helpers import DEMO_TINY, GL_RECIPE
from jointsed.pipeline import demo_recipe, run_demo
from jointsed.training.config import load_recipe


def test_demo_runs_every_step_and_prints_the_summary(demo_folder):
    out, printed = demo_folder
    run = out / "run"
    for path in (out / "data" / "synth.json", run / "metrics.json", run / "postprocess.json",
                 run / "eval" / "validation" / "metrics.json", run / "report" / "index.html",
                 out / "demo.json"):
        assert path.is_file(), path
    # the fair figure: the tuned model on the dataset's held-out eval split (6 clips in the tiny preset)
    heldout = json.loads((run / "eval" / "heldout" / "metrics.json").read_text())
    assert heldout["n_clips"] == 6 and heldout["postprocess"]["tuned_on_this_set"] is False
    assert "held-out" in printed and "never saw" in printed
    for label in ("AT (tagging) F1", "Event-based F1", "Segment-based F1", "Intersection F1", "PSDS1", "PSDS2",
                  "Lin default", "tuned", "same validation set", str(run / "report" / "index.html")):
        assert label in printed, label
    state = json.loads((out / "demo.json").read_text())
    assert state["train"]["finished"] and state["data"]["preset"] == "tiny"
    steps = {s["name"]: s for s in state["last"]["steps"]}
    assert "reused" not in steps["1. synthesize dataset"]["note"]
    assert "reused" not in steps["2. train"]["note"]
    # the evaluation folder was made with the tuned parameters
    metrics = json.loads((run / "eval" / "validation" / "metrics.json").read_text())
    assert metrics["postprocess"]["file"] == str(run / "postprocess.json")


def _demo(out: Path, *overrides: str) -> str:
    """``run_demo`` as ``jointsed demo`` runs it in the fixture ``demo_folder``; returns what it prints."""
    said: list[str] = []
    result = run_demo(out, recipe=GL_RECIPE, overrides=[*DEMO_TINY, *overrides], preset="tiny", report_clips=1,
                      progress=False, echo=said.append)
    return "\n".join([*said, result.summary()])


def test_second_demo_run_reuses_dataset_model_and_scores(demo_folder, monkeypatch):
    out, _ = demo_folder
    checkpoint = out / "run" / "checkpoints" / "best.ckpt"
    before = checkpoint.stat().st_mtime_ns

    import jointsed.data.synth as synth
    import jointsed.training.phases as engine
    from jointsed.inference import Detector

    def must_not_run(*args, **kwargs):
        raise AssertionError("a finished demo step ran again")

    monkeypatch.setattr(synth, "synthesize_dataset", must_not_run)
    monkeypatch.setattr(engine, "train", must_not_run)
    monkeypatch.setattr(Detector, "predict_many", must_not_run)
    printed = _demo(out)
    assert checkpoint.stat().st_mtime_ns == before
    state = json.loads((out / "demo.json").read_text())
    steps = {s["name"]: s["note"] for s in state["last"]["steps"]}
    assert steps["1. synthesize dataset"].startswith("reused")
    assert steps["2. train"].startswith("reused")
    assert steps["3a. score validation set"] == "reused"
    assert "report:" in printed


def test_finished_run_without_demo_record_is_not_retrained(demo_folder, tmp_path, monkeypatch):
    import shutil

    import jointsed.training.phases as engine

    out = tmp_path / "copy"
    shutil.copytree(demo_folder[0], out)
    state = json.loads((out / "demo.json").read_text())
    state.pop("train")
    (out / "demo.json").write_text(json.dumps(state))

    def must_not_run(*args, **kwargs):
        raise AssertionError("the finished run was trained again")

    monkeypatch.setattr(engine, "train", must_not_run)
    _demo(out)
    steps = {s["name"]: s["note"] for s in json.loads((out / "demo.json").read_text())["last"]["steps"]}
    assert steps["2. train"].startswith("reused")


def test_demo_with_the_default_recipe_and_its_phases(tmp_path, monkeypatch):
    """The default demo recipe (the joint framework when ``recipes/cpu/joint.yaml`` exists:
    frame teacher, stage 1, stage 2), one epoch per phase; a second run reuses the model."""
    import jointsed.training.phases as engine

    out = tmp_path / "demo"
    overrides: list[str] = []
    # one epoch per phase: the teacher is not good yet, and this test is about the phases, so the
    # teacher-quality check (tests/training/test_phases.py) is switched off
    for item in [*DEMO_TINY, "batch.batch_size=4", "joint.distillation.teacher_epochs=1", "joint.two_stage.epochs=1",
                 "joint.distillation.min_teacher_gain=-1"]:
        overrides.append(item)

    def demo() -> str:
        said: list[str] = []
        result = run_demo(out, overrides=overrides, preset="tiny", report_clips=0, progress=False, echo=said.append)
        return "\n".join([*said, result.summary()])

    printed = demo()
    assert f"recipe {demo_recipe()}" in printed
    run = out / "run"
    assert (run / "checkpoints" / "best.ckpt").is_file() or (run / "checkpoints" / "last.ckpt").is_file()
    assert (run / "eval" / "validation" / "metrics.json").is_file()

    def must_not_run(*a, **k):
        raise AssertionError("the finished run was trained again")

    monkeypatch.setattr(engine, "train", must_not_run)
    demo()
    steps = {s["name"]: s["note"] for s in json.loads((out / "demo.json").read_text())["last"]["steps"]}
    assert steps["2. train"].startswith("reused")


def test_demo_recipe_is_found_from_the_package_not_the_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recipe = demo_recipe()
    assert recipe.is_file() and recipe.parent.parent.name == "recipes"
    assert load_recipe(recipe).system in ("guided_learning", "mean_teacher")


def test_demo_record_paths_are_relative_and_a_copy_uses_its_own_run(tmp_path):
    from jointsed.pipeline.demo import _find_model_run, _relative_to_demo

    original, copy = tmp_path / "demo", tmp_path / "copy"
    for out in (original, copy):
        (out / "run" / "checkpoints").mkdir(parents=True)
        (out / "run" / "checkpoints" / "best.ckpt").write_bytes(b"x")
    assert _relative_to_demo(original / "run", original) == "run"
    # an older demo.json recorded the original's absolute path: the copy must not use (write into) it
    state = {"train": {"model_run": str((original / "run").resolve())}}
    assert _find_model_run(copy / "run", state).resolve() == (copy / "run").resolve()
    assert _find_model_run(copy / "run", {"train": {"model_run": "run"}}).resolve() == (copy / "run").resolve()
