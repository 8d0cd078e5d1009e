"""Event-based F1 of the tuner (jointsed.postprocess.fast_f1) equals sed_eval's."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import sed_eval_class_f1
from jointsed.data.annotations import Event
from jointsed.postprocess import event_f1_per_class


HOP = 0.02


# ----------------------------------------------------------------------------- fast F1
def test_fast_f1_equals_sed_eval_on_random_events():
    rng = np.random.default_rng(0)
    classes = ["a", "b", "c"]
    for trial in range(12):
        on_grid = trial % 2 == 0  # times on the 20 ms grid: many exact collar borders

        def rand_time(lo, hi):
            t = rng.uniform(lo, hi)
            return float(np.round(t / HOP) * HOP) if on_grid else float(t)

        reference, estimated = [], []
        for i in range(12):
            f = f"clip{i}.wav"
            for _ in range(int(rng.integers(0, 6))):
                on = rand_time(0, 8)
                event = Event(f, on, on + rand_time(0.04, 1.5), str(rng.choice(classes)))
                reference.append(event)
                for _ in range(int(rng.integers(0, 3))):  # 0-2 noisy copies: competing matches
                    d_on, d_off = rand_time(-0.25, 0.25), rand_time(-0.3, 0.3)
                    est_on = max(0.0, event.onset + d_on)
                    estimated.append(Event(f, est_on, max(est_on + HOP, event.offset + d_off), event.event_label))
            for _ in range(int(rng.integers(0, 3))):
                on = rand_time(0, 8)
                estimated.append(Event(f, on, on + rand_time(0.04, 2.0), str(rng.choice(classes))))
        fast = event_f1_per_class(reference, estimated, classes)
        expected = sed_eval_class_f1(reference, estimated, classes)
        for c in classes:
            assert fast[c] == pytest.approx(expected[c], abs=1e-12)


def test_fast_f1_uses_optimal_matching_like_sed_eval_default():
    # ref1 can be matched by A or B, ref2 only by A: greedy (A -> ref1) finds 1 hit, optimal 2
    reference = [Event("x.wav", 0.0, 1.0, "a"), Event("x.wav", 0.3, 1.3, "a")]
    estimated = [Event("x.wav", 0.15, 1.15, "a"), Event("x.wav", 0.0, 1.0, "a")]
    fast = event_f1_per_class(reference, estimated, ["a"])["a"]
    assert fast == pytest.approx(sed_eval_class_f1(reference, estimated, ["a"])["a"]) == pytest.approx(1.0)
    assert sed_eval_class_f1(reference, estimated, ["a"], matching="greedy")["a"] == pytest.approx(0.5)


def test_fast_f1_without_reference_or_system_events_is_zero():
    event = Event("x.wav", 1.0, 2.0, "a")
    assert event_f1_per_class([event], [], ["a"]) == {"a": 0.0}  # nothing detected
    assert event_f1_per_class([], [event], ["a"]) == {"a": 0.0}  # nothing to detect
    assert event_f1_per_class([], [], ["a"]) == {"a": 0.0}
