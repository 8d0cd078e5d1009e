"""The recording chain's settings (jointsed.data.synth.chain_config): validated with errors naming
the setting, switched per preset, overridable, and documented with their defaults in
docs/synthetic_data.md."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import yaml

from jointsed.config import to_dict
from jointsed.data.synth import PRESETS, RecordingChainConfig, SynthError, resolve_config

DOC = Path(__file__).resolve().parents[3] / "docs" / "synthetic_data.md"


@pytest.mark.parametrize("changes, key", [
    ({"rt60": [0.9, 0.2]}, "recording_chain.rt60"),
    ({"rt60": [0.05, 0.2]}, "recording_chain.rt60"),
    ({"rt60": [0.2]}, "recording_chain.rt60"),
    ({"rir_bank_size": 0}, "recording_chain.rir_bank_size"),
    ({"rir_sources_per_room": 2.5}, "recording_chain.rir_sources_per_room"),
    ({"reverb_probability": 1.5}, "recording_chain.reverb_probability"),
    ({"lowpass_hz": [200.0, 300.0]}, "recording_chain.lowpass_hz"),
    ({"highpass_hz": [10.0, 100.0]}, "recording_chain.highpass_hz"),
    ({"eq_bands": "two"}, "recording_chain.eq_bands"),
    ({"sensor_noise_dbfs": [-60.0, -10.0]}, "recording_chain.sensor_noise_dbfs"),
    ({"distractor_rate": -1}, "recording_chain.distractor_rate"),
    ({"distractor_kinds": ["door", "Dog"]}, "recording_chain.distractor_kinds"),
    ({"distractor_kinds": []}, "recording_chain.distractor_kinds"),
    ({"ambience_layers": [0, 9]}, "recording_chain.ambience_layers"),
    ({"background_drift_db": 30}, "recording_chain.background_drift_db"),
    ({"enabled": "yes"}, "recording_chain.enabled"),
    ({"rt_60": [0.2, 0.4]}, "recording_chain.rt_60"),
])
def test_a_bad_setting_is_named(changes, key):
    with pytest.raises(SynthError, match=re.escape(key)):
        resolve_config("tiny", recording_chain=changes)
    with pytest.raises(SynthError, match=re.escape(key)):  # the same through --set's plain data
        resolve_config("tiny", settings={"recording_chain": changes})


def test_a_direct_config_is_validated_too():
    with pytest.raises(SynthError, match=r"recording_chain\.gain_db"):
        resolve_config("tiny", recording_chain=RecordingChainConfig(gain_db=(6.0, -6.0)))
    # the low cut must stay well below the Nyquist frequency of the dataset's sample rate
    with pytest.raises(SynthError, match=r"recording_chain\.highpass_hz"):
        resolve_config("tiny", sample_rate=4000, recording_chain={"highpass_hz": [1000.0, 1800.0],
                                                                  "lowpass_hz": [2000.0, 3000.0]})
    with pytest.raises(SynthError, match="unknown synth setting"):
        resolve_config("tiny", settings={"recording": {}})


def test_presets_and_the_switch():
    assert PRESETS["proxy"].recording_chain.enabled
    assert not PRESETS["demo"].recording_chain.enabled and not PRESETS["tiny"].recording_chain.enabled
    assert PRESETS["proxy"].recording_chain == dataclasses.replace(RecordingChainConfig(), enabled=True)
    on = resolve_config("demo", recording_chain=True)
    assert on.recording_chain == PRESETS["proxy"].recording_chain and on.n_weak == PRESETS["demo"].n_weak
    assert not resolve_config("proxy", recording_chain=False).recording_chain.enabled
    tuned = resolve_config("proxy", settings={"recording_chain": {"rt60": [0.3, 0.6]}, "n_weak": 7},
                           recording_chain={"distractor_rate": 0.2})
    assert tuned.recording_chain.rt60 == (0.3, 0.6) and tuned.recording_chain.distractor_rate == 0.2
    assert tuned.recording_chain.enabled and tuned.n_weak == 7


def _doc_table() -> dict[str, str]:
    rows = re.findall(r"^\| `(\w+)` \| `([^`]*)` \|", DOC.read_text(encoding="utf-8"), flags=re.M)
    return dict(rows)


def test_every_setting_is_documented_with_its_default():
    documented = _doc_table()
    defaults = to_dict(RecordingChainConfig())
    assert set(documented) == set(defaults)
    for name, value in defaults.items():
        text = yaml.safe_dump(value, default_flow_style=True, width=1000).strip().removesuffix("...").strip()
        assert documented[name] == text, name
