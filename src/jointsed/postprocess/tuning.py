"""Event-specific post-processing: per-class search of τ_c, θ_c, w_c (and min duration / gap).

Liang et al. (arXiv 2103.12388) name "event-specific post-processing"; the paper's text is not
available to us, so this is our formulation (DESIGN §4). On a validation set with strong labels:

* ``objective="event_f1"`` — for every class c separately, an exhaustive search over the grid of
  tag threshold τ_c × frame threshold θ_c × median window w_c (× max gap × min duration when the
  grid lists more than 0 for them) for the largest event-based F1 of class c (sed_eval
  ``EventBasedMetrics`` with the evaluator's collars,
  :data:`jointsed.evaluate.settings.EVENT_COLLARS`: onset collar 200 ms, offset
  collar max(200 ms, 20 % of the length), optimal matching). Classes do not interact under this
  objective, so maximising each class's F1 maximises the macro F1. Fast because the costly
  steps are shared: the first median filter is computed once per window for all clips, each
  (w, θ) binarisation once for all τ (gating only removes whole clips, so every τ is a sum
  over the clips it keeps), events are matched to the labels with vectorised counting
  (:mod:`.fast_f1`).
* ``objective="psds1"`` — PSDS is threshold-free, so only the score-level steps matter: the
  median window w_c and the tag gating τ_c (θ, min duration and gap filling are kept from the
  base parameters). PSDS1 (:data:`jointsed.evaluate.settings.PSDS1`, DCASE: dtc = gtc = 0.7,
  α_ct = 0, α_st = 1, max eFPR 100/hour) of the post-processed scores is maximised by coordinate
  ascent over the classes (each class's (w_c, τ_c) in turn, the others fixed; up to
  ``grid.psds_rounds`` sweeps). With α_ct = 0 a class's PSD-ROC depends only on its own scores,
  so sed_scores_eval's per-clip statistics are computed once per window set (plus once for
  gated, all-zero scores) and every (c, w, τ) candidate is an accumulation of cached per-clip
  deltas; the α_st coupling is handled by re-combining the cached per-class ROCs. Cost: (number
  of window candidates + 1) full sed_scores_eval passes, plus one accumulation per (class,
  window, τ).

The base parameters are always part of the grid, and a candidate replaces them only when it
is strictly better, so the tuned score on the tuning set is never below the base score. Ties
between other candidates go to the first in grid order (windows, θ, gap, min duration, τ,
each ascending).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Mapping, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from jointsed.config import ConfigError, to_dict
from jointsed.evaluate.counts import f1_from_counts
from jointsed.evaluate.settings import EVENT_COLLARS, PSDS1, EventCollars
from jointsed.postprocess.apply import (
    active_runs,
    binary_median_filter_rows,
    check_score_dicts,
    drop_short,
    fill_gaps,
    frame_times,
    frames_shorter_than,
    median_filter_rows,
)
from jointsed.postprocess.fast_f1 import count_matches
from jointsed.postprocess.params import PER_CLASS_FIELDS, PostProcessingError, PostProcessingParams

if TYPE_CHECKING:
    from jointsed.data.annotations import StrongAnnotations

Objective = Literal["event_f1", "psds1"]

_TIE_EPS = 1e-12


def _default_thresholds() -> list[float]:
    return [round(0.1 * i, 1) for i in range(1, 10)]


@dataclass
class TuningGrid:
    """Candidate values of the per-class search (a config section: ``jointsed.config.from_dict``).

    Attributes:
        tag_thresholds: candidate τ_c.
        frame_thresholds: candidate θ_c (event_f1 only).
        window_factors: candidate windows are ``max(1, round(factor × base w_c))``.
        add_window_one: also try w = 1 (no median filtering).
        max_gaps: candidate gap-filling lengths in seconds (event_f1 only; ``[0.0]`` = off).
        min_durations: candidate minimum event lengths in seconds (event_f1 only; ``[0.0]`` = off).
        psds_rounds: maximum coordinate-ascent sweeps over the classes (psds1 only).

    The base parameters' own values are always added to these lists.
    """

    tag_thresholds: list[float] = field(default_factory=_default_thresholds)
    frame_thresholds: list[float] = field(default_factory=_default_thresholds)
    window_factors: list[float] = field(default_factory=lambda: [0.25, 0.5, 1.0, 1.5, 2.0])
    add_window_one: bool = True
    max_gaps: list[float] = field(default_factory=lambda: [0.0])
    min_durations: list[float] = field(default_factory=lambda: [0.0])
    psds_rounds: int = 3

    def validate(self) -> None:
        checks = (
            ("tag_thresholds", lambda v: 0.0 <= v <= 1.0, "in [0, 1]"),
            ("frame_thresholds", lambda v: 0.0 < v <= 1.0, "in (0, 1]"),
            ("window_factors", lambda v: v > 0.0, "> 0"),
            ("max_gaps", lambda v: v >= 0.0, ">= 0 seconds"),
            ("min_durations", lambda v: v >= 0.0, ">= 0 seconds"),
        )
        for name, ok, rule in checks:
            values = getattr(self, name)
            if not values:
                raise ConfigError(f"{name}: give at least one value")
            for i, v in enumerate(values):
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or not ok(v):
                    raise ConfigError(f"{name}[{i}]: must be {rule}, got {v!r}")
        if isinstance(self.psds_rounds, bool) or not isinstance(self.psds_rounds, int) or self.psds_rounds < 1:
            raise ConfigError(f"psds_rounds: must be an integer >= 1, got {self.psds_rounds!r}")

    def windows_for(self, base_window: int) -> list[int]:
        """Candidate median windows of a class whose base window is ``base_window`` (ascending)."""
        windows = {int(base_window)} | {max(1, math.floor(f * base_window + 0.5)) for f in self.window_factors}
        if self.add_window_one:
            windows.add(1)
        return sorted(windows)


@dataclass
class ClassTuning:
    """Outcome of the search for one class: objective value with the base and tuned parameters."""

    class_name: str
    n_ref: int
    n_candidates: int
    default_value: float
    tuned_value: float
    default: dict[str, float | int]
    tuned: dict[str, float | int]


@dataclass
class TuningResult:
    """Tuned parameters plus the per-class table of tuned vs. base (default) objective values."""

    params: PostProcessingParams
    base_params: PostProcessingParams
    objective: str
    per_class: list[ClassTuning]
    default_score: float  # macro event F1, or PSDS1, with the base parameters
    tuned_score: float
    n_clips: int
    n_candidates: int
    elapsed_s: float

    def to_dataframe(self) -> pd.DataFrame:
        """One row per class: n_ref, default/tuned value and the tuned parameters."""
        rows = []
        for ct in self.per_class:
            rows.append(
                {
                    "class": ct.class_name,
                    "n_ref": ct.n_ref,
                    "default": ct.default_value,
                    "tuned": ct.tuned_value,
                    **{name: ct.tuned[name] for name in PER_CLASS_FIELDS},
                }
            )
        return pd.DataFrame(rows)

    def table(self) -> str:
        """Readable text table (values in %) with the overall score last."""
        df = self.to_dataframe()
        for col in ("default", "tuned"):
            df[col] = (100 * df[col]).map(lambda v: f"{v:6.2f}" if v == v else "   n/a")
        text = df.to_string(index=False)
        name = "macro event F1" if self.objective == "event_f1" else "PSDS1"
        return (
            f"{text}\n{name}: default {100 * self.default_score:.2f} % -> tuned "
            f"{100 * self.tuned_score:.2f} % ({self.n_clips} clips, {self.n_candidates} candidates, "
            f"{self.elapsed_s:.1f} s)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "objective": self.objective,
            "default_score": self.default_score,
            "tuned_score": self.tuned_score,
            "n_clips": self.n_clips,
            "n_candidates": self.n_candidates,
            "elapsed_s": self.elapsed_s,
            "per_class": [to_dict(ct) for ct in self.per_class],
            "base_params": self.base_params.to_dict(),
        }

    def save_json(self, path: str | Path) -> None:
        """Save the tuned parameters (loadable by ``PostProcessingParams.load_json``) with this
        result as ``info``."""
        self.params.save_json(path, info=self.to_dict())


# ============================================================================ prepared inputs
@dataclass
class _ClassEvents:
    clip: np.ndarray  # int64 internal clip ids, sorted
    onset: np.ndarray
    offset: np.ndarray


@dataclass
class _Prepared:
    """Scores regrouped by clip length: internal clip ids run group after group."""

    filenames: list[str]  # in internal order
    group_frames: list[np.ndarray]  # per group: (C, n_g, T_g) float64
    group_offsets: list[int]  # first internal id of each group
    clip_probs: np.ndarray  # (N, C) float64, internal order
    refs: list[_ClassEvents]  # per class

    @property
    def n_clips(self) -> int:
        return len(self.filenames)


def _prepare(
    clip_probs: Mapping[str, np.ndarray],
    frame_probs: Mapping[str, np.ndarray],
    ground_truth: "StrongAnnotations",
    classes: Sequence[str],
) -> _Prepared:
    filenames = check_score_dicts(clip_probs, frame_probs)
    if not filenames:
        raise PostProcessingError("no clips to tune on")
    n_classes = len(classes)
    truth = ground_truth.by_file()
    source = f" ({ground_truth.path})" if getattr(ground_truth, "path", None) else ""
    no_truth = [f for f in filenames if f not in truth]
    no_scores = [f for f in truth if f not in frame_probs]
    if no_truth or no_scores:
        parts = []
        if no_truth:
            parts.append(f"{len(no_truth)} scored clip(s) missing from the labels (e.g. {no_truth[0]})")
        if no_scores:
            parts.append(f"{len(no_scores)} labelled clip(s) without scores (e.g. {no_scores[0]})")
        raise PostProcessingError(
            f"scores and ground truth{source} must cover the same clips: " + "; ".join(parts)
        )
    groups: dict[int, list[str]] = {}
    for f in filenames:
        frames = np.asarray(frame_probs[f])
        clip = np.asarray(clip_probs[f])
        if frames.ndim != 2 or frames.shape[1] != n_classes or frames.shape[0] < 1:
            raise PostProcessingError(
                f"{f}: frame probabilities must have shape (frames, {n_classes}), got {frames.shape}"
            )
        if clip.shape != (n_classes,):
            raise PostProcessingError(f"{f}: clip probabilities must have shape ({n_classes},), got {clip.shape}")
        if not (np.isfinite(frames).all() and np.isfinite(clip).all()):
            raise PostProcessingError(f"{f}: probabilities contain NaN or infinite values")
        groups.setdefault(frames.shape[0], []).append(f)
    ordered: list[str] = []
    group_frames, group_offsets = [], []
    for names in groups.values():
        group_offsets.append(len(ordered))
        ordered.extend(names)
        stacked = np.stack([np.asarray(frame_probs[f], dtype=np.float64) for f in names])  # (n, T, C)
        group_frames.append(np.ascontiguousarray(stacked.transpose(2, 0, 1)))
    clip_matrix = np.stack([np.asarray(clip_probs[f], dtype=np.float64) for f in ordered])
    index = {f: i for i, f in enumerate(ordered)}
    per_class: list[list[tuple[int, float, float]]] = [[] for _ in classes]
    class_index = {c: i for i, c in enumerate(classes)}
    for f, events in truth.items():
        for e in events:
            if e.event_label not in class_index:
                raise PostProcessingError(
                    f"ground truth{source}: clip {f} has an event of class {e.event_label!r}, "
                    f"which is not one of the model's classes ({', '.join(classes)})"
                )
            per_class[class_index[e.event_label]].append((index[f], float(e.onset), float(e.offset)))
    refs = []
    for rows in per_class:
        rows.sort()
        refs.append(
            _ClassEvents(
                clip=np.asarray([r[0] for r in rows], dtype=np.int64),
                onset=np.asarray([r[1] for r in rows], dtype=np.float64),
                offset=np.asarray([r[2] for r in rows], dtype=np.float64),
            )
        )
    return _Prepared(ordered, group_frames, group_offsets, clip_matrix, refs)


def _with_base(values: Sequence[float], base: float) -> list[float]:
    return sorted({float(v) for v in values} | {float(base)})


# ============================================================================ event F1 search
def _search_class_event_f1(
    data: _Prepared,
    c: int,
    base: PostProcessingParams,
    grid: TuningGrid,
    frame_hop: float,
    *,
    collars: EventCollars,
) -> tuple[dict[str, float | int], float, float, int]:
    """Exhaustive search for class ``c``. Returns (tuned values, tuned F1, base F1, n candidates)."""
    windows = grid.windows_for(base.median_window[c])
    thetas = _with_base(grid.frame_thresholds, base.frame_threshold[c])
    gaps = _with_base(grid.max_gaps, base.max_gap[c])
    mins = _with_base(grid.min_durations, base.min_duration[c])
    taus = _with_base(grid.tag_thresholds, base.tag_threshold[c])
    ref = data.refs[c]
    n_ref = len(ref.clip)
    n = data.n_clips
    keep = (data.clip_probs[None, :, c] >= np.asarray(taus)[:, None]).astype(np.int64)  # (n_tau, N)
    values = np.zeros((len(windows), len(thetas), len(gaps), len(mins), len(taus)))
    for wi, window in enumerate(windows):
        smooth = [median_filter_rows(frames[c], window) for frames in data.group_frames]
        for ti, theta in enumerate(thetas):
            clips, starts, ends = [], [], []
            for offset, s in zip(data.group_offsets, smooth):
                row, start, end = active_runs(binary_median_filter_rows(s >= theta, window))
                clips.append(row + offset)
                starts.append(start)
                ends.append(end)
            runs = (np.concatenate(clips), np.concatenate(starts), np.concatenate(ends))
            for gi, gap in enumerate(gaps):
                joined = fill_gaps(*runs, frames_shorter_than(gap, frame_hop))
                for mi, min_duration in enumerate(mins):
                    clip, start, end = drop_short(*joined, frames_shorter_than(min_duration, frame_hop))
                    tp = count_matches(
                        ref.clip, ref.onset, ref.offset,
                        clip, frame_times(start, frame_hop), frame_times(end, frame_hop),
                        n, collars=collars,
                    )
                    n_sys = np.bincount(clip, minlength=n)
                    tp_tau = keep @ tp
                    sys_tau = keep @ n_sys
                    values[wi, ti, gi, mi] = f1_from_counts(tp_tau, sys_tau - tp_tau, n_ref - tp_tau)[0]
    base_index = (
        windows.index(base.median_window[c]),
        thetas.index(float(base.frame_threshold[c])),
        gaps.index(float(base.max_gap[c])),
        mins.index(float(base.min_duration[c])),
        taus.index(float(base.tag_threshold[c])),
    )
    best_index = base_index
    if values.max() > values[base_index] + _TIE_EPS:
        best_index = tuple(int(i) for i in np.unravel_index(np.argmax(values), values.shape))
    wi, ti, gi, mi, si = best_index
    tuned = {
        "tag_threshold": taus[si],
        "frame_threshold": thetas[ti],
        "median_window": windows[wi],
        "min_duration": mins[mi],
        "max_gap": gaps[gi],
    }
    return tuned, float(values[best_index]), float(values[base_index]), int(values.size)


# ============================================================================ PSDS1 search
def _merge_intervals(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Union of overlapping/touching intervals (sed_scores_eval rejects connected labels)."""
    merged: list[list[float]] = []
    for on, off in sorted(intervals):
        if merged and on <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], off)
        else:
            merged.append([on, off])
    return [(a, b) for a, b in merged]


def _tune_psds1(
    data: _Prepared,
    classes: Sequence[str],
    base: PostProcessingParams,
    grid: TuningGrid,
    durations: Mapping[str, float],
    frame_hop: float,
    progress: bool,
) -> tuple[list[dict[str, float | int]], list[float], list[float], float, float, list[int]]:
    from sed_scores_eval.base_modules.scores import create_score_dataframe
    from sed_scores_eval.intersection_based.intermediate_statistics import intermediate_statistics_deltas
    from sed_scores_eval.intersection_based.psds import (
        multi_class_psd_roc_from_single_class_psd_rocs,
        psds,
        psds_from_psd_roc,
    )

    settings = PSDS1
    if settings.alpha_ct != 0.0:  # the per-class caching below is exact only without cross-triggers
        raise PostProcessingError(f"psds1 tuning assumes alpha_ct = 0, PSDS1 has {settings.alpha_ct}")
    missing = [f for f in data.filenames if f not in durations]
    if missing:
        raise PostProcessingError(
            f"psds1 tuning needs the duration of every clip: {len(missing)} missing (e.g. {missing[0]})"
        )
    durations = {f: float(durations[f]) for f in data.filenames}
    # sed_scores_eval needs at least one event per evaluated class
    evaluated = [c for c in range(len(classes)) if len(data.refs[c].clip) > 0]
    if not evaluated:
        raise PostProcessingError("psds1 tuning: the ground truth has no event of any class")
    eval_names = [classes[c] for c in evaluated]
    truth: dict[str, list[tuple[float, float, str]]] = {f: [] for f in data.filenames}
    truth_per_class: dict[int, dict[str, list[tuple[float, float, str]]]] = {}
    for c in evaluated:
        per_clip: dict[int, list[tuple[float, float]]] = {}
        ref = data.refs[c]
        for clip, on, off in zip(ref.clip.tolist(), ref.onset.tolist(), ref.offset.tolist()):
            per_clip.setdefault(clip, []).append((on, off))
        class_truth: dict[str, list[tuple[float, float, str]]] = {f: [] for f in data.filenames}
        for clip, intervals in per_clip.items():
            for on, off in _merge_intervals(intervals):
                class_truth[data.filenames[clip]].append((on, off, classes[c]))
                truth[data.filenames[clip]].append((on, off, classes[c]))
        truth_per_class[c] = class_truth

    windows = {c: grid.windows_for(base.median_window[c]) for c in evaluated}
    taus = {c: _with_base(grid.tag_thresholds, base.tag_threshold[c]) for c in evaluated}
    n_passes = max(len(w) for w in windows.values())
    stat_kwargs = dict(dtc_threshold=settings.dtc_threshold, gtc_threshold=settings.gtc_threshold)

    def frame_scores(pass_index: int | None) -> dict[str, pd.DataFrame]:
        """Score DataFrames of all clips: class c filtered with its pass_index-th window (None: zeros)."""
        per_group = []
        for frames in data.group_frames:
            cols = []
            for c in evaluated:
                if pass_index is None:
                    cols.append(np.zeros_like(frames[c]))
                else:
                    w = windows[c][min(pass_index, len(windows[c]) - 1)]
                    cols.append(median_filter_rows(frames[c], w))
            per_group.append(np.stack(cols, axis=-1))  # (n_g, T_g, C_eval)
        out = {}
        for offset, block in zip(data.group_offsets, per_group):
            timestamps = frame_times(np.arange(block.shape[1] + 1), frame_hop)
            for r in range(block.shape[0]):
                out[data.filenames[offset + r]] = create_score_dataframe(block[r], timestamps, eval_names)
        return out

    passes: list[int | None] = [None, *range(n_passes)]
    deltas: dict[int | None, dict] = {}
    for p in tqdm(passes, desc="psds1 tuning: score statistics", disable=not progress, leave=False):
        deltas[p] = intermediate_statistics_deltas(frame_scores(p), truth, **stat_kwargs)

    # per-class PSD-ROC of every (window, tau) candidate
    rocs: dict[tuple[int, int, int], tuple] = {}
    single: dict[tuple[int, int, int], float] = {}
    n_per_class = [0] * len(classes)
    for c in tqdm(evaluated, desc="psds1 tuning: class candidates", disable=not progress, leave=False):
        name = classes[c]
        clip_p = data.clip_probs[:, c]
        for wi in range(len(windows[c])):
            for ti, tau in enumerate(taus[c]):
                gated = clip_p < tau
                class_deltas = {
                    f: {name: deltas[None if gated[i] else wi][f][name]}
                    for i, f in enumerate(data.filenames)
                }
                _, single_psds, _, single_rocs = psds(
                    scores=None, ground_truth=truth_per_class[c], audio_durations=durations,
                    deltas=class_deltas, alpha_ct=settings.alpha_ct, alpha_st=settings.alpha_st,
                    max_efpr=settings.max_efpr, **stat_kwargs,
                )
                rocs[(c, wi, ti)] = single_rocs[name]
                single[(c, wi, ti)] = float(single_psds[name])
                n_per_class[c] += 1

    def combined(choice: dict[int, tuple[int, int]]) -> float:
        curves = {classes[c]: rocs[(c, *choice[c])] for c in evaluated}
        tpr, efpr = multi_class_psd_roc_from_single_class_psd_rocs(
            curves, alpha_st=settings.alpha_st, max_efpr=settings.max_efpr
        )
        return float(psds_from_psd_roc(tpr, efpr, settings.max_efpr))

    base_choice = {
        c: (windows[c].index(base.median_window[c]), taus[c].index(float(base.tag_threshold[c])))
        for c in evaluated
    }
    choice = dict(base_choice)
    default_score = best = combined(choice)
    for _ in range(grid.psds_rounds):
        changed = False
        for c in evaluated:
            for wi in range(len(windows[c])):
                for ti in range(len(taus[c])):
                    if (wi, ti) == choice[c]:
                        continue
                    value = combined({**choice, c: (wi, ti)})
                    if value > best + _TIE_EPS:
                        best, choice[c], changed = value, (wi, ti), True
        if not changed:
            break

    tuned_values, tuned_per_class, default_per_class = [], [], []
    for c in range(len(classes)):
        values = base.class_params(classes[c])
        if c in choice:
            wi, ti = choice[c]
            values = {**values, "median_window": windows[c][wi], "tag_threshold": taus[c][ti]}
            tuned_per_class.append(single[(c, *choice[c])])
            default_per_class.append(single[(c, *base_choice[c])])
        else:
            tuned_per_class.append(float("nan"))
            default_per_class.append(float("nan"))
        tuned_values.append(values)
    return tuned_values, tuned_per_class, default_per_class, default_score, best, n_per_class


# ============================================================================ entry point
def tune_event_specific(
    clip_probs: Mapping[str, np.ndarray],
    frame_probs: Mapping[str, np.ndarray],
    ground_truth: "StrongAnnotations",
    durations: Mapping[str, float] | None,
    frame_hop: float,
    base_params: PostProcessingParams,
    grid: TuningGrid | None = None,
    objective: Objective = "event_f1",
    progress: bool = True,
    *,
    collars: EventCollars = EVENT_COLLARS,
) -> TuningResult:
    """Tune the post-processing per class on a labelled set (DESIGN §4; module docstring).

    Args:
        clip_probs: filename → (C,) clip probabilities of the tuning clips.
        frame_probs: filename → (T, C) frame probabilities (T may differ between clips).
        ground_truth: strong labels of exactly these clips (clips without events included).
        durations: filename → clip duration in seconds (needed for ``psds1`` only).
        frame_hop: frame hop in seconds.
        base_params: starting/default parameters (e.g. Lin's); C = ``len(base_params.classes)``.
        grid: candidate values (default :class:`TuningGrid`).
        objective: ``"event_f1"`` (per-class event F1) or ``"psds1"``.
        progress: show tqdm progress bars.
        collars: collars of the event F1 (default: the evaluator's, DCASE's).

    Returns:
        :class:`TuningResult` with the tuned parameters and the per-class table.
    """
    started = time.perf_counter()
    grid = grid or TuningGrid()
    grid.validate()
    base_params.validate()
    if frame_hop <= 0:
        raise PostProcessingError(f"frame_hop must be > 0 seconds, got {frame_hop}")
    if objective not in ("event_f1", "psds1"):
        raise PostProcessingError(f"objective must be 'event_f1' or 'psds1', got {objective!r}")
    if objective == "psds1" and durations is None:
        raise PostProcessingError("objective 'psds1' needs the clip durations")
    classes = list(base_params.classes)
    data = _prepare(clip_probs, frame_probs, ground_truth, classes)

    per_class: list[ClassTuning] = []
    if objective == "event_f1":
        tuned_values, tuned_per_class, default_per_class, n_per_class = [], [], [], []
        for c in tqdm(range(len(classes)), desc="tuning post-processing (event F1)", disable=not progress):
            values, tuned, default, n_cand = _search_class_event_f1(
                data, c, base_params, grid, frame_hop, collars=collars
            )
            tuned_values.append(values)
            tuned_per_class.append(tuned)
            default_per_class.append(default)
            n_per_class.append(n_cand)
        default_score = float(np.mean(default_per_class))
        tuned_score = float(np.mean(tuned_per_class))
        n_candidates = int(sum(n_per_class))
    else:
        tuned_values, tuned_per_class, default_per_class, default_score, tuned_score, n_per_class = _tune_psds1(
            data, classes, base_params, grid, durations or {}, frame_hop, progress
        )
        n_candidates = int(sum(n_per_class))

    params = PostProcessingParams(
        classes=classes,
        **{name: [values[name] for values in tuned_values] for name in PER_CLASS_FIELDS},
    )
    params.median_window = [int(w) for w in params.median_window]
    params.validate()
    for c, name in enumerate(classes):
        per_class.append(
            ClassTuning(
                class_name=name,
                n_ref=len(data.refs[c].clip),
                n_candidates=n_per_class[c],
                default_value=default_per_class[c],
                tuned_value=tuned_per_class[c],
                default=base_params.class_params(name),
                tuned=params.class_params(name),
            )
        )
    return TuningResult(
        params=params,
        base_params=base_params,
        objective=objective,
        per_class=per_class,
        default_score=default_score,
        tuned_score=tuned_score,
        n_clips=data.n_clips,
        n_candidates=n_candidates,
        elapsed_s=time.perf_counter() - started,
    )
