"""Typed model and phase settings (jointsed.runs.settings): what replaced the untyped ``meta``
dict, its checkpoint mapping, and the strictness that turns a misspelt key into an error."""

from __future__ import annotations

import pytest

from jointsed.config import ConfigError
from jointsed.runs.settings import (
    DistillationSource,
    ModelInfo,
    PhaseSettings,
    default_postprocess,
    split_meta,
    to_meta,
)

#: a ``meta`` mapping exactly as checkpoints written before the typed settings stored it
OLD_META = {
    "classes": ["Speech", "Dog"], "class_ratios": [0.25, 0.5], "median_windows": [9, 7], "frame_hop": 0.04,
    "n_frames": 250, "feature_config": {"n_mels": 64}, "feature_storage": "float16",
    "train_set_sizes": {"weak": 4, "synthetic": 6}, "class_dims": {"teacher": [8, 8], "student": [8, 16]},
    "distillation": {"teacher_checkpoint": "/runs/x/frame_teacher/checkpoints/best.ckpt",
                     "teacher_channels": [16, 32, 32], "teacher_weights_sha256": "ab" * 32},
    "stage": 2, "use_focal": True, "lr_factor": 0.3, "epoch_offset": 8,
}


def test_old_checkpoint_meta_reads_back_typed_and_round_trips():
    info, phase = split_meta(OLD_META)
    assert info.classes == ["Speech", "Dog"] and info.median_windows == [9, 7] and info.n_frames == 250
    assert isinstance(info.distillation, DistillationSource) and info.distillation.teacher_channels == [16, 32, 32]
    assert phase == PhaseSettings(stage=2, use_focal=True, lr_factor=0.3, epoch_offset=8)
    assert to_meta(info, phase) == OLD_META


def test_a_plain_run_stores_no_distillation_and_default_phase():
    info = ModelInfo(classes=["a"], class_ratios=[1.0], median_windows=[3], frame_hop=0.02, n_frames=500)
    meta = to_meta(info, PhaseSettings())
    assert "distillation" not in meta
    assert meta["stage"] is None and meta["use_focal"] is True and meta["lr_factor"] == 1.0 and meta["epoch_offset"] == 0
    assert split_meta(meta) == (info, PhaseSettings())


@pytest.mark.parametrize("key, value, message", [
    ("use_focall", True, "use_focall"),                 # a typo no longer becomes the default
    ("lr_factor", "fast", "lr_factor"),                 # a wrong type names the key
    ("classes", "Speech", "classes"),
])
def test_bad_meta_keys_are_errors_naming_them(key, value, message):
    with pytest.raises(ConfigError, match=message):
        split_meta({**OLD_META, key: value})


def test_stage_settings():
    assert PhaseSettings.stage1() == PhaseSettings(stage=1, use_focal=False, lr_factor=1.0, epoch_offset=0)
    assert PhaseSettings.stage2(0.3, 8) == PhaseSettings(stage=2, use_focal=True, lr_factor=0.3, epoch_offset=8)


def test_default_postprocess_uses_the_stored_windows_and_the_recipe_thresholds():
    info, _ = split_meta(OLD_META)
    params = default_postprocess(info, {"tag_threshold": 0.4, "frame_threshold": 0.6})
    assert params.classes == ["Speech", "Dog"] and params.median_window == [9, 7]
    assert params.tag_threshold == [0.4, 0.4] and params.frame_threshold == [0.6, 0.6]
