"""Clip layouts of ``jointsed synth`` (jointsed.data.synth.layouts) follow the real DESED metadata."""

from __future__ import annotations

import numpy as np
import pytest

from jointsed.data import classes
from jointsed.data.synth import layouts


def test_layouts_follow_the_real_metadata():
    assert len(layouts.real_validation_layouts()) == classes.N_REAL_VALIDATION
    assert sum(not c.events for c in layouts.real_validation_layouts()) == 15
    assert len(layouts.real_synthetic_layouts()) == classes.N_REAL_SYNTHETIC
    assert len(layouts.real_weak_label_sets()) == classes.N_REAL_WEAK
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
