"""``jointsed recipes``: the packaged recipes, one per line: name and file.

    jointsed recipes

Any of these names can be given to ``jointsed train``, ``jointsed demo --recipe`` and
:func:`jointsed.api.load_recipe`; copy a file to start a recipe of your own (or ``base:`` it).
"""

from __future__ import annotations

import argparse

HELP = "List the packaged recipes (names for jointsed train / demo) and their files."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = "Give a name to jointsed train RECIPE or jointsed demo --recipe RECIPE."


def run(args: argparse.Namespace) -> int:
    from jointsed.recipes import list_recipes, packaged_recipe

    names = list_recipes()
    width = max(map(len, names), default=0)
    for name in names:
        print(f"{name:<{width}}  {packaged_recipe(name)}")
    return 0
