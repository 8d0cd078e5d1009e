"""The run folder's state (jointsed.runs.state): the one "same run" rule, phase states, metrics
summaries and the files removed when a model changes."""

from __future__ import annotations

import json

import pytest

from jointsed.runs.layout import EVAL_DIR, REPORT_DIR, SCORES_DIR
from jointsed.runs.state import (
    clear_derived,
    clear_training,
    phase_state,
    read_finished,
    same_settings,
    settings_differ,
    summarize_history,
    write_finished,
)

SAVED = {"name": "a", "seed": 1, "optimizer": {"lr": 0.001, "betas": [0.9, 0.999]},
         "trainer": {"max_epochs": 10, "devices": 1, "accelerator": "cpu", "precision": "32-true"}}


def test_same_settings_ignores_hardware_name_and_keys_added_later():
    current = {**SAVED, "name": "b",
               "trainer": {**SAVED["trainer"], "devices": 4, "accelerator": "gpu"},
               "joint": {"new_key": 3}}  # a key the recipe format gained after the run was saved
    assert same_settings(SAVED, current)
    assert settings_differ(SAVED, current) == {}


def test_settings_differ_names_each_changed_key_with_both_values():
    current = {**SAVED, "optimizer": {"lr": 0.5, "betas": (0.9, 0.999)},  # tuple == saved list
               "trainer": {**SAVED["trainer"], "max_epochs": 20, "precision": "bf16-mixed"}}
    assert settings_differ(SAVED, current) == {"optimizer.lr": (0.001, 0.5), "trainer.max_epochs": (10, 20),
                                               "trainer.precision": ("32-true", "bf16-mixed")}
    assert set(settings_differ(SAVED, current, may_change=("trainer.max_epochs",))) == {"optimizer.lr",
                                                                                        "trainer.precision"}
    assert not same_settings(SAVED, current)
    # a key the run has and the recipe lost differs too
    assert settings_differ(SAVED, {k: v for k, v in SAVED.items() if k != "seed"}) == {"seed": (1, "<absent>")}


def test_phase_state_and_finished(tmp_path):
    assert phase_state(tmp_path) == "absent" and read_finished(tmp_path) == {}
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"x")
    assert phase_state(tmp_path) == "partial"
    write_finished(tmp_path, {"phase": "run", "epochs": 3})
    assert phase_state(tmp_path) == "finished" and read_finished(tmp_path) == {"phase": "run", "epochs": 3}


def test_summarize_history_best_epoch_ties_go_to_the_later_epoch():
    history = [{"epoch": 0, "score": 0.5}, {"epoch": 1, "score": 0.7}, {"epoch": 2, "score": 0.7},
               {"epoch": 3, "score": 0.6}]
    summary = summarize_history(history, "ap", {"ap": 0.1})
    assert summary["best_epoch"] == 2 and summary["best_score"] == 0.7 and summary["last"]["epoch"] == 3
    assert summary["untrained"] == {"ap": 0.1} and summary["monitor"] == "ap"
    assert summarize_history([], "ap")["best"] is None


def test_clear_derived_removes_only_what_jointsed_wrote(tmp_path):
    (tmp_path / "postprocess.json").write_text("{}")
    (tmp_path / EVAL_DIR / "validation").mkdir(parents=True)
    (tmp_path / EVAL_DIR / "validation" / "info.json").write_text("{}")
    (tmp_path / REPORT_DIR).mkdir()
    (tmp_path / REPORT_DIR / "notes.txt").write_text("mine")  # not a jointsed report: kept
    (tmp_path / SCORES_DIR / "validation").mkdir(parents=True)
    (tmp_path / SCORES_DIR / "validation" / "raw_scores.npz").write_bytes(b"x")
    assert sorted(clear_derived(tmp_path)) == sorted(["postprocess.json", EVAL_DIR, SCORES_DIR])
    assert (tmp_path / REPORT_DIR / "notes.txt").read_text() == "mine"
    assert not (tmp_path / EVAL_DIR).exists() and not (tmp_path / SCORES_DIR).exists()


def test_clear_training_keeps_foreign_files(tmp_path):
    for name in ("config.yaml", "metrics.json", "finished.json", "notes.md"):
        (tmp_path / name).write_text("x")
    for folder in ("checkpoints", "logs/csv", "ddp"):
        (tmp_path / folder).mkdir(parents=True)
    clear_training(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.md"]
    json.dumps(read_finished(tmp_path))  # absent: {}


def test_a_report_folder_jointsed_did_not_write_is_left_alone(tmp_path):
    from jointsed.runs.state import clear_derived

    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "draft.docx").write_text("mine")
    assert clear_derived(tmp_path) == []
    assert (tmp_path / "report" / "draft.docx").is_file()


# ----- issue 22: --force checks everything it will remove before removing anything -----------------------
def test_force_refuses_a_symlinked_run_folder_and_removes_nothing(short_gl_run, learnable_dataset, tmp_path, capsys):
    from helpers import GL_RECIPE, RUN_SETS, fresh_run_copy
    from jointsed.cli import main

    run = fresh_run_copy(short_gl_run, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    (run / "logs").rename(elsewhere)
    (run / "logs").symlink_to(elsewhere)
    before = sorted(p.name for p in run.rglob("*"))
    assert main(["train", str(GL_RECIPE), "--data-root", str(learnable_dataset), "--out", str(run), "--force",
                 "--no-progress", *[f"--set={o}" for o in RUN_SETS]]) == 2
    err = capsys.readouterr().err
    assert "symbolic link" in err and str(run / "logs") in err and "Nothing was removed" in err
    assert sorted(p.name for p in run.rglob("*")) == before
    assert (run / "checkpoints" / "best.ckpt").is_file() and any(elsewhere.rglob("metrics.csv"))


def test_clear_training_checks_every_folder_first(tmp_path):
    from jointsed.runs.state import RunFolderError, clear_training

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.ckpt").write_bytes(b"x")
    (tmp_path / "target").mkdir()
    (run / "report").symlink_to(tmp_path / "target")
    with pytest.raises(RunFolderError, match="report is a symbolic link"):
        clear_training(run)
    assert (run / "checkpoints" / "last.ckpt").is_file() and (tmp_path / "target").is_dir()
