"""Packaged recipes: found by name from any folder, old ``recipes/...`` spellings still work, a typo
names the closest recipes, and ``base:`` inheritance resolves inside the package and by name.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import jointsed
from jointsed.config import ConfigError
from jointsed.recipes import list_recipes, recipes_root, resolve_recipe
from jointsed.training.config import load_recipe


EXPECTED = {"cpu/gl_baseline", "cpu/joint", "cpu/crnn_mean_teacher", "dcase2019/gl_baseline", "dcase2019/joint",
            "dcase2019/crnn_mean_teacher"}


def test_recipes_live_in_the_package_and_are_listed_by_name():
    root = recipes_root()
    assert root == Path(jointsed.__file__).parent / "recipes"
    names = list_recipes()
    assert names == sorted(names) and EXPECTED <= set(names)
    assert len(names) == len(list(root.rglob("*.yaml")))


@pytest.mark.parametrize("spelling", ["dcase2019/joint", "dcase2019/joint.yaml", "recipes/dcase2019/joint.yaml",
                                      "./recipes/dcase2019/joint.yaml"])
def test_every_spelling_of_a_name_resolves_from_any_folder(spelling, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_recipe(spelling) == recipes_root() / "dcase2019" / "joint.yaml"
    assert resolve_recipe(Path(spelling)) == recipes_root() / "dcase2019" / "joint.yaml"


def test_an_existing_file_wins_over_a_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cpu").mkdir()
    mine = tmp_path / "cpu" / "joint.yaml"
    mine.write_text("base: ../../mine_base.yaml\n")
    assert resolve_recipe("cpu/joint.yaml") == Path("cpu/joint.yaml")
    assert resolve_recipe("cpu/joint") == recipes_root() / "cpu" / "joint.yaml"  # no such file: the name


@pytest.mark.parametrize(("typo", "closest"), [("cpu/gl_basline", "cpu/gl_baseline"),
                                               ("dcase2019/join.yaml", "dcase2019/joint"),
                                               ("/old/checkout/recipes/cpu/crnn_mean_teachr.yaml",
                                                "cpu/crnn_mean_teacher")])
def test_unknown_recipe_names_the_closest_and_lists_all(typo, closest):
    with pytest.raises(ConfigError) as info:
        resolve_recipe(typo)
    message = str(info.value)
    assert f"recipe not found: {typo}" in message and f"did you mean {closest}" in message
    assert all(name in message for name in list_recipes())


def test_a_folder_is_not_a_recipe(tmp_path):
    with pytest.raises(ConfigError, match="is a folder"):
        resolve_recipe(tmp_path)


def test_packaged_inheritance_resolves_after_the_move():
    """cpu/joint -> cpu/gl_baseline -> dcase2019/gl_baseline: the CPU joint recipe keeps Lin's
    settings it never sets itself (they come from two ``base:`` levels up)."""
    full = load_recipe("dcase2019/gl_baseline")
    joint = load_recipe("cpu/joint")
    assert joint.system == "guided_learning" and joint.name == "joint"
    assert joint.guided_learning.teacher_noise_std == full.guided_learning.teacher_noise_std == 0.15
    assert load_recipe("cpu/crnn_mean_teacher").system == "mean_teacher"


def test_own_recipe_may_base_a_packaged_one_by_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not the repository: the name must come from the package
    own = tmp_path / "mine.yaml"
    own.write_text("base: cpu/gl_baseline\noptimizer:\n  lr: 0.01\n")
    config = load_recipe(own)
    assert config.optimizer.lr == 0.01 and config.model.teacher.width == 0.5
    bad = tmp_path / "bad.yaml"
    bad.write_text("base: cpu/gl_basline\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: base: recipe not found: cpu/gl_basline.*cpu/gl_baseline"):
        load_recipe(bad)
