"""Recipe configuration (jointsed.training.config): unknown and removed keys, the joint
framework's checks.
"""

from __future__ import annotations

import pytest

from helpers import GL_RECIPE, JOINT_RECIPE
from jointsed.config import ConfigError
from jointsed.recipes import recipes_root
from jointsed.training.config import load_recipe


def test_unknown_recipe_key_is_an_error_naming_it(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"base: {GL_RECIPE}\noptimizer:\n  lrr: 0.1\n")
    with pytest.raises(ConfigError, match=r"optimizer\.lrr"):
        load_recipe(bad)
    with pytest.raises(ConfigError, match=r"model\.student\.dropout"):
        load_recipe(GL_RECIPE, ["model.student.dropout=high"])


# ----- configuration ---------------------------------------------------------------------------------------
def test_joint_config_is_validated():
    # two stages with BCE in stage 2 (the focal loss's control, joint_no_afl.yaml) are allowed
    assert load_recipe(JOINT_RECIPE, ["joint.focal.enabled=false"]).joint.two_stage.enabled
    with pytest.raises(ConfigError, match="joint.two_stage.epochs"):
        load_recipe(JOINT_RECIPE, ["joint.two_stage.epochs=0"])
    with pytest.raises(ConfigError, match="joint.distillation.layers"):
        load_recipe(JOINT_RECIPE, ["joint.distillation.layers=[3]"])
    with pytest.raises(ConfigError, match="joint.distillation"):
        load_recipe(recipes_root() / "cpu" / "crnn_mean_teacher.yaml",
                    ["joint.distillation.enabled=true", "joint.distillation.teacher_checkpoint=auto"])
    with pytest.raises(ConfigError, match="frame_teacher"):
        load_recipe(GL_RECIPE, ["system=frame_teacher", "data.synthetic_tsv=null"])


# ----- event-specific post-processing is chosen after training -----------------------------------------
def test_no_recipe_key_that_nothing_reads():
    """``postprocess.event_specific`` was read by nothing: joint_no_esp.yaml trained and evaluated
    exactly like joint.yaml. Event-specific post-processing is a separate step (``jointsed tune``);
    the key is gone and an old recipe that sets it is told so."""
    with pytest.raises(ConfigError, match="postprocess.event_specific"):
        load_recipe(GL_RECIPE, ["postprocess.event_specific=true"])
    assert not list(recipes_root().glob("*/joint_no_esp.yaml"))
