"""The packaged recipes' contents: every recipe loads, the CPU recipes inherit Lin's settings,
the joint recipes switch everything on and the ablations differ only in their switch.
"""

from __future__ import annotations

import pytest

from helpers import GL_RECIPE
from jointsed.config import to_dict
from jointsed.recipes import recipes_root
from jointsed.training.config import RecipeConfig, load_recipe


# ----- recipes -------------------------------------------------------------------------------------
@pytest.mark.parametrize("recipe", sorted(recipes_root().glob("*/*.yaml")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_recipe_loads(recipe):
    cfg = load_recipe(recipe)
    assert isinstance(cfg, RecipeConfig)
    assert cfg.system in ("guided_learning", "mean_teacher", "frame_teacher")


def test_cpu_recipe_inherits_lins_settings():
    full = load_recipe(recipes_root() / "dcase2019" / "gl_baseline.yaml")
    cpu = load_recipe(GL_RECIPE)
    # the CPU recipe trains a few epochs: a higher constant rate (its own setting); Lin's 0.0018 stays in full
    assert full.optimizer.lr == 0.0018 and cpu.optimizer.lr == 0.003
    assert full.optimizer.gamma == cpu.optimizer.gamma == 0.8
    assert full.guided_learning.teacher_noise_std == cpu.guided_learning.teacher_noise_std == 0.15
    assert full.model.teacher.width == 1.0 and cpu.model.teacher.width == 0.5
    # 40 ms input frames on CPU (250 per clip): the PT pools time by 50 instead of 100, so both give
    # Lin's 5 PT frames per 10-s clip; the PS's 40 ms output frames are the CPU recipe's since before
    assert (full.features.hop_length, cpu.features.hop_length) == (320, 640)
    for recipe in (full, cpu):
        time_pooling = 1
        for pool in recipe.model.teacher.pools:
            time_pooling *= pool[0]
        assert recipe.features.n_frames() // time_pooling == 5
    assert [p[1] for p in full.model.teacher.pools] == [p[1] for p in cpu.model.teacher.pools]  # frequency: Lin's
    assert full.batch.batch_size == 64 and cpu.batch.batch_size == 16


def _flatten(data, prefix=""):
    out = {}
    for key, value in data.items():
        if isinstance(value, dict) and value:
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


ABLATIONS = {
    "joint_no_dfd.yaml": {"joint.distillation.enabled": False},
    "joint_no_afl.yaml": {"joint.focal.enabled": False},
}


@pytest.mark.parametrize("folder", ["dcase2019", "cpu"])
@pytest.mark.parametrize("name", sorted(ABLATIONS))
def test_ablation_differs_from_joint_only_in_its_switch(folder, name):
    joint = _flatten(to_dict(load_recipe(recipes_root() / folder / "joint.yaml")))
    ablation = _flatten(to_dict(load_recipe(recipes_root() / folder / name)))
    assert joint.keys() == ablation.keys()
    diff = {k: ablation[k] for k in joint if joint[k] != ablation[k] and k != "name"}
    assert diff == ABLATIONS[name]


@pytest.mark.parametrize("folder", ["dcase2019", "cpu"])
def test_joint_recipe_switches_everything_on(folder):
    cfg = load_recipe(recipes_root() / folder / "joint.yaml")
    j = cfg.joint
    assert j.distillation.enabled and j.distillation.teacher_checkpoint == "auto" and j.distillation.mask_mode == "target"
    assert j.focal.enabled and j.focal.gamma0 > 0 and j.two_stage.enabled
    header = (recipes_root() / folder / "joint.yaml").read_text().splitlines()[:8]
    assert any("2103.12388" in line for line in header)
