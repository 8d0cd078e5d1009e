"""The sound generators of ``jointsed synth`` (jointsed.data.synth.generators): each DESED class's
generator fills its span, varies, and works at other sample rates."""

from __future__ import annotations

import numpy as np
import pytest

from jointsed.data.classes import DESED_CLASSES
from jointsed.data.synth import FOREGROUND_GENERATORS, background


SR = 16000


def _frame_energy(x: np.ndarray, hop: int = 320) -> np.ndarray:
    n = x.size // hop * hop
    return np.square(x[:n]).reshape(-1, hop).mean(axis=1)


@pytest.mark.parametrize("label", DESED_CLASSES)
def test_generators_fill_their_span_and_vary(label):
    generator = FOREGROUND_GENERATORS[label]
    outputs = []
    for seed, duration in enumerate((0.25, 1.3, 4.0)):
        n = int(duration * SR)
        x = generator(np.random.default_rng(seed), n, SR)
        assert x.shape == (n,) and np.all(np.isfinite(x))
        energy = _frame_energy(x)
        # sound at the very start and the very end of the span (labels line up with audio)
        assert energy[0] > 1e-6 * energy.max() and energy[-1] > 1e-6 * energy.max()
        outputs.append(x)
    # same seed -> same audio; another seed -> different audio (not one template)
    again = generator(np.random.default_rng(1), int(1.3 * SR), SR)
    other = generator(np.random.default_rng(99), int(1.3 * SR), SR)
    np.testing.assert_array_equal(again, outputs[1])
    assert not np.allclose(other / np.abs(other).max(), outputs[1] / np.abs(outputs[1]).max(), atol=1e-3)


@pytest.mark.parametrize("sample_rate", [8000, 22050, 44100])
def test_generators_work_at_other_sample_rates(sample_rate):
    for label, generator in FOREGROUND_GENERATORS.items():
        x = generator(np.random.default_rng(0), sample_rate // 2, sample_rate)
        assert x.shape == (sample_rate // 2,) and np.all(np.isfinite(x)) and np.std(x) > 0, label
    bg = background(np.random.default_rng(0), sample_rate, sample_rate)
    assert bg.shape == (sample_rate,) and np.std(bg) > 0
