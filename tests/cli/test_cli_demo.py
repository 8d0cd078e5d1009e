"""``jointsed demo`` as a command: exit codes, messages, what a rerun prints. The pipeline itself
is tested in tests/pipeline/test_demo.py. These tests work on a copy of ``conftest.demo_folder``
(made with the same recipe and overrides) so that they do not change its ``demo.json``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from helpers import DEMO_TINY, GL_RECIPE
from jointsed.cli import main as cli_main


def _demo_args(out: Path, *extra: str) -> list[str]:
    args = ["demo", "--out", str(out), "--preset", "tiny", "--recipe", str(GL_RECIPE),
            "--no-progress", "--report-clips", "1"]
    for item in DEMO_TINY:
        args += ["--set", item]
    return args + list(extra)


def _copy(demo_folder: tuple[Path, str], tmp_path: Path) -> Path:
    out = tmp_path / "demo"
    shutil.copytree(demo_folder[0], out)
    return out


def test_second_demo_run_prints_the_summary(demo_folder, tmp_path, monkeypatch, capsys):
    """A rerun reuses every step (tests/pipeline/test_demo.py): the command exits 0 and prints the table."""
    import jointsed.training.phases as engine

    def must_not_run(*args, **kwargs):
        raise AssertionError("a finished demo step ran again")

    monkeypatch.setattr(engine, "train", must_not_run)
    out = _copy(demo_folder, tmp_path)
    assert cli_main(_demo_args(out)) == 0
    printed = capsys.readouterr().out
    assert "report:" in printed and "PSDS1" in printed and "Event-based F1" in printed


def test_demo_refuses_a_changed_recipe_and_a_foreign_folder(demo_folder, tmp_path, capsys):
    out = _copy(demo_folder, tmp_path)
    assert cli_main(_demo_args(out, "--set", "optimizer.lr=0.5")) == 2
    assert "--force" in capsys.readouterr().err
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    assert cli_main(_demo_args(foreign)) == 2
    assert "not a jointsed demo folder" in capsys.readouterr().err
    assert (foreign / "notes.txt").read_text() == "keep me"
