"""Tuning the SEBB post-processing (:mod:`jointsed.postprocess.methods.sebb`) on a labelled set.

The box extraction of a class depends on (median window w, step length L, change threshold δ,
merge gap, confidence kind): one *extraction candidate* k. The tag threshold τ and the decision
threshold λ only select among a candidate's boxes (τ removes whole clips, λ boxes), so they are
scored without extracting again. Per objective (an entry of the metric table,
:mod:`jointsed.evaluate.metric_table`):

* an events metric with collars (``event_f1``): every (k, λ, τ) of a class is scored with the
  class's collar-based event F1 (:mod:`.fast_f1` counting, the evaluator's collars); classes do
  not interact, so ``per_class`` search takes each class's best, and the macro F1 is their mean;
* a scores metric with a PSDS scenario (``psds1``, ``psds2``): the boxes are the scores
  (:class:`~jointsed.evaluate.box_scores.ScoredSegments`); sed_scores_eval's deltas are computed
  once per extraction candidate for all classes and once for gated (empty) clips, every (c, k, τ)
  single-class PSD-ROC is an accumulation of cached deltas, and the classes are combined by
  coordinate ascent (:class:`~.tuning_psds_roc.ClassRocs`). λ does not change PSDS and is kept.

``per_class=False`` (global) gives every class the same candidate (the same grid values; window
and step length as the same factor of each class's base). The base parameters are always a
candidate and are replaced only by a strictly better one (ties: the first in grid order), so the
tuned objective on the tuning set is never below the base one.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Sequence

import numpy as np
from tqdm.auto import tqdm

from jointsed.config import Bound, ConfigError
from jointsed.evaluate.box_scores import ScoredSegments
from jointsed.postprocess.bounds import GRID_BOUNDS
from jointsed.evaluate.counts import f1_from_counts
from jointsed.postprocess.apply import frame_times, frames_shorter_than, median_filter_rows
from jointsed.postprocess.base import PostProcessingError
from jointsed.postprocess.fast_f1 import count_matches
from jointsed.postprocess.methods.sebb import SebbPostProcessor
from jointsed.postprocess.sebb_boxes import (
    CONFIDENCES,
    box_confidences,
    boxes_from_changes,
    change_points,
    merge_close,
    step_filter,
)
from jointsed.postprocess.tuning import objective_kind, resolve_objective
from jointsed.postprocess.tuning_inputs import TIE_EPS, PreparedScores, prepare_scores
from jointsed.postprocess.tuning_psds import class_rocs, evaluated_classes
from jointsed.postprocess.tuning_types import ClassTuning, TuningResult

if TYPE_CHECKING:
    from jointsed.data.annotations import StrongAnnotations
    from jointsed.evaluate.metric_table import Metric


def _thresholds() -> list[float]:
    return [round(0.1 * i, 1) for i in range(1, 10)]


@dataclass
class SebbGrid:
    """Candidate values of the SEBB search (``jointsed tune --method sebb --grid YAML`` keys).

    Attributes:
        tag_thresholds: candidate τ.
        window_factors: median windows ``max(1, round(factor × base w_c))``.
        add_window_one: also try w = 1 (no median filter).
        step_factors: step lengths ``max(2, round(factor × base L_c))``.
        change_thresholds: candidate δ.
        merge_gaps: candidate merge gaps (s).
        confidences: ``max`` and/or ``mean``.
        detection_thresholds: candidate λ (events objectives only).
        per_class: tune each class separately (else one candidate for all classes).
        psds_rounds: coordinate-ascent sweeps over the classes (PSDS objectives, per class).

    The base parameters' own values are always candidates (factor 1 for windows and steps).
    """

    tag_thresholds: list[float] = field(default_factory=_thresholds)
    window_factors: list[float] = field(default_factory=lambda: [1.0])
    add_window_one: bool = True
    step_factors: list[float] = field(default_factory=lambda: [0.5, 1.0, 2.0])
    change_thresholds: list[float] = field(default_factory=lambda: [0.1, 0.2, 0.3])
    merge_gaps: list[float] = field(default_factory=lambda: [0.0, 0.2])
    confidences: list[str] = field(default_factory=lambda: ["max", "mean"])
    detection_thresholds: list[float] = field(default_factory=_thresholds)
    per_class: bool = True
    psds_rounds: int = 3
    #: value ranges and list lengths, checked on load (jointsed.config.from_dict)
    BOUNDS: ClassVar[dict[str, Bound]] = GRID_BOUNDS

    def validate(self) -> None:
        checks = (
            ("tag_thresholds", lambda v: 0.0 <= v <= 1.0, "in [0, 1]"),
            ("window_factors", lambda v: v > 0.0, "> 0"),
            ("step_factors", lambda v: v > 0.0, "> 0"),
            ("change_thresholds", lambda v: 0.0 < v <= 1.0, "in (0, 1]"),
            ("merge_gaps", lambda v: v >= 0.0, ">= 0 seconds"),
            ("detection_thresholds", lambda v: 0.0 < v <= 1.0, "in (0, 1]"),
        )
        for name, ok, rule in checks:
            values = getattr(self, name)
            if not values:
                raise ConfigError(f"{name}: give at least one value")
            for i, v in enumerate(values):
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or not ok(v):
                    raise ConfigError(f"{name}[{i}]: must be {rule}, got {v!r}")
        if not self.confidences or any(c not in CONFIDENCES for c in self.confidences):
            raise ConfigError(f"confidences: give values among {', '.join(CONFIDENCES)}, got {self.confidences!r}")
        if isinstance(self.psds_rounds, bool) or not isinstance(self.psds_rounds, int) or self.psds_rounds < 1:
            raise ConfigError(f"psds_rounds: must be an integer >= 1, got {self.psds_rounds!r}")


# ------------------------------------------------------------------------------ candidate lists
def aligned(values: Sequence[Any], bases: Sequence[Any]) -> list[list[Any]]:
    """Per-class candidate lists of one parameter, the same length for every class: the grid
    values (sorted, unique), plus one slot holding each class's own base value when a base is
    not among them (so index i means the same grid value for every class)."""
    grid = sorted(set(values))
    if all(b in grid for b in bases):
        return [list(grid) for _ in bases]
    return [[*grid, b] for b in bases]


def scaled(factors: Sequence[float], bases: Sequence[int], minimum: int, one: bool) -> list[list[int]]:
    """Per-class frame lengths ``max(minimum, round(f × base))`` for the sorted factors (1 added),
    preceded by ``minimum`` when ``one``; aligned across classes by factor."""
    fs = sorted(set(float(f) for f in factors) | {1.0})
    return [([minimum] if one else []) + [max(minimum, math.floor(f * b + 0.5)) for f in fs] for b in bases]


@dataclass
class _Candidates:
    """The aligned per-class lists of every parameter (index = candidate position)."""

    window: list[list[int]]
    step: list[list[int]]
    delta: list[list[float]]
    gap: list[list[float]]
    conf: list[list[str]]
    tau: list[list[float]]
    lam: list[list[float]]

    @property
    def shape(self) -> tuple[int, int, int, int, int]:
        """Sizes of the extraction dimensions (window, step, δ, gap, confidence)."""
        return (len(self.window[0]), len(self.step[0]), len(self.delta[0]), len(self.gap[0]), len(self.conf[0]))

    def base_index(self, c: int, base: SebbPostProcessor) -> tuple[int, int, int]:
        """``(k, λ index, τ index)`` of class c's base parameters."""
        parts = (self.window[c].index(base.median_window[c]), self.step[c].index(base.step_length[c]), self.delta[c].index(base.change_threshold[c]),
                 self.gap[c].index(base.merge_gap[c]), self.conf[c].index(base.confidence[c]))
        k = int(np.ravel_multi_index(parts, self.shape))
        return k, self.lam[c].index(base.detection_threshold[c]), self.tau[c].index(base.tag_threshold[c])

    def values(self, c: int, k: int, li: int, ti: int) -> dict[str, Any]:
        """Class c's parameters at candidate (k, λ index, τ index)."""
        wi, si, di, gi, ci = np.unravel_index(k, self.shape)
        return {"tag_threshold": float(self.tau[c][ti]), "median_window": int(self.window[c][wi]),
                "step_length": int(self.step[c][si]), "change_threshold": float(self.delta[c][di]),
                "merge_gap": float(self.gap[c][gi]), "detection_threshold": float(self.lam[c][li]),
                "confidence": str(self.conf[c][ci])}


def _candidates(grid: SebbGrid, base: SebbPostProcessor) -> _Candidates:
    return _Candidates(
        window=scaled(grid.window_factors, base.median_window, 1, grid.add_window_one),
        step=scaled(grid.step_factors, base.step_length, 2, False),
        delta=aligned([float(v) for v in grid.change_thresholds], base.change_threshold),
        gap=aligned([float(v) for v in grid.merge_gaps], base.merge_gap),
        conf=aligned(grid.confidences, base.confidence),
        tau=aligned([float(v) for v in grid.tag_thresholds], base.tag_threshold),
        lam=aligned([float(v) for v in grid.detection_thresholds], base.detection_threshold),
    )


# ------------------------------------------------------------------------------ extraction
def class_boxes(data: PreparedScores, c: int, cand: _Candidates, frame_hop: float) -> list[tuple[np.ndarray, ...]]:
    """Class c's boxes in every (ungated) clip for every extraction candidate k.

    Returns:
        per k: ``(clip id, start frame, end frame, confidence)`` arrays sorted by clip then start.
    """
    nw, ns, nd, ng, nc = cand.shape
    out: list[list[tuple[int, int, int, float]]] = [[] for _ in range(nw * ns * nd * ng * nc)]
    gaps = [frames_shorter_than(g, frame_hop) for g in cand.gap[c]]
    for offset, frames in zip(data.group_offsets, data.group_frames):
        for wi, window in enumerate(cand.window[c]):
            smooth = median_filter_rows(frames[c], window)  # (n_g, T_g)
            for si, length in enumerate(cand.step[c]):
                steps = step_filter(smooth, length)
                for r in range(smooth.shape[0]):
                    curve = smooth[r]
                    if not curve.any():
                        continue
                    for di, delta in enumerate(cand.delta[c]):
                        starts, ends = boxes_from_changes(*change_points(steps[r], delta), curve.shape[0])
                        for gi, gap in enumerate(gaps):
                            s, e = merge_close(starts, ends, gap)
                            for ci, kind in enumerate(cand.conf[c]):
                                conf = box_confidences(curve, s, e, kind)
                                k = (((wi * ns + si) * nd + di) * ng + gi) * nc + ci
                                out[k].extend((offset + r, a, b, q) for a, b, q in zip(s.tolist(), e.tolist(),
                                                                                       conf.tolist()) if q > 0)
    arrays = []
    for rows in out:
        rows.sort()
        arrays.append(tuple(np.asarray([row[i] for row in rows], dtype=dt)
                            for i, dt in enumerate((np.int64, np.int64, np.int64, np.float64))))
    return arrays


# ------------------------------------------------------------------------------ the searches
def _event_f1_values(data: PreparedScores, c: int, boxes: list[tuple[np.ndarray, ...]], cand: _Candidates,
                     frame_hop: float, collars: Any) -> np.ndarray:
    """(K, n_λ, n_τ) event F1 of class c."""
    ref = data.refs[c]
    n = data.n_clips
    keep = (data.clip_probs[None, :, c] >= np.asarray(cand.tau[c])[:, None]).astype(np.int64)  # (n_tau, N)
    values = np.zeros((len(boxes), len(cand.lam[c]), len(cand.tau[c])))
    for k, (clip, start, end, conf) in enumerate(boxes):
        for li, lam in enumerate(cand.lam[c]):
            m = conf >= lam
            tp = count_matches(ref.clip, ref.onset, ref.offset, clip[m], frame_times(start[m], frame_hop),
                               frame_times(end[m], frame_hop), n, collars=collars)
            n_sys = np.bincount(clip[m], minlength=n)
            tp_tau, sys_tau = keep @ tp, keep @ n_sys
            values[k, li] = f1_from_counts(tp_tau, sys_tau - tp_tau, len(ref.clip) - tp_tau)[0]
    return values


def _best(values: np.ndarray, base_index: tuple[int, ...]) -> tuple[int, ...]:
    """The argmax of ``values`` unless it does not beat ``base_index`` by more than TIE_EPS."""
    if values.max() > values[base_index] + TIE_EPS:
        return tuple(int(i) for i in np.unravel_index(np.argmax(values), values.shape))
    return base_index


def _psds_search(data: PreparedScores, classes: Sequence[str], boxes: Mapping[int, list], cand: _Candidates,
                 base_idx: Mapping[int, tuple[int, int, int]], durations: Mapping[str, float], frame_hop: float,
                 metric: "Metric", grid: SebbGrid, progress: bool) -> tuple[dict[int, tuple[int, int, int]], dict, float, float]:
    """Choice ``c -> (k, λ index, τ index)``, single-class PSDS per (c, k, τ index), base and tuned PSDS."""
    evaluated = evaluated_classes(data, classes)
    cache = class_rocs(data, classes, evaluated, durations, metric.settings)
    names = [classes[c] for c in evaluated]
    ends = [0.0] * data.n_clips
    for offset, frames in zip(data.group_offsets, data.group_frames):
        ends[offset: offset + frames.shape[1]] = [float(frame_times(frames.shape[2], frame_hop))] * frames.shape[1]
    n_k = len(next(iter(boxes.values())))
    n_tau = len(cand.tau[evaluated[0]])
    rocs: dict[tuple[str, int], tuple] = {}
    single: dict[tuple[int, int, int], float] = {}
    for c in tqdm(evaluated, desc="SEBB tuning: class candidates", disable=not progress, leave=False):
        name = classes[c]
        # the deltas of the class's boxes in every clip: gated (no box) and per candidate k
        empty = [cache.curve_deltas(name, f, np.array([0.0, ends[i]]), np.zeros(1))
                 for i, f in enumerate(data.filenames)]
        per_k = []
        for clip, start, end, conf in boxes[c]:
            bounds = np.searchsorted(clip, np.arange(data.n_clips + 1))
            row = []
            for i, f in enumerate(data.filenames):
                a, b = bounds[i], bounds[i + 1]
                if a == b:
                    row.append(empty[i])
                    continue
                segments = ScoredSegments(tuple(zip(frame_times(start[a:b], frame_hop).tolist(),
                                                    frame_times(end[a:b], frame_hop).tolist(),
                                                    [name] * (b - a), conf[a:b].tolist())), ends[i])
                timestamps, values = segments.timestamps_and_values([name])
                row.append(cache.curve_deltas(name, f, timestamps, values[:, 0]))
            per_k.append(row)
        clip_p = data.clip_probs[:, c]
        for k in range(n_k):
            for ti, tau in enumerate(cand.tau[c]):
                gated = clip_p < tau
                roc, value = cache.roc_of_deltas(name, [empty[i] if gated[i] else per_k[k][i]
                                                        for i in range(data.n_clips)])
                rocs[(name, k * n_tau + ti)] = roc
                single[(c, k, ti)] = value
    start = {classes[c]: base_idx[c][0] * n_tau + base_idx[c][2] for c in evaluated}
    if grid.per_class:
        chosen, default, best = cache.ascend(rocs, {n: n_k * n_tau for n in names}, start, grid.psds_rounds)
    else:
        best = cache.combined_fast({n: rocs[(n, start[n])] for n in names})
        chosen = dict(start)
        tried = set()
        for j in range(n_k * n_tau):
            same = tuple(id(rocs[(n, j)]) for n in names)
            if same in tried:  # the same ROCs as an earlier candidate: not strictly better
                continue
            tried.add(same)
            value = cache.combined_fast({n: rocs[(n, j)] for n in names})
            if value > best + TIE_EPS:
                best, chosen = value, {n: j for n in names}
        default = cache.combined({n: rocs[(n, start[n])] for n in names})
        best = cache.combined({n: rocs[(n, chosen[n])] for n in names})
    choice = {c: (chosen[classes[c]] // n_tau, base_idx[c][1], chosen[classes[c]] % n_tau) for c in evaluated}
    return choice, single, default, best


def tune_sebb(
    clip_probs: Mapping[str, np.ndarray],
    frame_probs: Mapping[str, np.ndarray],
    ground_truth: "StrongAnnotations",
    durations: Mapping[str, float] | None,
    frame_hop: float,
    base: SebbPostProcessor,
    grid: SebbGrid | None = None,
    *,
    objective: "str | Metric" = "event_f1",
    progress: bool = True,
) -> TuningResult:
    """Tune SEBB on a labelled set (module docstring).

    Args:
        clip_probs: filename -> (C,) clip probabilities of the tuning clips.
        frame_probs: filename -> (T, C) frame probabilities.
        ground_truth: strong labels of exactly these clips.
        durations: filename -> clip duration (s; PSDS objectives only).
        frame_hop: seconds per frame.
        base: the starting parameters (e.g. :meth:`SebbPostProcessor.from_default`).
        grid: candidate values (default :class:`SebbGrid`).
        objective: a metric-table entry or its name (``event_f1``, ``psds1``, ``psds2``).
        progress: tqdm progress bars.
    Returns:
        :class:`~jointsed.postprocess.tuning_types.TuningResult` with a tuned :class:`SebbPostProcessor`.
    """
    started = time.perf_counter()
    grid = grid or SebbGrid()
    grid.validate()
    base.validate()
    if frame_hop <= 0:
        raise PostProcessingError(f"frame_hop must be > 0 seconds, got {frame_hop}")
    metric = resolve_objective(objective)
    kind = objective_kind(metric)
    if kind == "psds" and durations is None:
        raise PostProcessingError(f"objective {metric.name!r} needs the clip durations")
    classes = list(base.classes)
    data = prepare_scores(clip_probs, frame_probs, ground_truth, classes)
    cand = _candidates(grid, base)
    base_idx = {c: cand.base_index(c, base) for c in range(len(classes))}
    todo = range(len(classes)) if kind == "event_f1" else evaluated_classes(data, classes)
    boxes = {c: class_boxes(data, c, cand, frame_hop)
             for c in tqdm(todo, desc="SEBB tuning: boxes", disable=not progress, leave=False)}
    n_k = int(np.prod(cand.shape))
    choice: dict[int, tuple[int, int, int]] = {}
    tuned_pc: dict[int, float] = {}
    default_pc: dict[int, float] = {}
    if kind == "event_f1":
        values = {c: _event_f1_values(data, c, boxes[c], cand, frame_hop, metric.settings) for c in todo}
        if grid.per_class:
            choice = {c: _best(values[c], base_idx[c]) for c in todo}
        else:
            total = np.mean([values[c] for c in todo], axis=0)
            base_total = float(np.mean([values[c][base_idx[c]] for c in todo]))
            best = tuple(int(i) for i in np.unravel_index(np.argmax(total), total.shape))
            choice = ({c: best for c in todo} if total[best] > base_total + TIE_EPS
                      else {c: base_idx[c] for c in todo})
        for c in todo:
            tuned_pc[c], default_pc[c] = float(values[c][choice[c]]), float(values[c][base_idx[c]])
        default_score = float(np.mean([default_pc[c] for c in todo]))
        tuned_score = float(np.mean([tuned_pc[c] for c in todo]))
        n_per_class = {c: n_k * len(cand.lam[c]) * len(cand.tau[c]) for c in todo}
    else:
        choice, single, default_score, tuned_score = _psds_search(
            data, classes, boxes, cand, base_idx, durations or {}, frame_hop, metric, grid, progress)
        for c, (k, _, ti) in choice.items():
            tuned_pc[c] = single[(c, k, ti)]
            default_pc[c] = single[(c, base_idx[c][0], base_idx[c][2])]
        n_per_class = {c: n_k * len(cand.tau[c]) for c in choice}

    rows = [cand.values(c, *choice[c]) if c in choice else base.class_params(name)
            for c, name in enumerate(classes)]
    params = SebbPostProcessor(classes=classes, **{f: [row[f] for row in rows] for f in SebbPostProcessor.per_class_fields})
    params.validate()
    per_class = [
        ClassTuning(class_name=name, n_ref=len(data.refs[c].clip), n_candidates=n_per_class.get(c, 0),
                    default_value=default_pc.get(c, float("nan")), tuned_value=tuned_pc.get(c, float("nan")),
                    default=base.class_params(name), tuned=params.class_params(name))
        for c, name in enumerate(classes)
    ]
    return TuningResult(params=params, base_params=base, objective=metric.name, per_class=per_class,
                        default_score=default_score, tuned_score=tuned_score, n_clips=data.n_clips,
                        n_candidates=int(sum(n_per_class.values())), elapsed_s=time.perf_counter() - started)
