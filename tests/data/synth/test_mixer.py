"""The soundscape mixer of ``jointsed synth`` (jointsed.data.synth.mixer): target event-to-background
ratio, no clipping, bad events, fades."""

from __future__ import annotations

import numpy as np
import pytest

from jointsed.data.synth import (
    FOREGROUND_GENERATORS,
    PlacedEvent,
    SynthError,
    background,
    event_to_background_ratio_db,
    mix_soundscape,
    raised_cosine_fades,
)


SR = 16000


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
