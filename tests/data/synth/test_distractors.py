"""Distractor sounds and ambience layers of the recording chain (jointsed.data.synth.distractors,
jointsed.data.synth.ambience): every generator works at several rates and varies; distractors are
placed at their ratio, at the requested rate, only of the requested kinds."""

from __future__ import annotations

import numpy as np
import pytest

from jointsed.data.synth import AMBIENCE_GENERATORS, DISTRACTOR_GENERATORS
from jointsed.data.synth.ambience import recorded_background
from jointsed.data.synth.chain_config import AMBIENCE_KINDS, DISTRACTOR_KINDS, RecordingChainConfig
from jointsed.data.synth.distractors import DISTRACTOR_DURATIONS, draw_distractors
from jointsed.data.synth.dsp import rms

SR = 16000
GENERATORS = {**DISTRACTOR_GENERATORS, **AMBIENCE_GENERATORS}


@pytest.mark.parametrize("name", list(GENERATORS))
def test_generators_work_and_vary(name):
    generator = GENERATORS[name]
    for sample_rate in (8000, 16000, 44100):
        for seed, seconds in enumerate((0.01, 0.6, 3.0)):
            n = int(seconds * sample_rate)
            x = generator(np.random.default_rng(seed), n, sample_rate)
            assert x.shape == (n,) and np.all(np.isfinite(x)) and rms(x) > 0, (sample_rate, seconds)
    a = generator(np.random.default_rng(1), SR, SR)
    np.testing.assert_array_equal(a, generator(np.random.default_rng(1), SR, SR))
    b = generator(np.random.default_rng(2), SR, SR)
    assert not np.allclose(a / np.abs(a).max(), b / np.abs(b).max(), atol=1e-3)


def test_the_kind_lists_are_the_generators():
    assert tuple(DISTRACTOR_GENERATORS) == DISTRACTOR_KINDS == tuple(DISTRACTOR_DURATIONS)
    assert tuple(AMBIENCE_GENERATORS) == AMBIENCE_KINDS


def test_distractors_at_their_rate_ratio_and_kinds():
    background = 0.01 * np.random.default_rng(0).standard_normal(10 * SR)
    config = RecordingChainConfig(enabled=True, distractor_rate=0.4, distractor_ebr_db=(10.0, 10.0),
                                  distractor_kinds=("door", "music"))
    counts = []
    for clip in range(30):
        placed = draw_distractors(np.random.default_rng(clip), lambda k: np.random.default_rng((clip, k)),
                                  background, SR, config, fade_duration=0.015)
        counts.append(len(placed))
        for sound in placed:
            assert sound.label in ("door", "music") and 0 <= sound.start < sound.stop <= background.size
            low, high = DISTRACTOR_DURATIONS[sound.label]
            assert low * SR - 1 <= sound.stop - sound.start <= high * SR + 1
            ratio = 20 * np.log10(rms(sound.signal) / rms(background[sound.start:sound.stop]))
            assert ratio == pytest.approx(10.0, abs=1e-6)
    assert np.mean(counts) == pytest.approx(4.0, abs=1.0)  # Poisson, 0.4 per second of 10 s clips
    none = RecordingChainConfig(enabled=True, distractor_rate=0.0)
    assert draw_distractors(np.random.default_rng(0), np.random.default_rng, background, SR, none, 0.015) == []


def test_recorded_background_mixes_distinct_layers_and_drifts():
    base = np.random.default_rng(0).standard_normal(10 * SR)
    config = RecordingChainConfig(enabled=True, ambience_layers=(2, 3), background_drift_db=10.0)
    seen = set()
    for seed in range(6):
        out, kinds = recorded_background(base, np.random.default_rng(seed), SR, config)
        assert out.shape == base.shape and 2 <= len(kinds) <= 3 and len(set(kinds)) == len(kinds)
        seen.update(kinds)
        level = 10 * np.log10(np.mean(out.reshape(-1, SR // 10) ** 2, axis=1))
        assert 5.0 < np.ptp(level) < 16.0  # a 10 dB drift (100 ms levels of noise vary a little more)
    assert len(seen) >= 4
    plain = RecordingChainConfig(enabled=True, ambience_layers=(0, 0), background_drift_db=0.0)
    out, kinds = recorded_background(base, np.random.default_rng(0), SR, plain)
    assert kinds == () and np.allclose(out, base / rms(base))
