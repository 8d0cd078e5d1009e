"""``jointsed recipes``."""

from __future__ import annotations

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
