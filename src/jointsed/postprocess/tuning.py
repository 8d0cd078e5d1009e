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
* ``objective="psds1"`` (or ``"psds2"``) — PSDS is threshold-free, so only the score-level
  steps matter: the median window w_c and the tag gating τ_c (θ, min duration and gap filling
  are kept from the base parameters). The PSDS of the post-processed scores with the metric's
  scenario (:data:`jointsed.evaluate.settings.PSDS1`, DCASE: dtc = gtc = 0.7, α_ct = 0, α_st = 1,
  max eFPR 100/hour; or PSDS2) is maximised by coordinate ascent over the classes (each class's
  (w_c, τ_c) in turn, the others fixed; up to ``grid.psds_rounds`` sweeps). A class's PSD-ROC
  (its cross-triggers included) depends only on its own scores, so sed_scores_eval's per-clip
  statistics are computed once per window set (plus once for gated, all-zero scores) and every
  (c, w, τ) candidate is an accumulation of cached per-clip deltas; the α_st coupling is handled
  by re-combining the cached per-class ROCs (:mod:`.tuning_psds_roc`). Cost: (number of window
  candidates + 1) full sed_scores_eval passes, plus one accumulation per (class, window, τ).

The objective is an entry of the metric table (:mod:`jointsed.evaluate.metric_table`) or its
name: an ``"events"`` metric with collars (event F1) takes the first search, a ``"scores"``
metric with a PSDS scenario the second.

The base parameters are always part of the grid, and a candidate replaces them only when it
is strictly better, so the tuned score on the tuning set is never below the base score. Ties
between other candidates go to the first in grid order (windows, θ, gap, min duration, τ,
each ascending).

This module is the entry point (:func:`tune_event_specific`); the grid and result types are in
:mod:`.tuning_types`, the shared input preparation in :mod:`.tuning_inputs`, the searches in
:mod:`.tuning_event_f1` and :mod:`.tuning_psds`.
"""


from __future__ import annotations

import time
from typing import TYPE_CHECKING, Mapping

import numpy as np
from tqdm.auto import tqdm

from jointsed.evaluate.metric_table import Metric, get_metric
from jointsed.evaluate.settings import EVENT_COLLARS, EventCollars, PSDSScenario
from jointsed.postprocess.params import PER_CLASS_FIELDS, PostProcessingError, PostProcessingParams
from jointsed.postprocess.tuning_event_f1 import search_class_event_f1
from jointsed.postprocess.tuning_inputs import prepare_scores
from jointsed.postprocess.tuning_psds import tune_psds
from jointsed.postprocess.tuning_types import ClassTuning, TuningGrid, TuningResult

if TYPE_CHECKING:
    from jointsed.data.annotations import StrongAnnotations


def resolve_objective(objective: "str | Metric") -> Metric:
    """The metric-table entry of a tuning objective (a name or a :class:`Metric`).

    Raises:
        PostProcessingError: an unknown name (the message lists the metric table's names).
    """
    try:
        return get_metric(objective)
    except ValueError as exc:
        raise PostProcessingError(f"tuning objective: {exc}") from None


def objective_kind(metric: Metric) -> str:
    """``"event_f1"`` (an events metric with collars: per-class event-F1 search) or ``"psds"``
    (a scores metric with a PSDS scenario: the cached PSD-ROC search).

    Raises:
        PostProcessingError: a metric neither search can optimise.
    """
    if metric.needs == "events" and isinstance(metric.settings, EventCollars):
        return "event_f1"
    if metric.needs == "scores" and isinstance(metric.settings, PSDSScenario):
        return "psds"
    raise PostProcessingError(
        f"no tuning search for the objective {metric.name!r} (needs {metric.needs}, settings "
        f"{type(metric.settings).__name__}): the searches handle collar-based event F1 and PSDS"
    )


def tune_event_specific(
    clip_probs: Mapping[str, np.ndarray],
    frame_probs: Mapping[str, np.ndarray],
    ground_truth: "StrongAnnotations",
    durations: Mapping[str, float] | None,
    frame_hop: float,
    base_params: PostProcessingParams,
    grid: TuningGrid | None = None,
    objective: "str | Metric" = "event_f1",
    progress: bool = True,
    *,
    collars: EventCollars = EVENT_COLLARS,
) -> TuningResult:
    """Tune the post-processing per class on a labelled set (DESIGN §4; module docstring).

    Args:
        clip_probs: filename → (C,) clip probabilities of the tuning clips.
        frame_probs: filename → (T, C) frame probabilities (T may differ between clips).
        ground_truth: strong labels of exactly these clips (clips without events included).
        durations: filename → clip duration in seconds (needed for PSDS objectives only).
        frame_hop: frame hop in seconds.
        base_params: starting/default parameters (e.g. Lin's); C = ``len(base_params.classes)``.
        grid: candidate values (default :class:`TuningGrid`).
        objective: a metric-table entry or its name: ``"event_f1"`` (per-class event F1),
            ``"psds1"``, ``"psds2"``.
        progress: show tqdm progress bars.
        collars: collars of the event F1 (default: the evaluator's, DCASE's, which an event-F1
            entry of the metric table with other collars replaces).

    Returns:
        :class:`TuningResult` with the tuned parameters and the per-class table.
    """
    started = time.perf_counter()
    grid = grid or TuningGrid()
    grid.validate()
    base_params.validate()
    if frame_hop <= 0:
        raise PostProcessingError(f"frame_hop must be > 0 seconds, got {frame_hop}")
    metric = resolve_objective(objective)
    kind = objective_kind(metric)
    if kind == "psds" and durations is None:
        raise PostProcessingError(f"objective {metric.name!r} needs the clip durations")
    if kind == "event_f1" and collars is EVENT_COLLARS:
        collars = metric.settings
    classes = list(base_params.classes)
    data = prepare_scores(clip_probs, frame_probs, ground_truth, classes)

    per_class: list[ClassTuning] = []
    if kind == "event_f1":
        tuned_values, tuned_per_class, default_per_class, n_per_class = [], [], [], []
        for c in tqdm(range(len(classes)), desc="tuning post-processing (event F1)", disable=not progress):
            values, tuned, default, n_cand = search_class_event_f1(
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
        tuned_values, tuned_per_class, default_per_class, default_score, tuned_score, n_per_class = tune_psds(
            data, classes, base_params, grid, durations or {}, frame_hop, progress, metric.settings
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
        objective=metric.name,
        per_class=per_class,
        default_score=default_score,
        tuned_score=tuned_score,
        n_clips=data.n_clips,
        n_candidates=n_candidates,
        elapsed_s=time.perf_counter() - started,
    )
