"""How sure is a difference between two systems? Confidence intervals that cover both sources
of noise of a comparison: which test clips were drawn, and which training seeds.

The count-based metrics (event-based F1, segment-based F1, tagging F1) are sums over clips of
per-clip, per-class match counts (:func:`per_clip_counts`; the counts of the official
``sed_eval`` / tagging evaluators, clip by clip, so they sum to exactly their totals), so a
resampled test set is a weighted sum. :func:`paired_effect` draws, per bootstrap replicate:

- one resample of the test clips with replacement, SHARED by both systems (a paired bootstrap:
  a clip that is hard for one system is usually hard for the other);
- one resample of each system's seeds with replacement (independently: two systems trained with
  "the same" seed share nothing that makes them comparable);

and takes the difference of the seed-averaged macro F1s. The 2.5 / 97.5 % percentiles of that
difference are the 95 % interval; an interval that covers 0 means "no measurable effect".

PSDS is not a sum over clips (its ROC is built from all clips' intersections together), so its
interval (:func:`seed_interval`) covers the seed spread only (Welch's t over seeds), which the
reports say.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from jointsed.evaluate.io import Reference

#: metric families whose macro F1 is a function of per-clip counts
COUNT_FAMILIES = ("event_based", "segment_based", "tagging")


@dataclass(frozen=True)
class ClipCounts:
    """Per-clip, per-class counts of one system on one test set.

    Attributes:
        clips: audio ids (rows), in the reference's order.
        classes: class names (columns).
        tp, n_ref, n_sys: ``(n_clips, n_classes)`` int64: true positives, reference and system
            instances (events, active segments or tags) per clip and class.
        macro_over: which classes the macro average takes: ``"reference"`` (sed_eval: a class
            without reference instances has no recall, so no F1, and is left out) or
            ``"reference_or_output"`` (the tagging F1: a class only output scores 0).
    """

    clips: tuple[str, ...]
    classes: tuple[str, ...]
    tp: np.ndarray
    n_ref: np.ndarray
    n_sys: np.ndarray
    macro_over: str = "reference"

    def macro_f1(self, weights: np.ndarray | None = None) -> np.ndarray | float:
        """Macro F1 of the set reweighted by ``weights`` (``(n_clips,)`` or ``(B, n_clips)``
        clip multiplicities; None = the set itself): the evaluator's macro F1 for ``weights=None``."""
        counts = [self.tp, self.n_ref, self.n_sys]
        if weights is None:
            tp, n_ref, n_sys = (c.sum(0).astype(np.float64) for c in counts)
        else:
            tp, n_ref, n_sys = (np.asarray(weights, np.float64) @ c for c in counts)
        return macro_f1_from_counts(tp, n_ref, n_sys, self.macro_over)


def macro_f1_from_counts(tp: np.ndarray, n_ref: np.ndarray, n_sys: np.ndarray,
                         macro_over: str = "reference") -> np.ndarray | float:
    """Mean over the last axis (classes) of F1 = 2 TP / (N_ref + N_sys) (0 for a class never
    output: sed_eval's ``zero_score``), over the classes with ``N_ref > 0`` (``macro_over=
    "reference"``, sed_eval's event- and segment-based macro F1) or with ``N_ref + N_sys > 0``
    (``"reference_or_output"``, the tagging F1); 0 when no class qualifies."""
    total = n_ref + n_sys
    present = (n_ref > 0) if macro_over == "reference" else (total > 0)
    f1 = np.divide(2.0 * tp, total, out=np.zeros(np.shape(total)), where=present)
    n_present = present.sum(-1)
    macro = np.divide(f1.sum(-1), n_present, out=np.zeros(np.shape(n_present)), where=n_present > 0)
    return float(macro) if np.ndim(macro) == 0 else macro


def per_clip_counts(reference: Reference, detections: Mapping[str, Sequence[tuple[float, float, str]]],
                    family: str, tags: Mapping[str, set[str]] | None = None) -> ClipCounts:
    """Per-clip counts of ``detections`` against ``reference`` for a count-based ``family``.

    ``event_based`` / ``segment_based``: the official ``sed_eval`` metric (the settings of
    :mod:`jointsed.evaluate.event_based` / :mod:`.segment_based`) run on each clip alone; their
    sums over clips are the evaluator's class-wise counts (both metrics count clip by clip).
    ``tagging``: the predicted ``tags`` per clip (``jointsed evaluate --run`` tags from the clip
    scores at the tag thresholds), else a class is tagged when any event of it is detected.
    """
    from jointsed.evaluate.event_based import event_based_fscores
    from jointsed.evaluate.segment_based import segment_based_fscores

    if family not in COUNT_FAMILIES:
        raise ValueError(f"per-clip counts exist for {', '.join(COUNT_FAMILIES)}, not {family!r}")
    classes = tuple(reference.classes)
    index = {c: i for i, c in enumerate(classes)}
    clips = tuple(reference.ids)
    shape = (len(clips), len(classes))
    tp, n_ref, n_sys = (np.zeros(shape, dtype=np.int64) for _ in range(3))
    score = event_based_fscores if family == "event_based" else segment_based_fscores
    for row, key in enumerate(clips):
        truth, found = reference.events[key], list(detections.get(key, ()))
        if family == "tagging":
            ref_tags = {e[2] for e in truth}
            sys_tags = set(tags.get(key, ())) if tags is not None else {e[2] for e in found}
            for label in ref_tags | sys_tags:
                col = index[label]
                n_ref[row, col], n_sys[row, col] = label in ref_tags, label in sys_tags
                tp[row, col] = label in ref_tags and label in sys_tags
            continue
        if not truth and not found:
            continue
        one = Reference(events={key: truth}, durations={key: reference.durations[key]}, classes=classes)
        with warnings.catch_warnings():  # sed_eval averages the empty event-wise lists of one clip
            warnings.simplefilter("ignore", RuntimeWarning)
            result = score(one, {key: found})
        for label, values in result["per_class"].items():
            col = index[label]
            n_ref[row, col], n_sys[row, col] = values["n_ref"], values["n_sys"]
            # sed_eval's F1 is 2 TP / (N_ref + N_sys): TP is recovered exactly by rounding (no F1
            # when nothing was output: TP is 0)
            f1 = values["f1"] if values["f1"] is not None and values["f1"] == values["f1"] else 0.0
            tp[row, col] = int(round(f1 * (values["n_ref"] + values["n_sys"]) / 2.0))
    return ClipCounts(clips, classes, tp, n_ref, n_sys,
                      "reference_or_output" if family == "tagging" else "reference")


@dataclass(frozen=True)
class Effect:
    """A difference ``treatment - control`` with its 95 % interval.

    Attributes:
        estimate: difference of the seed means on the whole test set.
        low, high: the interval's bounds.
        method: ``"paired clip bootstrap x seed bootstrap"`` or ``"Welch t over seeds"``.
        replicates: bootstrap replicates (0 for the t interval).
    """

    estimate: float
    low: float
    high: float
    method: str
    replicates: int = 0

    @property
    def distinguishable(self) -> bool:
        """The interval excludes 0."""
        return self.low > 0.0 or self.high < 0.0

    def verdict(self, higher_is_better: bool = True) -> str:
        """``helps`` / ``hurts`` / ``no measurable effect``, from the interval."""
        if not self.distinguishable:
            return "no measurable effect"
        better = self.estimate > 0.0 if higher_is_better else self.estimate < 0.0
        return "helps" if better else "hurts"

    def to_dict(self) -> dict:
        return {"estimate": self.estimate, "ci95": [self.low, self.high], "method": self.method,
                "replicates": self.replicates, "verdict": self.verdict()}


def paired_effect(treatment: Sequence[ClipCounts], control: Sequence[ClipCounts], *,
                  replicates: int = 2000, seed: int = 0) -> Effect:
    """Macro-F1 effect of ``treatment`` over ``control`` (each one :class:`ClipCounts` per
    training seed, all on the same test clips) with the hierarchical bootstrap of the module
    docstring."""
    if not treatment or not control:
        raise ValueError("paired_effect needs at least one seed per system")
    clips = treatment[0].clips
    if any(c.clips != clips for c in (*treatment, *control)):
        raise ValueError("paired_effect: every system must be scored on the same clips, in the same order")
    rng = np.random.default_rng(seed)
    n = len(clips)
    # clip multiplicities of each replicate (a multinomial draw = n draws with replacement)
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=replicates).astype(np.float64)
    per_seed_t = np.stack([c.macro_f1(weights) for c in treatment], axis=1)  # (B, S_t)
    per_seed_c = np.stack([c.macro_f1(weights) for c in control], axis=1)
    pick_t = rng.integers(0, len(treatment), size=(replicates, len(treatment)))
    pick_c = rng.integers(0, len(control), size=(replicates, len(control)))
    rows = np.arange(replicates)[:, None]
    diffs = per_seed_t[rows, pick_t].mean(1) - per_seed_c[rows, pick_c].mean(1)
    estimate = float(np.mean([c.macro_f1() for c in treatment]) - np.mean([c.macro_f1() for c in control]))
    low, high = np.percentile(diffs, [2.5, 97.5])
    return Effect(estimate, float(low), float(high), "paired clip bootstrap x seed bootstrap", replicates)


def seed_interval(treatment: Sequence[float], control: Sequence[float]) -> Effect:
    """Welch's t interval (95 %) of ``mean(treatment) - mean(control)`` over seeds: for metrics
    that are not sums over clips (PSDS). With one seed on either side the spread is unknown and
    the interval is infinite."""
    from scipy import stats

    t, c = np.asarray(treatment, np.float64), np.asarray(control, np.float64)
    estimate = float(t.mean() - c.mean())
    if len(t) < 2 or len(c) < 2:
        return Effect(estimate, float("-inf"), float("inf"), "Welch t over seeds")
    vt, vc = t.var(ddof=1) / len(t), c.var(ddof=1) / len(c)
    se = float(np.sqrt(vt + vc))
    if se == 0.0:
        return Effect(estimate, estimate, estimate, "Welch t over seeds")
    dof = (vt + vc) ** 2 / (vt**2 / (len(t) - 1) + vc**2 / (len(c) - 1))
    half = float(stats.t.ppf(0.975, dof)) * se
    return Effect(estimate, estimate - half, estimate + half, "Welch t over seeds")
