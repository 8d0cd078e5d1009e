"""Rendering a dataset from recorded sources (jointsed.data.synth with ``sources=``, the
``jointsed synth --sources`` of docs/own_dataset.md): the soundbank must hold the DESED class
folders; a soundbank of the DESED classes is rendered.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from jointsed.data.classes import DESED_CLASSES
from jointsed.data.synth import SynthError, synthesize_dataset


TOY_CLASSES = ["beep", "hum", "hiss"]


def _soundbank(root: Path, labels) -> Path:
    rng = np.random.default_rng(1)
    for label in labels:
        (root / "foreground" / label).mkdir(parents=True)
        f = float(rng.uniform(200, 6000))
        sf.write(root / "foreground" / label / "a.wav", 0.3 * np.sin(2 * np.pi * f * np.arange(8000) / 16000), 16000)
    (root / "background" / "home").mkdir(parents=True)
    sf.write(root / "background" / "home" / "room.wav", 0.01 * rng.standard_normal(32000), 16000)
    return root


def test_synth_sources_needs_the_desed_class_folders(tmp_path):
    bank = _soundbank(tmp_path / "bank", TOY_CLASSES)
    with pytest.raises(SynthError) as info:
        synthesize_dataset(tmp_path / "data", sources=bank, n_weak=1, n_synthetic=1, n_unlabelled=0, n_validation=1,
                           progress=False)
    err = str(info.value)
    assert "no audio files for these classes" in err and "Alarm_bell_ringing" in err
    assert not (tmp_path / "data").exists()


def test_synth_sources_renders_a_soundbank_of_the_desed_classes(tmp_path):
    bank = _soundbank(tmp_path / "bank", DESED_CLASSES)
    out = tmp_path / "data"
    synthesize_dataset(out, sources=bank, n_weak=2, n_synthetic=2, n_unlabelled=0, n_validation=2, clip_duration=2,
                       progress=False)
    strong = pd.read_csv(out / "metadata/train/synthetic.tsv", sep="\t")
    assert set(strong.event_label.dropna()) <= set(DESED_CLASSES)
    assert len(list((out / "audio/train/synthetic").glob("*.wav"))) == 2
    assert str(bank) in json.loads((out / "synth.json").read_text())["sources"]
