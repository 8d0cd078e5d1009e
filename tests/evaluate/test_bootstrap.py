"""Per-clip counts sum to the official evaluators' figures; the effect intervals behave as
intervals must (identical systems cover 0, a real gap does not, more noise gives wider ones)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from jointsed.data.classes import DESED_CLASSES
from jointsed.evaluate.bootstrap import ClipCounts, macro_f1_from_counts, paired_effect, per_clip_counts, seed_interval
from jointsed.evaluate.event_based import event_based_fscores
from jointsed.evaluate.io import Reference
from jointsed.evaluate.segment_based import segment_based_fscores
from jointsed.evaluate.tagging import tagging_fscores

RESOURCES = Path(__file__).resolve().parents[2] / "src" / "jointsed" / "resources"


def _reference(n_clips: int = 60, seed: int = 0) -> Reference:
    truth = pd.read_csv(RESOURCES / "validation.tsv", sep="\t")
    names = sorted(truth.filename.unique())
    rng = np.random.default_rng(seed)
    picked = list(rng.choice(names, n_clips, replace=False))
    events: dict[str, list] = {}
    for name in picked:
        rows = truth[(truth.filename == name) & truth.event_label.notna()]
        merged: list[tuple[float, float, str]] = []
        for label, group in rows.groupby("event_label"):  # no overlapping same-class events
            spans = sorted(zip(group.onset, group.offset))
            out = [list(spans[0])]
            for on, off in spans[1:]:
                if on <= out[-1][1]:
                    out[-1][1] = max(out[-1][1], off)
                else:
                    out.append([on, off])
            merged += [(float(a), float(b), label) for a, b in out]
        events[name[:-4]] = sorted(merged)
    return Reference(events=events, durations={k: 10.0 for k in events}, classes=tuple(DESED_CLASSES))


def _system(reference: Reference, skill: float, seed: int) -> dict[str, list]:
    """Detections that find each event with probability ``skill`` (jittered), plus false alarms."""
    rng = np.random.default_rng(seed)
    out = {}
    for key, truth in reference.events.items():
        found = []
        for on, off, label in truth:
            if rng.random() < skill:
                a = float(np.clip(on + rng.normal(0, 0.1), 0, 9.9))
                found.append((a, float(np.clip(off + rng.normal(0, 0.15), a + 0.05, 10.0)), label))
        for _ in range(rng.poisson(1.0 - skill)):
            a = float(rng.uniform(0, 9))
            found.append((a, a + float(rng.uniform(0.2, 1)), DESED_CLASSES[rng.integers(10)]))
        by_label: dict[str, list] = {}
        for ev in sorted(found):
            spans = by_label.setdefault(ev[2], [])
            if spans and ev[0] <= spans[-1][1]:
                spans[-1] = (spans[-1][0], max(spans[-1][1], ev[1]), ev[2])
            else:
                spans.append(ev)
        out[key] = sorted(e for spans in by_label.values() for e in spans)
    return out


@pytest.fixture(scope="module")
def reference():
    return _reference()


def test_per_clip_counts_sum_to_the_official_figures(reference):
    detections = _system(reference, 0.6, seed=1)
    # a class that only the system outputs: sed_eval leaves it out of its macro average, the
    # tagging F1 counts it as 0
    absent = [c for c in DESED_CLASSES if not any(e[2] == c for evs in reference.events.values() for e in evs)]
    reference = Reference({k: [e for e in v if e[2] != "Cat"] for k, v in reference.events.items()},
                          reference.durations, reference.classes)
    first = next(iter(detections))
    detections[first] = sorted([*detections[first], (1.0, 2.0, "Cat")])
    assert not absent  # the layout has every class: "Cat" is the only one made absent
    official = {
        "event_based": event_based_fscores(reference, detections)["macro_f1"],
        "segment_based": segment_based_fscores(reference, detections)["macro_f1"],
        "tagging": tagging_fscores(reference.tags(), {k: {e[2] for e in v} for k, v in detections.items()},
                                   list(reference.classes))["macro_f1"],
    }
    for family, value in official.items():
        counts = per_clip_counts(reference, detections, family)
        assert counts.tp.shape == (len(reference.ids), 10)
        assert counts.macro_f1() == pytest.approx(value, abs=1e-12), family
        assert (counts.tp <= np.minimum(counts.n_ref, counts.n_sys)).all()
    # given tags (jointsed evaluate --run tags from clip scores) replace the detected classes
    tags = {k: {"Speech"} for k in reference.ids}
    counts = per_clip_counts(reference, detections, "tagging", tags=tags)
    assert counts.macro_f1() == pytest.approx(tagging_fscores(reference.tags(), tags, list(reference.classes))["macro_f1"])


def test_macro_f1_from_counts_table():
    # (tp, n_ref, n_sys) per class, which classes count -> macro F1
    cases = [
        (([2, 0, 0], [2, 0, 1], [2, 0, 0]), "reference", (1.0 + 0.0) / 2),  # class 2: a miss; class 1 absent
        (([0, 0], [0, 0], [0, 0]), "reference", 0.0),  # nothing anywhere
        (([1, 3], [2, 3], [2, 5]), "reference", (0.5 + 0.75) / 2),
        (([1, 0], [1, 0], [1, 4]), "reference", 1.0),  # class 1 only output: no recall, left out (sed_eval)
        (([1, 0], [1, 0], [1, 4]), "reference_or_output", 0.5),  # ... but a 0 of the tagging F1
    ]
    for (tp, n_ref, n_sys), over, want in cases:
        assert macro_f1_from_counts(np.array(tp), np.array(n_ref), np.array(n_sys), over) == pytest.approx(want)


def test_identical_systems_give_an_interval_around_zero(reference):
    seeds = [per_clip_counts(reference, _system(reference, 0.6, seed=s), "event_based") for s in range(3)]
    effect = paired_effect(seeds, seeds, replicates=500, seed=3)
    assert effect.estimate == pytest.approx(0.0)
    assert effect.low < 0.0 < effect.high and not effect.distinguishable
    assert effect.verdict() == "no measurable effect"


def test_a_real_gap_is_distinguishable_and_more_clips_narrow_the_interval(reference):
    good = [per_clip_counts(reference, _system(reference, 0.9, seed=s), "event_based") for s in range(3)]
    poor = [per_clip_counts(reference, _system(reference, 0.4, seed=10 + s), "event_based") for s in range(3)]
    effect = paired_effect(good, poor, replicates=500)
    assert effect.estimate > 0.2 and effect.low > 0.0 and effect.verdict() == "helps"
    assert paired_effect(poor, good, replicates=500).verdict() == "hurts"
    # half the clips: a wider interval
    half = [ClipCounts(c.clips[:30], c.classes, c.tp[:30], c.n_ref[:30], c.n_sys[:30]) for c in (*good, *poor)]
    narrow, wide = effect.high - effect.low, None
    small = paired_effect(half[:3], half[3:], replicates=500)
    wide = small.high - small.low
    assert wide > narrow


def test_seed_noise_widens_the_interval(reference):
    base = per_clip_counts(reference, _system(reference, 0.6, seed=0), "event_based")
    steady = [base] * 3
    noisy = [per_clip_counts(reference, _system(reference, skill, seed=s), "event_based")
             for s, skill in enumerate((0.3, 0.6, 0.9))]
    a = paired_effect(steady, steady, replicates=500)
    b = paired_effect(noisy, steady, replicates=500)
    assert (b.high - b.low) > 2 * (a.high - a.low)


def test_paired_effect_refuses_different_test_sets(reference):
    a = per_clip_counts(reference, _system(reference, 0.6, seed=0), "event_based")
    b = ClipCounts(a.clips[::-1], a.classes, a.tp, a.n_ref, a.n_sys)
    with pytest.raises(ValueError, match="same clips"):
        paired_effect([a], [b])


def test_seed_interval_is_welchs_t_interval():
    t, c = [0.41, 0.45, 0.39], [0.35, 0.36, 0.40]
    effect = seed_interval(t, c)
    ci = stats.ttest_ind(t, c, equal_var=False).confidence_interval(0.95)
    assert (effect.low, effect.high) == pytest.approx((ci.low, ci.high))
    assert effect.estimate == pytest.approx(np.mean(t) - np.mean(c))
    one = seed_interval([0.4], [0.3, 0.2])
    assert one.low == float("-inf") and not one.distinguishable
