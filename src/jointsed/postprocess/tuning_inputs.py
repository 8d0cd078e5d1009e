"""Tuning inputs regrouped for the per-class searches (:mod:`.tuning_event_f1`, :mod:`.tuning_psds`).

:func:`prepare_scores` checks the scores against the ground truth once and regroups them into a
:class:`PreparedScores` (clips of equal length stacked, reference events per class as arrays), so
that every candidate of a search is a few vectorised operations. :func:`with_base_value` and
:data:`TIE_EPS` are the rules both searches share: the base parameters are always candidates, and
a candidate replaces them only when better by more than :data:`TIE_EPS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from jointsed.postprocess.base import check_score_dicts
from jointsed.postprocess.params import PostProcessingError

if TYPE_CHECKING:
    from jointsed.data.annotations import StrongAnnotations

#: a candidate must beat the current best by more than this to replace it (ties: first in grid order)
TIE_EPS = 1e-12


@dataclass
class ReferenceEvents:
    """The reference (ground-truth) events of one class, as parallel arrays sorted by clip."""

    clip: np.ndarray  # int64 internal clip ids, sorted
    onset: np.ndarray
    offset: np.ndarray


@dataclass
class PreparedScores:
    """Scores regrouped by clip length: internal clip ids run group after group.

    Built by :func:`prepare_scores`; clips of one length share one array, so a median filter or
    a threshold runs once per group instead of once per clip.
    """

    filenames: list[str]  # in internal order
    group_frames: list[np.ndarray]  # per group: (C, n_g, T_g) float64
    group_offsets: list[int]  # first internal id of each group
    clip_probs: np.ndarray  # (N, C) float64, internal order
    refs: list[ReferenceEvents]  # per class

    @property
    def n_clips(self) -> int:
        """Number of tuning clips."""
        return len(self.filenames)


def prepare_scores(
    clip_probs: Mapping[str, np.ndarray],
    frame_probs: Mapping[str, np.ndarray],
    ground_truth: "StrongAnnotations",
    classes: Sequence[str],
) -> PreparedScores:
    """Check the tuning inputs and regroup them into a :class:`PreparedScores`.

    Args:
        clip_probs: filename → (C,) clip probabilities.
        frame_probs: filename → (T, C) frame probabilities (T may differ between clips).
        ground_truth: strong labels of exactly these clips.
        classes: the model's C classes, in score column order.

    Raises:
        PostProcessingError: no clips, scores and labels covering different clips, a bad shape,
            a NaN or infinite probability, or a label that is not one of ``classes``.
    """
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
            ReferenceEvents(
                clip=np.asarray([r[0] for r in rows], dtype=np.int64),
                onset=np.asarray([r[1] for r in rows], dtype=np.float64),
                offset=np.asarray([r[2] for r in rows], dtype=np.float64),
            )
        )
    return PreparedScores(ordered, group_frames, group_offsets, clip_matrix, refs)


def with_base_value(values: Sequence[float], base: float) -> list[float]:
    """Candidate ``values`` plus the base parameter's own ``base`` value, as sorted unique floats."""
    return sorted({float(v) for v in values} | {float(base)})
