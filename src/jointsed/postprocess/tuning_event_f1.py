"""Event-F1 objective of the post-processing tuning: exhaustive per-class search.

For one class, every candidate of τ × θ × w × max gap × min duration is scored with the class's
event-based F1 (:mod:`.fast_f1` counting); the formulation is in :mod:`.tuning`'s docstring.
"""

from __future__ import annotations

import numpy as np

from jointsed.evaluate.counts import f1_from_counts
from jointsed.evaluate.settings import EventCollars
from jointsed.postprocess.apply import (
    active_runs,
    binary_median_filter_rows,
    drop_short,
    fill_gaps,
    frame_times,
    frames_shorter_than,
    median_filter_rows,
)
from jointsed.postprocess.fast_f1 import count_matches
from jointsed.postprocess.params import PostProcessingParams
from jointsed.postprocess.tuning_inputs import TIE_EPS, PreparedScores, with_base_value
from jointsed.postprocess.tuning_types import TuningGrid


def search_class_event_f1(
    data: PreparedScores,
    c: int,
    base: PostProcessingParams,
    grid: TuningGrid,
    frame_hop: float,
    *,
    collars: EventCollars,
) -> tuple[dict[str, float | int], float, float, int]:
    """Exhaustive search for class ``c``. Returns (tuned values, tuned F1, base F1, n candidates)."""
    windows = grid.windows_for(base.median_window[c])
    thetas = with_base_value(grid.frame_thresholds, base.frame_threshold[c])
    gaps = with_base_value(grid.max_gaps, base.max_gap[c])
    mins = with_base_value(grid.min_durations, base.min_duration[c])
    taus = with_base_value(grid.tag_thresholds, base.tag_threshold[c])
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
    if values.max() > values[base_index] + TIE_EPS:
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
