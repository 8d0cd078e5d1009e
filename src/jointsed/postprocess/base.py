"""The post-processor seam: what every post-processing method provides, and the registry of methods.

A post-processor turns one clip's network outputs, frame probabilities ``(T, C)`` and clip
probabilities ``(C,)`` at a frame hop, into

* **events** ``[(onset, offset, label)]`` at its operating point (event-, segment-, tagging- and
  intersection-based F1), and
* a **scores form** for the threshold-free metrics (PSDS): either frame scores ``(T, C)`` after
  its own gating / filtering (Lin et al.'s pipeline), or :class:`ScoredSegments`, boxes
  ``(onset, offset, label, confidence)`` (a segment method such as SEBB).

It has a JSON form with a ``"method"`` key (``{"format": ..., "method": "lin", ...}``; files
written before methods existed have no ``"method"`` and are Lin's), per-class parameters for
tables, and a tunable search space (``grid_class()``, the dataclass of its candidate values, and
``tune``). Methods register with
:func:`register_postprocessor`; everything that post-processes (inference, evaluation, the
validation metrics, ``jointsed predict`` / ``tune`` / ``evaluate``, the API, the demo) goes
through this module, so a new method is one module and one registration::

    @register_postprocessor("mine")
    @dataclass
    class Mine(DataclassPostProcessor):
        ...

Built-in methods: Lin's (:class:`jointsed.postprocess.params.PostProcessingParams`) and every
module of :mod:`jointsed.postprocess.methods` (imported on the first registry lookup). A method
defined elsewhere is known once its module is imported.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import pkgutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping, Protocol, Sequence, TypeVar, Union, runtime_checkable

import numpy as np

from jointsed.data.annotations import Event
from jointsed.errors import JointsedError
from jointsed.config import check_nesting
from jointsed.evaluate.box_scores import Box, ScoredSegments
from jointsed.postprocess.bounds import POSTPROCESS_BOUNDS
from jointsed.utils.atomic import atomic_write_json

if TYPE_CHECKING:
    from jointsed.data.annotations import StrongAnnotations
    from jointsed.evaluate.metric_table import Metric
    from jointsed.postprocess.params import PostProcessingParams
    from jointsed.postprocess.tuning_types import TuningResult

#: the ``format`` of every post-processing JSON file (the ``method`` key says which method)
PARAMS_FORMAT = "jointsed.postprocess.params/1"
#: the method of files without a ``method`` key (written before there were methods)
DEFAULT_METHOD = "lin"

#: one detection of a clip: (onset s, offset s, class name)
Detection = tuple[float, float, str]
#: the scores form of one clip: frame scores (T, C) or scored segments
ScoreForm = Union[np.ndarray, ScoredSegments]

__all__ = [
    "Box", "DataclassPostProcessor", "Detection", "PostProcessor", "PostProcessingError", "ScoreForm",
    "ScoredSegments", "check_score_dicts", "clip_events", "detect_events", "frame_form", "frame_forms",
    "load_postprocessor", "postprocessor_class", "postprocessor_from_dict", "postprocessor_to_dict",
    "register_postprocessor", "registered_postprocessors", "save_postprocessor", "score_forms",
]


class PostProcessingError(JointsedError, ValueError):
    """Inputs of the post-processing (scores, labels, parameter files) that cannot be used."""


@runtime_checkable
class PostProcessor(Protocol):
    """What a post-processing method provides (see the module docstring).

    Attributes:
        method: the registered name (``"lin"``, ``"sebb"``), written as the JSON ``method``.
        label: how tables and messages name the method ("Lin et al.'s", "SEBB").
        classes: the class names, in the order of the score columns.
        scores_label: how metrics name its scores form (the ``source`` of PSDS).
        scores_description: what its scores form is (evaluation folders' ``info.json``).
        tag_threshold: per-class clip-probability thresholds: the tagging F1 decision (and the
            method's clip gating, if it gates).
    """

    method: ClassVar[str]
    label: ClassVar[str]
    scores_label: ClassVar[str]
    scores_description: ClassVar[str]
    classes: list[str]
    tag_threshold: list[float]

    def validate(self) -> None:
        """Raise :class:`jointsed.config.ConfigError` naming the first bad value."""

    def events(self, clip_probs: np.ndarray, frame_probs: np.ndarray, frame_hop: float) -> list[Detection]:
        """Detections of one clip: clip ``(C,)`` and frame ``(T, C)`` probabilities -> events."""

    def scores(self, clip_probs: np.ndarray, frame_probs: np.ndarray, frame_hop: float) -> ScoreForm:
        """The clip's scores form: ``(T, C)`` frame scores or :class:`ScoredSegments`."""

    def class_params(self, class_name: str) -> dict[str, Any]:
        """The parameters of one class (tables, tuning reports)."""

    def reordered(self, classes: Sequence[str], source: str = "parameters") -> "PostProcessor":
        """The same post-processor for the columns ``classes`` (the same set, another order)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain-data parameters (without ``method``; :func:`postprocessor_to_dict` adds it)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "PostProcessor":
        """Inverse of :meth:`to_dict` (raises ConfigError naming a bad key)."""

    @classmethod
    def from_default(cls, default: "PostProcessingParams") -> "PostProcessor":
        """The method's untuned starting point for a model whose default (Lin's, with its
        class-wise median windows) is ``default``."""

    @classmethod
    def grid_class(cls) -> type:
        """The dataclass of the search space's candidate values (``jointsed tune --grid`` keys)."""

    @classmethod
    def tune(
        cls,
        clip_probs: Mapping[str, np.ndarray],
        frame_probs: Mapping[str, np.ndarray],
        ground_truth: "StrongAnnotations",
        durations: Mapping[str, float] | None,
        frame_hop: float,
        base: Any,
        grid: Any = None,
        objective: "str | Metric" = "event_f1",
        progress: bool = True,
    ) -> "TuningResult":
        """Search the parameters on a labelled set for ``objective`` (a metric-table entry)."""


# ----------------------------------------------------------------------------------- registry
_REGISTRY: dict[str, type] = {}
_builtins_loaded = False

P = TypeVar("P", bound=type)


def register_postprocessor(name: str) -> Callable[[P], P]:
    """Class decorator: register a post-processing method under ``name`` (its JSON ``method``).

    Raises:
        ValueError: ``name`` is already taken by another class.
    """
    if not isinstance(name, str) or not name or not name.replace("_", "").isalnum():
        raise ValueError(f"a post-processor name is letters, digits and '_', got {name!r}")

    def decorate(cls: P) -> P:
        previous = _REGISTRY.get(name)
        if previous is not None and previous.__qualname__ != cls.__qualname__:
            raise ValueError(f"post-processor {name!r} is already registered ({previous.__module__}.{previous.__qualname__})")
        cls.method = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def _load_builtins() -> None:
    # Lin's class lives in params.py; the other built-in methods are the modules of methods/
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True
    importlib.import_module("jointsed.postprocess.params")
    package = importlib.import_module("jointsed.postprocess.methods")
    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{info.name}")


def registered_postprocessors() -> list[str]:
    """Names of the registered methods, the default (Lin's) first."""
    _load_builtins()
    return sorted(_REGISTRY, key=lambda n: (n != DEFAULT_METHOD, n))


def postprocessor_class(name: str) -> type:
    """The class registered as ``name``.

    Raises:
        PostProcessingError: no such method (the message lists the registered ones).
    """
    _load_builtins()
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise PostProcessingError(
            f"unknown post-processing method {name!r}; registered: {', '.join(registered_postprocessors())}"
        ) from None


# ----------------------------------------------------------------------------------- JSON form
def postprocessor_to_dict(pp: PostProcessor) -> dict[str, Any]:
    """``{"method": ..., **parameters}``: the JSON form of a post-processor."""
    return {"method": pp.method, **pp.to_dict()}


def postprocessor_from_dict(data: Mapping[str, Any], source: str = "parameters") -> PostProcessor:
    """A post-processor from its JSON form; without ``method``, Lin's (the format before methods).

    Raises:
        PostProcessingError: an unknown method.
        ConfigError: a missing, unknown or bad parameter (named, prefixed with ``source``).
    """
    from jointsed.config import ConfigError

    data = dict(data)
    method = data.pop("method", DEFAULT_METHOD)
    cls = postprocessor_class(method)
    try:
        return cls.from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def save_postprocessor(pp: PostProcessor, path: str | Path, info: dict[str, Any] | None = None) -> None:
    """Write ``pp`` (atomically) as JSON; ``info`` (e.g. how it was tuned) is stored under
    ``"info"`` and ignored when loading."""
    pp.validate()
    data: dict[str, Any] = {"format": PARAMS_FORMAT, **postprocessor_to_dict(pp)}
    if info is not None:
        data["info"] = info
    atomic_write_json(path, data)


def read_postprocess_json(path: str | Path) -> dict[str, Any]:
    """The JSON object of a post-processing file, ``format`` checked and removed, ``info`` removed.

    Raises:
        PostProcessingError: missing, unreadable, not JSON, not an object, another format.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        check_nesting(text, str(path), "json")  # json recurses per level: 3,000 end in a RecursionError
        data = json.loads(text)
    except FileNotFoundError:
        raise PostProcessingError(f"{path}: post-processing parameter file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PostProcessingError(f"{path}: cannot be read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise PostProcessingError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise PostProcessingError(f"{path}: expected a JSON object of post-processing parameters")
    fmt = data.pop("format", None)
    if fmt != PARAMS_FORMAT:
        raise PostProcessingError(
            f"{path}: not a post-processing parameter file (format {fmt!r}, expected {PARAMS_FORMAT!r})"
        )
    data.pop("info", None)
    return data


def load_postprocessor(path: str | Path, expected_classes: Sequence[str] | None = None) -> PostProcessor:
    """Read a file written by :func:`save_postprocessor` (or an older Lin file without ``method``).

    With ``expected_classes`` the file must hold exactly these classes; it is reordered to them.
    """
    pp = postprocessor_from_dict(read_postprocess_json(path), source=str(path))
    if expected_classes is not None:
        pp = pp.reordered(expected_classes, source=str(path))
    return pp


# ----------------------------------------------------------------------------------- many clips
def check_score_dicts(clip_probs: Mapping[str, np.ndarray], frame_probs: Mapping[str, np.ndarray]) -> list[str]:
    """The filenames of matching clip/frame score dicts (frame_probs order); error naming the mismatch."""
    missing_clip = [f for f in frame_probs if f not in clip_probs]
    missing_frame = [f for f in clip_probs if f not in frame_probs]
    if missing_clip or missing_frame:
        parts = []
        if missing_clip:
            parts.append(f"{len(missing_clip)} clip(s) without clip probabilities (e.g. {missing_clip[0]})")
        if missing_frame:
            parts.append(f"{len(missing_frame)} clip(s) without frame probabilities (e.g. {missing_frame[0]})")
        raise PostProcessingError("clip and frame scores do not cover the same clips: " + "; ".join(parts))
    return list(frame_probs)


def clip_events(pp: PostProcessor, filename: str, clip_probs: np.ndarray, frame_probs: np.ndarray,
                frame_hop: float) -> list[Event]:
    """:meth:`PostProcessor.events` of one clip as :class:`~jointsed.data.annotations.Event` rows."""
    try:
        detections = pp.events(clip_probs, frame_probs, frame_hop)
    except PostProcessingError as exc:
        raise PostProcessingError(f"{filename}: {exc}") from None
    return [Event(filename, onset, offset, label) for onset, offset, label in detections]


def detect_events(pp: PostProcessor, clip_probs: Mapping[str, np.ndarray], frame_probs: Mapping[str, np.ndarray],
                  frame_hop: float) -> list[Event]:
    """Events of many clips (filename -> ``(C,)`` clip and ``(T, C)`` frame probabilities), clip
    by clip in ``frame_probs`` order."""
    events: list[Event] = []
    for filename in check_score_dicts(clip_probs, frame_probs):
        events.extend(clip_events(pp, filename, clip_probs[filename], frame_probs[filename], frame_hop))
    return events


def score_forms(pp: PostProcessor, clip_probs: Mapping[str, np.ndarray], frame_probs: Mapping[str, np.ndarray],
                frame_hop: float) -> dict[str, ScoreForm]:
    """The scores form of many clips: filename -> ``(T, C)`` frame scores or :class:`ScoredSegments`."""
    out: dict[str, ScoreForm] = {}
    for filename in check_score_dicts(clip_probs, frame_probs):
        try:
            out[filename] = pp.scores(clip_probs[filename], frame_probs[filename], frame_hop)
        except PostProcessingError as exc:
            raise PostProcessingError(f"{filename}: {exc}") from None
    return out


def frame_form(form: ScoreForm, frame_hop: float, n_frames: int, classes: Sequence[str]) -> np.ndarray:
    """A scores form on the frame grid, ``(n_frames, C)`` float32: frame scores as they are, scored
    segments rendered (:meth:`ScoredSegments.to_frames`: each box's confidence over its frames).

    The rendering is exact (the same PSD-ROC as the boxes' own DataFrames) because every box
    boundary must be a frame boundary, which is checked: score files, the evaluation and the
    report all use this one form.

    Raises:
        PostProcessingError: a box boundary off the frame grid (by more than 1e-6 frame).
    """
    if isinstance(form, ScoredSegments):
        for onset, offset, label, _ in form.boxes:
            for t in (onset, offset):
                if abs(t / frame_hop - round(t / frame_hop)) > 1e-6:
                    raise PostProcessingError(
                        f"box of {label} at {t:g} s is not on the {frame_hop:g}-s frame grid; scored segments "
                        "off the grid cannot be written as frame scores"
                    )
        return form.to_frames(frame_hop, n_frames, classes).astype(np.float32)
    return np.asarray(form).astype(np.float32)


def frame_forms(pp: PostProcessor, clip_probs: Mapping[str, np.ndarray], frame_probs: Mapping[str, np.ndarray],
                frame_hop: float) -> dict[str, np.ndarray]:
    """:func:`score_forms` on the frame grid (:func:`frame_form`): filename -> ``(T, C)`` float32,
    the scores ``jointsed evaluate --run`` computes PSDS from and ``predict --scores`` writes."""
    return {name: frame_form(form, frame_hop, np.asarray(frame_probs[name]).shape[0], pp.classes)
            for name, form in score_forms(pp, clip_probs, frame_probs, frame_hop).items()}


# ----------------------------------------------------------------------------------- a base class
class DataclassPostProcessor:
    """Defaults for a post-processor that is a dataclass with ``classes`` and per-class lists.

    Provides :meth:`to_dict` / :meth:`from_dict` (validated by :func:`jointsed.config.from_dict`),
    :meth:`class_params`, :meth:`reordered` (every field listed in ``per_class_fields``),
    :meth:`from_default` (``cls(classes=default.classes)``) and a :meth:`tune` that says the
    method has no search. The subclass provides ``tag_threshold`` (a per-class field, or a
    property), :meth:`events` and :meth:`scores`.
    """

    method: ClassVar[str]
    label: ClassVar[str] = "custom"
    scores_label: ClassVar[str] = "post-processed scores"
    scores_description: ClassVar[str] = "post-processed scores"
    per_class_fields: ClassVar[tuple[str, ...]] = ()
    #: value ranges of the per-class lists, checked on load (jointsed.config.from_dict)
    BOUNDS: ClassVar[dict[str, Any]] = POSTPROCESS_BOUNDS
    classes: list[str]

    def validate(self) -> None:
        from jointsed.config import ConfigError

        if not self.classes:
            raise ConfigError("classes: at least one class is needed")
        for name in self.per_class_fields:
            if len(getattr(self, name)) != len(self.classes):
                raise ConfigError(f"{name}: expected one value per class ({len(self.classes)}), "
                                  f"got {len(getattr(self, name))}")

    def to_dict(self) -> dict[str, Any]:
        from jointsed.config import to_dict

        return to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Any:
        from jointsed.config import from_dict

        return from_dict(cls, dict(data))

    def class_params(self, class_name: str) -> dict[str, Any]:
        if class_name not in self.classes:
            raise PostProcessingError(f"unknown class {class_name!r} (classes: {self.classes})")
        i = self.classes.index(class_name)
        return {name: getattr(self, name)[i] for name in self.per_class_fields}

    def reordered(self, classes: Sequence[str], source: str = "parameters") -> Any:
        classes = list(classes)
        if sorted(classes) != sorted(self.classes) or len(classes) != len(self.classes):
            raise PostProcessingError(
                f"{source}: made for the classes [{', '.join(self.classes)}] but the model has the "
                f"classes [{', '.join(classes)}]; tune the post-processing again for this model"
            )
        order = [self.classes.index(c) for c in classes]
        lists = {name: [getattr(self, name)[i] for i in order] for name in self.per_class_fields}
        return dataclasses.replace(self, classes=classes, **lists)  # type: ignore[type-var]

    @classmethod
    def from_default(cls, default: "PostProcessingParams") -> Any:
        return cls(classes=list(default.classes))  # type: ignore[call-arg]

    @classmethod
    def grid_class(cls) -> type:
        raise PostProcessingError(f"post-processing method {cls.method!r} has no search space to tune")

    @classmethod
    def tune(cls, *args: Any, **kwargs: Any) -> "TuningResult":
        raise PostProcessingError(f"post-processing method {cls.method!r} has no search space to tune")
