"""Numbers behind the report's figures: clip choice, frame-level confusions, missed and inserted
events, PSD-ROC curves. Pure functions of the evaluation data (no plotting here)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from jointsed.data.annotations import Event
from jointsed.evaluate.intersection import sed_scores_psds
from jointsed.evaluate.settings import PSDSScenario
from jointsed.evaluate.io import Reference
from jointsed.postprocess.fast_f1 import event_counts_per_class

Events = Sequence[tuple[float, float, str]]


# ------------------------------------------------------------------------ example clips


def select_clips(reference: Reference, n_clips: int, available: Sequence[str] | None = None) -> list[str]:
    """Pick ``n_clips`` example clips: busy clips first, covering as many classes as possible.

    Greedy and deterministic: each step takes the clip with the most classes not shown yet, then
    the most distinct classes, then the most events, then the smallest audio id.

    Args:
        reference: ground truth (audio id -> events).
        n_clips: how many clips (fewer if the set is smaller).
        available: restrict the choice to these audio ids (e.g. clips with scores).
    """
    keys = [k for k in reference.events if available is None or k in set(available)]
    labels = {k: {label for _, _, label in reference.events[k]} for k in keys}
    n_events = {k: len(reference.events[k]) for k in keys}
    chosen: list[str] = []
    shown: set[str] = set()
    remaining = sorted(keys)
    while remaining and len(chosen) < n_clips:
        best = min(remaining, key=lambda k: (-len(labels[k] - shown), -len(labels[k]), -n_events[k], k))
        chosen.append(best)
        shown |= labels[best]
        remaining.remove(best)
    return chosen


# ------------------------------------------------------------------------ frame-level view


def events_to_frames(events: Events, classes: Sequence[str], n_frames: int, frame_hop: float) -> np.ndarray:
    """``(n_frames, C)`` bool activity: frame ``t`` is active for an event when its centre
    ``(t + 0.5) * frame_hop`` lies in ``[onset, offset)``."""
    index = {c: i for i, c in enumerate(classes)}
    active = np.zeros((n_frames, len(classes)), dtype=bool)
    centres = (np.arange(n_frames) + 0.5) * frame_hop
    for onset, offset, label in events:
        if label in index:
            active[(centres >= onset) & (centres < offset), index[label]] = True
    return active


@dataclass
class FrameConfusion:
    """Frame-level confusions between ground truth and predictions.

    ``counts[i, j]`` (in frames) for rows = ground-truth classes + ``"none"`` (last) and columns
    = predicted classes + ``"none"`` (last):

    * a frame where ground-truth class ``g`` is active adds 1 to row ``g``: to column ``g`` if
      ``g`` is predicted there; otherwise split equally over the classes predicted there that are
      not in the ground truth (a confusion); otherwise to column ``none`` (missed);
    * a predicted class ``p`` that is not in the ground truth of a frame where every
      ground-truth class was found adds 1 to (``none``, ``p``) (an insertion);
    * a frame with nothing in the ground truth and nothing predicted adds 1 to
      (``none``, ``none``).
    """

    classes: list[str]
    counts: np.ndarray  # (C + 1, C + 1)
    frame_hop: float

    @property
    def labels(self) -> list[str]:
        return [*self.classes, "none"]

    def normalized(self) -> np.ndarray:
        """Rows divided by their totals (rows without frames stay 0)."""
        totals = self.counts.sum(axis=1, keepdims=True)
        return np.divide(self.counts, totals, out=np.zeros_like(self.counts), where=totals > 0)

    def row_seconds(self) -> np.ndarray:
        return self.counts.sum(axis=1) * self.frame_hop


def frame_confusion(
    truth: np.ndarray | Sequence[np.ndarray], predicted: np.ndarray | Sequence[np.ndarray],
    classes: Sequence[str], frame_hop: float,
) -> FrameConfusion:
    """Accumulate a :class:`FrameConfusion` over clips.

    Args:
        truth: ``(T, C)`` bool ground-truth activity, or a list of them (one per clip).
        predicted: the predicted activity, same shapes.
        classes: the C class names.
        frame_hop: seconds per frame (only used to express totals in seconds).
    """
    truth_list = [truth] if isinstance(truth, np.ndarray) else list(truth)
    pred_list = [predicted] if isinstance(predicted, np.ndarray) else list(predicted)
    n = len(classes)
    counts = np.zeros((n + 1, n + 1), dtype=np.float64)
    for gt, pr in zip(truth_list, pred_list, strict=True):
        gt = np.asarray(gt, dtype=bool)
        pr = np.asarray(pr, dtype=bool)
        if gt.shape != pr.shape:
            raise ValueError(f"activity shapes differ: {gt.shape} vs {pr.shape}")
        hit = gt & pr
        extra = pr & ~gt  # predicted, not in the ground truth of that frame
        missed = gt & ~pr
        n_extra = extra.sum(axis=1)
        # correct frames on the diagonal
        counts[np.arange(n), np.arange(n)] += hit.sum(axis=0)
        # missed ground truth: confused with the extra predictions of the frame, else "none"
        confused_frames = missed & (n_extra > 0)[:, None]
        if confused_frames.any():
            weights = extra / np.maximum(n_extra, 1)[:, None]  # (T, C) split per frame
            counts[:n, :n] += confused_frames.T.astype(np.float64) @ weights
        counts[:n, n] += (missed & (n_extra == 0)[:, None]).sum(axis=0)
        # insertions: extra predictions in frames where nothing of the ground truth was missed
        clean = ~missed.any(axis=1)
        counts[n, :n] += (extra & clean[:, None]).sum(axis=0)
        counts[n, n] += (~gt.any(axis=1) & ~pr.any(axis=1)).sum()
    return FrameConfusion(list(classes), counts, frame_hop)


# ------------------------------------------------------------------------ event counts


@dataclass
class EventCounts:
    """Collar-based event matching per class (DCASE settings, same counting as sed_eval):
    ``correct`` true positives, ``missed`` = N_ref - TP, ``inserted`` = N_sys - TP."""

    classes: list[str]
    correct: np.ndarray
    missed: np.ndarray
    inserted: np.ndarray


def event_counts(
    reference: Reference, detections: Mapping[str, Events], classes: Sequence[str]
) -> EventCounts:
    """Missed and inserted events per class (``jointsed.postprocess.fast_f1`` matching)."""
    ref = [Event(k, on, off, label) for k, evs in reference.events.items() for on, off, label in evs]
    est = [Event(k, on, off, label) for k, evs in detections.items() for on, off, label in evs]
    counts = event_counts_per_class(ref, est, list(classes))
    tp = np.array([counts[c][0] for c in classes])
    n_ref = np.array([counts[c][1] for c in classes])
    n_sys = np.array([counts[c][2] for c in classes])
    return EventCounts(list(classes), tp, n_ref - tp, n_sys - tp)


# ------------------------------------------------------------------------ PSD-ROC


@dataclass
class PSDROC:
    """PSD-ROC of one PSDS variant (``sed_scores_eval.intersection_based.psds``).

    Attributes:
        value: the PSDS (area under ``roc`` up to ``max_efpr``, normalised).
        roc: ``(eTPR, eFPR)`` arrays of the combined (effective) curve.
        per_class_value: ``{class: single-class PSDS}``.
        per_class_roc: ``{class: (TPR, eFPR)}``.
        settings: the PSDS parameters.
        left_out: classes without any ground-truth event (no ROC defined; left out of the
            computation, so ``value`` is then not the official PSDS of all classes).
    """

    value: float
    roc: tuple[np.ndarray, np.ndarray]
    per_class_value: dict[str, float]
    per_class_roc: dict[str, tuple[np.ndarray, np.ndarray]]
    settings: PSDSScenario
    left_out: list[str]


def psd_roc(reference: Reference, scores: Mapping[str, pd.DataFrame], settings: PSDSScenario) -> PSDROC:
    """PSDS and its ROC curves from frame scores (every reference clip must have scores).

    Classes without any ground-truth event have no ROC (``sed_scores_eval`` refuses them): they
    are left out (``PSDROC.left_out``); with no class left this raises ``ValueError``.
    """
    seen = {label for events in reference.events.values() for _, _, label in events}
    present = [c for c in reference.classes if c in seen]
    left_out = [c for c in reference.classes if c not in seen]
    if not present:
        raise ValueError("the ground truth has no event")
    columns = ["onset", "offset", *present]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # the reference restricted to the classes with events: PSDS is computed over its classes
        value, per_class, (tpr, efpr), per_class_rocs = sed_scores_psds(
            replace(reference, classes=tuple(present)), {k: scores[k][columns] for k in reference.events}, settings
        )
    return PSDROC(
        value=float(value),
        roc=(np.asarray(tpr), np.asarray(efpr)),
        per_class_value={c: float(v) for c, v in per_class.items()},
        per_class_roc={c: (np.asarray(r[0]), np.asarray(r[1])) for c, r in per_class_rocs.items()},
        settings=settings,
        left_out=left_out,
    )
