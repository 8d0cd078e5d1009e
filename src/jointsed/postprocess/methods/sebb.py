"""The ``"sebb"`` post-processing method: sound event bounding boxes by change detection.

Ebbers, Germain, Wichern, Le Roux, "Sound event bounding boxes", Interspeech 2024 (arXiv
2406.04212): a detection is a box (onset, offset, class, confidence) whose extent comes from
where the score changes and whose confidence is one number, so that a decision threshold keeps
or drops whole boxes. OUR implementation from the paper's description (the authors' ``sebbs``
package is AGPL-3.0; it is neither imported nor copied; ``benchmarks/sebb_compare.py`` compares
the two on the same scores). Per clip and class c:

1. tag gating: no box when the clip probability is below τ_c (as Lin's pipeline);
2. median filter of the frame probabilities over w_c frames (Lin's first filter);
3. change-detection boxes of the filtered curve (:mod:`jointsed.postprocess.sebb_boxes`): step
   filter of ``step_length`` L_c frames, change points where the step is a local extremum of
   magnitude ≥ δ_c (``change_threshold``), boxes from rises to falls, boxes closer than
   ``merge_gap`` seconds joined, confidence the ``max`` or ``mean`` score of the box;
4. events at the operating point: the boxes whose confidence is ≥ λ_c (``detection_threshold``).

The scores form for PSDS is the boxes themselves (:class:`~jointsed.evaluate.box_scores.ScoredSegments`:
each box's confidence over its span, 0 elsewhere), so PSDS is computed over the scored segments.
``jointsed tune --method sebb`` searches the parameters (:mod:`jointsed.postprocess.tuning_sebb`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

import numpy as np

from jointsed.evaluate.box_scores import Box, ScoredSegments
from jointsed.postprocess.apply import check_clip, frame_times, median_filter_rows
from jointsed.postprocess.base import DataclassPostProcessor, Detection, register_postprocessor
from jointsed.postprocess.sebb_boxes import CONFIDENCES, curve_boxes

if TYPE_CHECKING:
    from jointsed.data.annotations import StrongAnnotations
    from jointsed.evaluate.metric_table import Metric
    from jointsed.postprocess.params import PostProcessingParams
    from jointsed.postprocess.tuning_types import TuningResult

#: the untuned change threshold δ and decision threshold λ (Lin's θ = 0.5 for the latter)
DEFAULT_CHANGE_THRESHOLD = 0.2
DEFAULT_DETECTION_THRESHOLD = 0.5


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v


@register_postprocessor("sebb")
@dataclass
class SebbPostProcessor(DataclassPostProcessor):
    """SEBB parameters, every list aligned with ``classes`` (module docstring for the steps).

    Attributes:
        tag_threshold: τ_c in [0, 1], clip gating (and the tagging decision).
        median_window: w_c ≥ 1 frames, the median filter before change detection (1: none).
        step_length: L_c ≥ 2 frames, the step filter's length.
        change_threshold: δ_c in (0, 1], the smallest score step that is a change point.
        merge_gap: seconds ≥ 0; boxes separated by less are joined (0: off).
        detection_threshold: λ_c in (0, 1]; boxes with confidence ≥ λ_c are the events.
        confidence: per class, ``"max"`` or ``"mean"`` of the filtered score over the box.
    """

    label: ClassVar[str] = "SEBB"
    scores_label: ClassVar[str] = "scored segments (SEBB boxes)"
    scores_description: ClassVar[str] = ("scored segments: each SEBB box's confidence over its frames, 0 elsewhere "
                                         "(tag gating, median filter, change-detection boxes)")
    per_class_fields: ClassVar[tuple[str, ...]] = (
        "tag_threshold", "median_window", "step_length", "change_threshold", "merge_gap",
        "detection_threshold", "confidence",
    )

    classes: list[str]
    tag_threshold: list[float]
    median_window: list[int]
    step_length: list[int]
    change_threshold: list[float]
    merge_gap: list[float]
    detection_threshold: list[float]
    confidence: list[str]

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the field and class of the first bad value."""
        from jointsed.config import ConfigError

        super().validate()
        if len(set(self.classes)) != len(self.classes):
            raise ConfigError("classes: duplicated class name(s)")
        rules = {
            "tag_threshold": (lambda v: _is_number(v) and 0.0 <= v <= 1.0, "in [0, 1]"),
            "median_window": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
                              "an integer >= 1 (frames)"),
            "step_length": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 2,
                            "an integer >= 2 (frames)"),
            "change_threshold": (lambda v: _is_number(v) and 0.0 < v <= 1.0, "in (0, 1]"),
            "merge_gap": (lambda v: _is_number(v) and v >= 0.0, "a number of seconds >= 0"),
            "detection_threshold": (lambda v: _is_number(v) and 0.0 < v <= 1.0, "in (0, 1]"),
            "confidence": (lambda v: v in CONFIDENCES, f"one of {', '.join(CONFIDENCES)}"),
        }
        for name, (ok, rule) in rules.items():
            for c, v in zip(self.classes, getattr(self, name)):
                if not ok(v):
                    raise ConfigError(f"{name} of class {c}: must be {rule}, got {v!r}")

    # ------------------------------------------------------------------ the seam
    def boxes(self, clip_probs: np.ndarray, frame_probs: np.ndarray, frame_hop: float) -> list[Box]:
        """All boxes of one clip, confidences included, sorted by onset then class order.

        Args:
            clip_probs: (C,) clip probabilities.
            frame_probs: (T, C) frame probabilities.
            frame_hop: seconds per frame.
        Returns:
            ``[(onset, offset, label, confidence)]``, times ``frame × hop`` seconds.
        """
        clip_probs, frame_probs = check_clip(clip_probs, frame_probs, len(self.classes))
        found: list[tuple[int, int, int, float]] = []
        for c in range(len(self.classes)):
            if clip_probs[c] < self.tag_threshold[c]:
                continue
            curve = median_filter_rows(frame_probs[None, :, c], self.median_window[c])[0]
            starts, ends, conf = curve_boxes(curve, self.step_length[c], self.change_threshold[c],
                                             self.merge_gap[c], self.confidence[c], frame_hop)
            found.extend(zip(starts.tolist(), [c] * len(starts), ends.tolist(), conf.tolist()))
        found.sort()
        return [(float(frame_times(s, frame_hop)), float(frame_times(e, frame_hop)), self.classes[c], conf)
                for s, c, e, conf in found]

    def events(self, clip_probs: np.ndarray, frame_probs: np.ndarray, frame_hop: float) -> list[Detection]:
        """The boxes whose confidence is at least the class's ``detection_threshold``."""
        index = {c: i for i, c in enumerate(self.classes)}
        return [(on, off, label) for on, off, label, conf in self.boxes(clip_probs, frame_probs, frame_hop)
                if conf >= self.detection_threshold[index[label]]]

    def scores(self, clip_probs: np.ndarray, frame_probs: np.ndarray, frame_hop: float) -> ScoredSegments:
        """The scored segments of the clip (every box, over the clip's ``T × hop`` seconds)."""
        boxes = self.boxes(clip_probs, frame_probs, frame_hop)
        return ScoredSegments(tuple(boxes), float(frame_times(np.asarray(frame_probs).shape[0], frame_hop)))

    # ------------------------------------------------------------------ defaults and search
    @classmethod
    def from_default(cls, default: "PostProcessingParams") -> "SebbPostProcessor":
        """Untuned SEBB for a model whose default is Lin's ``default``: its gating and median
        windows, a step filter as long as the median window (at least 2 frames), δ = 0.2, no
        merging, λ = 0.5, max confidence."""
        n = len(default.classes)
        return cls(
            classes=list(default.classes),
            tag_threshold=[float(t) for t in default.tag_threshold],
            median_window=[int(w) for w in default.median_window],
            step_length=[max(2, int(w)) for w in default.median_window],
            change_threshold=[DEFAULT_CHANGE_THRESHOLD] * n,
            merge_gap=[0.0] * n,
            detection_threshold=[DEFAULT_DETECTION_THRESHOLD] * n,
            confidence=["max"] * n,
        )

    @classmethod
    def grid_class(cls) -> type:
        """The search space's dataclass (:class:`~jointsed.postprocess.tuning_sebb.SebbGrid`)."""
        from jointsed.postprocess.tuning_sebb import SebbGrid

        return SebbGrid

    @classmethod
    def tune(
        cls,
        clip_probs: Mapping[str, np.ndarray],
        frame_probs: Mapping[str, np.ndarray],
        ground_truth: "StrongAnnotations",
        durations: Mapping[str, float] | None,
        frame_hop: float,
        base: "SebbPostProcessor",
        grid: Any = None,
        objective: "str | Metric" = "event_f1",
        progress: bool = True,
    ) -> "TuningResult":
        """Search the SEBB parameters (:func:`jointsed.postprocess.tuning_sebb.tune_sebb`)."""
        from jointsed.postprocess.tuning_sebb import tune_sebb

        return tune_sebb(clip_probs, frame_probs, ground_truth, durations, frame_hop, base, grid,
                         objective=objective, progress=progress)
