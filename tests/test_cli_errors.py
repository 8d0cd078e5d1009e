"""Errors a newcomer hits first get a message that says what to do (exit 2, no traceback)."""

from __future__ import annotations

from pathlib import Path

from jointsed.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_recipe_typo_suggests_the_right_recipe(capsys):
    assert main(["train", "cpu/gl_basline", "--data-root", "."]) == 2
    err = capsys.readouterr().err
    assert "recipe not found" in err and "did you mean cpu/gl_baseline" in err


def test_data_root_without_tables_says_what_is_missing(tmp_path, capsys):
    assert main(["train", "cpu/gl_baseline", "--data-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "metadata/train/weak.tsv" in err and "jointsed synth" in err
    assert main(["train", "cpu/gl_baseline", "--data-root", str(tmp_path / "no")]) == 2
    assert "folder not found" in capsys.readouterr().err


def test_predict_on_a_folder_without_audio_names_it(tmp_path, capsys):
    empty = tmp_path / "recordings"
    empty.mkdir()
    (empty / "notes.txt").write_text("not audio")
    assert main(["predict", str(tmp_path / "run"), str(empty), "--out", str(tmp_path / "p.tsv")]) == 2
    err = capsys.readouterr().err
    assert "no audio file" in err and str(empty) in err
    assert not (tmp_path / "p.tsv").exists()
