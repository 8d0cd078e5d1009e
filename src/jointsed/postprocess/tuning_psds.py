"""PSDS objective of Lin's post-processing tuning: coordinate ascent over the classes.

Only the score-level steps (median window w_c, tag gating τ_c) are searched; sed_scores_eval's
per-clip statistics are cached per window set (:class:`~.tuning_psds_roc.ClassRocs`), so every
candidate is an accumulation of cached deltas. Any PSDS scenario of the metric table (PSDS1,
PSDS2); the formulation is in :mod:`.tuning`'s docstring.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from tqdm.auto import tqdm

from jointsed.evaluate.settings import PSDS1, PSDSScenario
from jointsed.postprocess.apply import frame_times, median_filter_rows
from jointsed.postprocess.params import PostProcessingError, PostProcessingParams
from jointsed.postprocess.tuning_inputs import PreparedScores, with_base_value
from jointsed.postprocess.tuning_psds_roc import ClassRocs
from jointsed.postprocess.tuning_types import TuningGrid


def evaluated_classes(data: PreparedScores, classes: Sequence[str]) -> list[int]:
    """The classes with at least one reference event (sed_scores_eval needs one per evaluated class)."""
    evaluated = [c for c in range(len(classes)) if len(data.refs[c].clip) > 0]
    if not evaluated:
        raise PostProcessingError("PSDS tuning: the ground truth has no event of any class")
    return evaluated


def class_rocs(data: PreparedScores, classes: Sequence[str], evaluated: Sequence[int],
               durations: Mapping[str, float], scenario: PSDSScenario) -> ClassRocs:
    """The :class:`ClassRocs` of the tuning clips over the evaluated classes."""
    reference = {
        classes[c]: list(zip(data.refs[c].clip.tolist(), data.refs[c].onset.tolist(), data.refs[c].offset.tolist()))
        for c in evaluated
    }
    return ClassRocs(data.filenames, reference, [classes[c] for c in evaluated], durations, scenario)


def tune_psds(
    data: PreparedScores,
    classes: Sequence[str],
    base: PostProcessingParams,
    grid: TuningGrid,
    durations: Mapping[str, float],
    frame_hop: float,
    progress: bool,
    scenario: PSDSScenario = PSDS1,
) -> tuple[list[dict[str, float | int]], list[float], list[float], float, float, list[int]]:
    """Coordinate ascent of PSDS over each evaluated class's (median window, τ) candidates.

    Classes without any reference event keep their base parameters (sed_scores_eval needs an
    event per evaluated class); θ, min duration and gap filling are always the base ones.

    Returns:
        (per-class tuned parameter dicts, per-class tuned and base single-class PSDS (NaN for
        classes without events), base PSDS, tuned PSDS, per-class number of candidates).
    """
    from sed_scores_eval.base_modules.scores import create_score_dataframe

    evaluated = evaluated_classes(data, classes)
    cache = class_rocs(data, classes, evaluated, durations, scenario)
    eval_names = [classes[c] for c in evaluated]
    windows = {c: grid.windows_for(base.median_window[c]) for c in evaluated}
    taus = {c: with_base_value(grid.tag_thresholds, base.tag_threshold[c]) for c in evaluated}
    n_passes = max(len(w) for w in windows.values())

    def frame_scores(pass_index: int | None) -> dict:
        """Score DataFrames of all clips: class c filtered with its pass_index-th window (None: zeros)."""
        out = {}
        for offset, frames in zip(data.group_offsets, data.group_frames):
            cols = []
            for c in evaluated:
                if pass_index is None:
                    cols.append(np.zeros_like(frames[c]))
                else:
                    w = windows[c][min(pass_index, len(windows[c]) - 1)]
                    cols.append(median_filter_rows(frames[c], w))
            block = np.stack(cols, axis=-1)  # (n_g, T_g, C_eval)
            timestamps = frame_times(np.arange(block.shape[1] + 1), frame_hop)
            for r in range(block.shape[0]):
                out[data.filenames[offset + r]] = create_score_dataframe(block[r], timestamps, eval_names)
        return out

    for p in tqdm([None, *range(n_passes)], desc="PSDS tuning: score statistics", disable=not progress, leave=False):
        cache.add(p, frame_scores(p))

    # per-class PSD-ROC of every (window, tau) candidate; candidate j = wi * len(taus) + ti
    rocs: dict[tuple[str, int], tuple] = {}
    single: dict[tuple[int, int, int], float] = {}
    n_per_class = [0] * len(classes)
    for c in tqdm(evaluated, desc="PSDS tuning: class candidates", disable=not progress, leave=False):
        clip_p = data.clip_probs[:, c]
        for wi in range(len(windows[c])):
            for ti, tau in enumerate(taus[c]):
                passes = [None if gated else wi for gated in (clip_p < tau)]
                roc, value = cache.roc(classes[c], passes)
                rocs[(classes[c], wi * len(taus[c]) + ti)] = roc
                single[(c, wi, ti)] = value
                n_per_class[c] += 1

    base_index = {
        c: (windows[c].index(base.median_window[c]), taus[c].index(float(base.tag_threshold[c])))
        for c in evaluated
    }
    chosen, default_score, best = cache.ascend(
        rocs, {classes[c]: len(windows[c]) * len(taus[c]) for c in evaluated},
        {classes[c]: wi * len(taus[c]) + ti for c, (wi, ti) in base_index.items()}, grid.psds_rounds,
    )

    tuned_values, tuned_per_class, default_per_class = [], [], []
    for c in range(len(classes)):
        values = base.class_params(classes[c])
        if c in base_index:
            wi, ti = divmod(chosen[classes[c]], len(taus[c]))
            values = {**values, "median_window": windows[c][wi], "tag_threshold": taus[c][ti]}
            tuned_per_class.append(single[(c, wi, ti)])
            default_per_class.append(single[(c, *base_index[c])])
        else:
            tuned_per_class.append(float("nan"))
            default_per_class.append(float("nan"))
        tuned_values.append(values)
    return tuned_values, tuned_per_class, default_per_class, default_score, best, n_per_class
