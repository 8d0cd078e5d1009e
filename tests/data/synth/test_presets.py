"""Presets and their overrides (jointsed.data.synth.presets): a bad setting is named."""

from __future__ import annotations

import pytest

from jointsed.data.synth import SynthError, resolve_config


def test_config_validation_names_the_setting():
    with pytest.raises(SynthError, match="unknown preset"):
        resolve_config("huge")
    with pytest.raises(SynthError, match="n_weak"):
        resolve_config("tiny", n_weak=-1)
    with pytest.raises(SynthError, match="n_validation"):
        resolve_config("tiny", n_validation=5000)
    with pytest.raises(SynthError, match="sample_rate"):
        resolve_config("tiny", sample_rate=100)
    assert resolve_config("demo", n_weak=3).n_weak == 3
