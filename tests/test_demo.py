"""``jointsed demo``: the whole chain on the ``tiny`` synthetic preset with a tiny network, and
its reuse of finished steps (a second run neither synthesises nor trains nor scores again)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jointsed.cli import main as cli_main
from jointsed.recipes import recipes_root

REPO = Path(__file__).resolve().parents[1]
GL_RECIPE = recipes_root() / "cpu" / "gl_baseline.yaml"
TINY = [
    "trainer.num_threads=1",
    "trainer.max_epochs=1",
    "model.teacher.width=0.25",
    "model.student.channels=[8,8,8]",
    "batch.batch_size=8",
]


def _demo_args(out: Path, *extra: str) -> list[str]:
    args = ["demo", "--out", str(out), "--preset", "tiny", "--recipe", str(GL_RECIPE),
            "--no-progress", "--report-clips", "1"]
    for item in TINY:
        args += ["--set", item]
    return args + list(extra)


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo") / "demo"
    import io
    from contextlib import redirect_stdout

    buffer = io.StringIO()
    with redirect_stdout(buffer):
        code = cli_main(_demo_args(out))
    assert code == 0, buffer.getvalue()
    return out, buffer.getvalue()


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


def test_second_demo_run_reuses_dataset_model_and_scores(demo_folder, monkeypatch, capsys):
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
    assert cli_main(_demo_args(out)) == 0
    printed = capsys.readouterr().out
    assert checkpoint.stat().st_mtime_ns == before
    state = json.loads((out / "demo.json").read_text())
    steps = {s["name"]: s["note"] for s in state["last"]["steps"]}
    assert steps["1. synthesize dataset"].startswith("reused")
    assert steps["2. train"].startswith("reused")
    assert steps["3a. score validation set"] == "reused"
    assert "report:" in printed


def test_demo_refuses_a_changed_recipe_and_a_foreign_folder(demo_folder, tmp_path, capsys):
    out, _ = demo_folder
    assert cli_main(_demo_args(out, "--set", "optimizer.lr=0.5")) == 2
    assert "--force" in capsys.readouterr().err
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    assert cli_main(_demo_args(foreign)) == 2
    assert "not a jointsed demo folder" in capsys.readouterr().err
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_finished_run_without_demo_record_is_not_retrained(demo_folder, tmp_path, monkeypatch, capsys):
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
    assert cli_main(_demo_args(out)) == 0
    steps = {s["name"]: s["note"] for s in json.loads((out / "demo.json").read_text())["last"]["steps"]}
    assert steps["2. train"].startswith("reused")


def test_demo_with_the_default_recipe_and_its_phases(tmp_path, monkeypatch, capsys):
    """The default demo recipe (the joint framework when ``recipes/cpu/joint.yaml`` exists:
    frame teacher, stage 1, stage 2), one epoch per phase; a second run reuses the model."""
    from jointsed.pipeline import demo_recipe

    import jointsed.training.phases as engine

    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--preset", "tiny", "--no-progress", "--report-clips", "0"]
    # one epoch per phase: the teacher is not good yet, and this test is about the phases, so the
    # teacher-quality check (tests/test_model_selection.py) is switched off
    for item in [*TINY, "batch.batch_size=4", "joint.distillation.teacher_epochs=1", "joint.two_stage.epochs=1",
                 "joint.distillation.min_teacher_gain=-1"]:
        args += ["--set", item]
    assert cli_main(args) == 0
    printed = capsys.readouterr().out
    assert f"recipe {demo_recipe()}" in printed
    run = out / "run"
    assert (run / "checkpoints" / "best.ckpt").is_file() or (run / "checkpoints" / "last.ckpt").is_file()
    assert (run / "eval" / "validation" / "metrics.json").is_file()

    def must_not_run(*a, **k):
        raise AssertionError("the finished run was trained again")

    monkeypatch.setattr(engine, "train", must_not_run)
    assert cli_main(args) == 0
    steps = {s["name"]: s["note"] for s in json.loads((out / "demo.json").read_text())["last"]["steps"]}
    assert steps["2. train"].startswith("reused")
