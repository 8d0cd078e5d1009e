"""PSDS1 objective of the post-processing tuning: coordinate ascent over the classes.

Only the score-level steps (median window w_c, tag gating τ_c) are searched; sed_scores_eval's
per-clip statistics are cached per window set, so every candidate is an accumulation of cached
deltas. The formulation is in :mod:`.tuning`'s docstring.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from jointsed.evaluate.settings import PSDS1
from jointsed.postprocess.apply import frame_times, median_filter_rows
from jointsed.postprocess.params import PostProcessingError, PostProcessingParams
from jointsed.postprocess.tuning_inputs import TIE_EPS, PreparedScores, with_base_value
from jointsed.evaluate.io import merge_overlaps
from jointsed.postprocess.tuning_types import TuningGrid


def tune_psds1(
    data: PreparedScores,
    classes: Sequence[str],
    base: PostProcessingParams,
    grid: TuningGrid,
    durations: Mapping[str, float],
    frame_hop: float,
    progress: bool,
) -> tuple[list[dict[str, float | int]], list[float], list[float], float, float, list[int]]:
    """Coordinate ascent of PSDS1 over each evaluated class's (median window, τ) candidates.

    Classes without any reference event keep their base parameters (sed_scores_eval needs an
    event per evaluated class); θ, min duration and gap filling are always the base ones.

    Returns:
        (per-class tuned parameter dicts, per-class tuned and base single-class PSDS (NaN for
        classes without events), base PSDS1, tuned PSDS1, per-class number of candidates).
    """
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
            # the union of overlapping / touching labels (sed_scores_eval rejects connected ones)
            for on, off, _ in merge_overlaps([(on, off, classes[c]) for on, off in intervals])[0]:
                class_truth[data.filenames[clip]].append((on, off, classes[c]))
                truth[data.filenames[clip]].append((on, off, classes[c]))
        truth_per_class[c] = class_truth

    windows = {c: grid.windows_for(base.median_window[c]) for c in evaluated}
    taus = {c: with_base_value(grid.tag_thresholds, base.tag_threshold[c]) for c in evaluated}
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
                    if value > best + TIE_EPS:
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
