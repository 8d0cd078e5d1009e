"""Unit tests of the soundscape mixer, the sound generators and the layouts of ``jointsed synth``."""

from __future__ import annotations

import numpy as np
import pytest

from jointsed.data.classes import DESED_CLASSES
from jointsed.data.synth import (
    FOREGROUND_GENERATORS,
    PlacedEvent,
    SynthError,
    background,
    event_to_background_ratio_db,
    mix_soundscape,
    raised_cosine_fades,
    resolve_config,
)
from jointsed.data.synth import layouts

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


def test_mixer_hits_the_target_ratio_and_avoids_clipping():
    rng = np.random.default_rng(0)
    bg = 0.01 * background(rng, 3 * SR, SR)
    events = [
        PlacedEvent("Dog", 1000, 9000, FOREGROUND_GENERATORS["Dog"](rng, 8000, SR), 12.0),
        PlacedEvent("Speech", 5000, 40000, FOREGROUND_GENERATORS["Speech"](rng, 35000, SR), 45.0),  # loud
    ]
    scape = mix_soundscape(bg, events, SR)
    assert scape.normalised and np.max(np.abs(scape.mixture)) <= 10 ** (-1 / 20) + 1e-12
    for k, event in enumerate(events):
        got = event_to_background_ratio_db(scape.stem(k), scape.background, event.start, event.stop)
        assert got == pytest.approx(event.ebr_db, abs=1e-6)  # global gain keeps the ratio
    np.testing.assert_allclose(scape.mixture, scape.background + scape.stem(0) + scape.stem(1), atol=1e-12)
    # nothing outside the spans
    assert not scape.stem(0)[:1000].any() and not scape.stem(0)[9000:].any()


def test_mixer_without_clipping_keeps_levels():
    bg = 0.001 * np.random.default_rng(1).standard_normal(SR)
    event = PlacedEvent("Frying", 100, 900, np.ones(800), 6.0)
    scape = mix_soundscape(bg, [event], SR)
    assert scape.gain == 1.0
    np.testing.assert_array_equal(scape.background, bg)


def test_mixer_rejects_bad_events():
    bg = np.ones(1000)
    with pytest.raises(SynthError, match="does not fit"):
        mix_soundscape(bg, [PlacedEvent("Dog", 900, 1100, np.ones(200), 0.0)], SR)
    with pytest.raises(SynthError, match="silent"):
        mix_soundscape(np.zeros(1000), [PlacedEvent("Dog", 0, 100, np.ones(100), 0.0)], SR)


def test_fades_are_raised_cosine_and_short():
    x = raised_cosine_fades(np.ones(SR), SR, 0.015)
    fade = int(0.015 * SR)
    assert x[0] > 0 and x[-1] > 0  # never exactly silent at the label edge
    assert np.all(np.diff(x[:fade]) > 0) and np.all(x[fade:-fade] == 1.0)
    np.testing.assert_allclose(x[:fade], x[::-1][:fade])
    short = raised_cosine_fades(np.ones(40), SR, 0.015)  # fade capped at a quarter of the event
    assert np.all(short[10:30] == 1.0)


def test_layouts_follow_the_real_metadata():
    assert len(layouts.real_validation_layouts()) == layouts.N_REAL_VALIDATION
    assert sum(not c.events for c in layouts.real_validation_layouts()) == 15
    assert len(layouts.real_synthetic_layouts()) == layouts.N_REAL_SYNTHETIC
    assert len(layouts.real_weak_label_sets()) == layouts.N_REAL_WEAK
    rng = np.random.default_rng(0)
    weak = layouts.weak_layouts(200, rng, 10.0)
    real_sets = {frozenset(s) for s in layouts.real_weak_label_sets()}
    for clip in weak:
        assert frozenset(clip.labels) in real_sets
        for e in clip.events:
            assert 0.0 <= e.onset < e.offset <= 10.0
            same = [o for o in clip.events if o.label == e.label and o is not e]
            assert all(o.offset <= e.onset or o.onset >= e.offset for o in same)  # no same-class overlap
    # event durations follow the per-class statistics (dishes are short, vacuum cleaners long)
    dur = {c: np.mean([e.offset - e.onset for clip in weak for e in clip.events if e.label == c] or [np.nan])
           for c in ("Dishes", "Vacuum_cleaner")}
    assert dur["Dishes"] < dur["Vacuum_cleaner"]
    # scaled to a 5 s clip: every time halves
    half = layouts.fit_to_clip(layouts.real_synthetic_layouts()[0].events, 5.0)
    full = layouts.fit_to_clip(layouts.real_synthetic_layouts()[0].events, 10.0)
    for a, b in zip(half, full):
        assert a.onset == pytest.approx(b.onset / 2, abs=1e-3) and a.offset == pytest.approx(b.offset / 2, abs=1e-3)


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
