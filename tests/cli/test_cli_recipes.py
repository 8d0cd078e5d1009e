"""``jointsed recipes``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from jointsed.cli import main
from jointsed.recipes import list_recipes, recipes_root


def test_recipes_command_prints_every_name_and_its_file(capsys):
    assert main(["recipes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list_recipes()
    for line in lines:
        name, path = line.split()
        assert Path(path) == recipes_root() / f"{name}.yaml" and Path(path).is_file()


def test_output_cut_short_by_the_reader_is_not_an_error(monkeypatch, capsys):
    """``jointsed recipes | head -1``: the reader closes the pipe early; exit 0, no traceback."""
    import jointsed.cli.recipes as command

    def closed_pipe(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(command, "run", closed_pipe)
    assert main(["recipes"]) == 0
    assert capsys.readouterr().err == ""


def test_a_real_pipe_closed_early_prints_no_traceback():
    proc = subprocess.run(f"{sys.executable} -m jointsed recipes | head -1", shell=True, capture_output=True,
                          text=True, timeout=120)
    assert proc.stdout.startswith(list_recipes()[0]) and len(proc.stdout.splitlines()) == 1
    assert "Traceback" not in proc.stderr
