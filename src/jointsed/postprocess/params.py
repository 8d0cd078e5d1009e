"""Per-class post-processing parameters (DESIGN §1 and §4) and their JSON file.

One :class:`PostProcessingParams` holds, for every class ``c`` (lists in ``classes`` order):

* ``tag_threshold`` τ_c — clip gating: a class whose clip probability is below τ_c gets no event
  in that clip (Lin et al. zero its frames; with θ_c > 0 this is the same thing);
* ``frame_threshold`` θ_c — a frame is active when its (median-filtered) probability is ≥ θ_c;
* ``median_window`` w_c — median filter length in frames, applied to the probabilities and again
  to the binary activity. Any w ≥ 1 is allowed; w = 1 switches filtering off. Like Lin's code
  (``scipy.ndimage.median_filter``, mode ``reflect``) an even window is used as it is: it covers
  frames ``t - w//2 … t + w - w//2 - 1`` (one more frame before t than after) and yields the upper
  of the two middle values; on binary activity a frame is on when at least ``ceil(w / 2)`` of
  the window's frames are on;
* ``min_duration`` (s) — after gap filling, drop events shorter than this (0 = off);
* ``max_gap`` (s) — join two events of one class separated by a gap shorter than this (0 = off).

Lin et al.'s DCASE 2019 post-processing is τ = θ = 0.5, Lin's w_c (see :mod:`.lin`), no minimum
duration and no gap filling. The event-specific post-processing of Liang et al. (arXiv
2103.12388; our formulation, DESIGN §4) tunes all of them per class (see :mod:`.tuning`).

The class is the ``"lin"`` method of the post-processor seam (:mod:`.base`); its JSON file is
``{"format": ..., "method": "lin", "classes": [...], "tag_threshold": [...], ...}``, and a file
without ``"method"`` (written before there were methods) is read as Lin's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Sequence

import numpy as np

from jointsed.config import ConfigError, from_dict as _from_dict, to_dict
from jointsed.postprocess.bounds import POSTPROCESS_BOUNDS
from jointsed.postprocess.base import (  # noqa: F401 (PARAMS_FORMAT, PostProcessingError: re-exported)
    DEFAULT_METHOD,
    PARAMS_FORMAT,
    Detection,
    PostProcessingError,
    read_postprocess_json,
    register_postprocessor,
    save_postprocessor,
)

if TYPE_CHECKING:
    from jointsed.data.annotations import StrongAnnotations
    from jointsed.evaluate.metric_table import Metric
    from jointsed.postprocess.tuning_types import TuningResult

PER_CLASS_FIELDS = ("tag_threshold", "frame_threshold", "median_window", "min_duration", "max_gap")


@register_postprocessor(DEFAULT_METHOD)
@dataclass
class PostProcessingParams:
    """Lin et al.'s post-processor: per-class parameters, every list aligned with ``classes``.

    It is the ``"lin"`` method of the post-processor seam (:mod:`jointsed.postprocess.base`):
    :meth:`events` runs the pipeline of :mod:`jointsed.postprocess.apply` (gating, median filter,
    threshold, median filter, gap filling, minimum length, runs -> events), :meth:`scores` its
    score-level part (gating + first median filter, ``(T, C)``), :meth:`tune` the event-specific
    search of :mod:`jointsed.postprocess.tuning`.
    """

    method: ClassVar[str]
    label: ClassVar[str] = "Lin et al.'s"
    scores_label: ClassVar[str] = "post-processed frame scores"
    scores_description: ClassVar[str] = "post-processed frame scores (tag gating + median filter)"
    #: value ranges of the per-class lists, checked on load (jointsed.config.from_dict)
    BOUNDS: ClassVar[dict[str, Any]] = POSTPROCESS_BOUNDS

    classes: list[str]
    tag_threshold: list[float]
    frame_threshold: list[float]
    median_window: list[int]
    min_duration: list[float] = field(default_factory=list)
    max_gap: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        # min_duration / max_gap default to "off" for every class
        if not self.min_duration:
            self.min_duration = [0.0] * len(self.classes)
        if not self.max_gap:
            self.max_gap = [0.0] * len(self.classes)

    # ------------------------------------------------------------------ construction
    @classmethod
    def uniform(
        cls,
        classes: Sequence[str],
        tag_threshold: float = 0.5,
        frame_threshold: float = 0.5,
        median_window: int = 1,
        min_duration: float = 0.0,
        max_gap: float = 0.0,
    ) -> "PostProcessingParams":
        """The same values for every class."""
        n = len(classes)
        params = cls(
            classes=list(classes),
            tag_threshold=[float(tag_threshold)] * n,
            frame_threshold=[float(frame_threshold)] * n,
            median_window=[int(median_window)] * n,
            min_duration=[float(min_duration)] * n,
            max_gap=[float(max_gap)] * n,
        )
        params.validate()
        return params

    def replace_class(self, class_index: int, **values: Any) -> "PostProcessingParams":
        """Copy with some parameters of class ``class_index`` changed (e.g. ``median_window=5``)."""
        unknown = sorted(set(values) - set(PER_CLASS_FIELDS))
        if unknown:
            raise ConfigError(f"unknown per-class parameter(s): {', '.join(unknown)}")
        lists = {name: list(getattr(self, name)) for name in PER_CLASS_FIELDS}
        for name, value in values.items():
            lists[name][class_index] = value
        new = PostProcessingParams(classes=list(self.classes), **lists)
        new.validate()
        return new

    def class_params(self, class_name: str) -> dict[str, float | int]:
        """The parameters of one class as a dict (for tables and logs)."""
        if class_name not in self.classes:
            raise PostProcessingError(f"unknown class {class_name!r} (classes: {self.classes})")
        i = self.classes.index(class_name)
        return {name: getattr(self, name)[i] for name in PER_CLASS_FIELDS}

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the field and class of the first bad value."""
        if not self.classes:
            raise ConfigError("classes: at least one class is needed")
        if len(set(self.classes)) != len(self.classes):
            dup = sorted({c for c in self.classes if self.classes.count(c) > 1})
            raise ConfigError(f"classes: duplicated class name(s) {', '.join(dup)}")
        n = len(self.classes)
        for name in PER_CLASS_FIELDS:
            values = getattr(self, name)
            if len(values) != n:
                raise ConfigError(
                    f"{name}: expected one value per class ({n} classes: {', '.join(self.classes)}), "
                    f"got {len(values)} value(s)"
                )
        for name, values in ((n_, getattr(self, n_)) for n_ in PER_CLASS_FIELDS):
            for c, v in zip(self.classes, values):
                if name == "median_window":
                    ok = isinstance(v, int) and not isinstance(v, bool) and v >= 1
                    rule = "an integer >= 1 (frames)"
                elif name == "tag_threshold":
                    ok = _is_number(v) and 0.0 <= v <= 1.0
                    rule = "in [0, 1]"
                elif name == "frame_threshold":
                    ok = _is_number(v) and 0.0 < v <= 1.0
                    rule = "in (0, 1]"
                else:
                    ok = _is_number(v) and v >= 0.0
                    rule = "a number of seconds >= 0"
                if not ok:
                    raise ConfigError(f"{name} of class {c}: must be {rule}, got {v!r}")

    # ------------------------------------------------------------------ the seam
    def events(self, clip_probs: np.ndarray, frame_probs: np.ndarray, frame_hop: float) -> list[Detection]:
        """Events of one clip (:func:`~jointsed.postprocess.apply.binarize`, then runs -> events).

        Args:
            clip_probs: (C,) clip probabilities.
            frame_probs: (T, C) frame probabilities.
            frame_hop: seconds per frame.
        Returns:
            ``[(onset, offset, label)]`` sorted by onset, then class order.
        """
        from jointsed.postprocess.apply import binarize, frames_to_events

        active = binarize(clip_probs, frame_probs, self, frame_hop)
        return [(e.onset, e.offset, e.event_label) for e in frames_to_events(active, "", frame_hop, self.classes)]

    def scores(self, clip_probs: np.ndarray, frame_probs: np.ndarray, frame_hop: float) -> np.ndarray:
        """(T, C) float64 frame scores for the threshold-free metrics: gating + first median filter
        (:func:`~jointsed.postprocess.apply.postprocess_frame_scores`)."""
        from jointsed.postprocess.apply import postprocess_frame_scores

        return postprocess_frame_scores(clip_probs, frame_probs, self)

    @classmethod
    def from_default(cls, default: "PostProcessingParams") -> "PostProcessingParams":
        """Lin's starting point is the model's default itself."""
        return default

    @classmethod
    def grid_class(cls) -> type:
        """The search space's dataclass (:class:`~jointsed.postprocess.tuning_types.TuningGrid`)."""
        from jointsed.postprocess.tuning_types import TuningGrid

        return TuningGrid

    @classmethod
    def tune(
        cls,
        clip_probs: Mapping[str, np.ndarray],
        frame_probs: Mapping[str, np.ndarray],
        ground_truth: "StrongAnnotations",
        durations: Mapping[str, float] | None,
        frame_hop: float,
        base: "PostProcessingParams",
        grid: Any = None,
        objective: "str | Metric" = "event_f1",
        progress: bool = True,
    ) -> "TuningResult":
        """Event-specific tuning (:func:`jointsed.postprocess.tuning.tune_event_specific`)."""
        from jointsed.postprocess.tuning import tune_event_specific

        return tune_event_specific(clip_probs, frame_probs, ground_truth, durations, frame_hop, base,
                                   grid=grid, objective=objective, progress=progress)

    # ------------------------------------------------------------------ files
    def to_dict(self) -> dict[str, Any]:
        """The five per-class lists and ``classes`` (the JSON form without ``method``)."""
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "PostProcessingParams":
        """Inverse of :meth:`to_dict` (validated; ConfigError naming the key)."""
        return _from_dict(cls, dict(data))

    def save_json(self, path: str | Path, info: dict[str, Any] | None = None) -> None:
        """Write the parameters (atomically) as JSON (``"method": "lin"``); ``info`` (e.g. tuning
        scores) is stored too under the key ``"info"`` and ignored when loading."""
        save_postprocessor(self, path, info)

    @classmethod
    def load_json(
        cls, path: str | Path, expected_classes: Sequence[str] | None = None
    ) -> "PostProcessingParams":
        """Read parameters written by :meth:`save_json` (or by jointsed before post-processing
        methods existed: no ``method`` key). A file of another method is an error (read any method
        with :func:`jointsed.postprocess.base.load_postprocessor`).

        With ``expected_classes``, the file must hold exactly these classes; if it lists them in
        another order, the parameters are reordered to ``expected_classes``.

        Raises:
            PostProcessingError: the file is missing, not JSON, of another format or method, or
                made for another class list (the message names both lists).
            ConfigError: a value is missing, of the wrong type or out of range (names the key).
        """
        path = Path(path)
        data = read_postprocess_json(path)
        method = data.pop("method", DEFAULT_METHOD)
        if method != DEFAULT_METHOD:
            raise PostProcessingError(
                f"{path}: holds the {method!r} post-processing, not Lin's parameters "
                "(jointsed.postprocess.base.load_postprocessor reads any method)"
            )
        try:
            params = cls.from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        if expected_classes is not None:
            params = params.reordered(expected_classes, source=str(path))
        return params

    def reordered(self, classes: Sequence[str], source: str = "parameters") -> "PostProcessingParams":
        """The same parameters in the order of ``classes`` (which must be the same set)."""
        classes = list(classes)
        if sorted(classes) != sorted(self.classes) or len(classes) != len(self.classes):
            raise PostProcessingError(
                f"{source}: made for the classes [{', '.join(self.classes)}] but the model has the "
                f"classes [{', '.join(classes)}]; tune the post-processing again for this model"
            )
        order = [self.classes.index(c) for c in classes]
        return PostProcessingParams(
            classes=classes,
            **{name: [getattr(self, name)[i] for i in order] for name in PER_CLASS_FIELDS},
        )


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v  # v == v: not NaN
