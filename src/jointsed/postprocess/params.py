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
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from jointsed.config import ConfigError, from_dict, to_dict
from jointsed.errors import JointsedError
from jointsed.utils.atomic import atomic_write_json

PARAMS_FORMAT = "jointsed.postprocess.params/1"
PER_CLASS_FIELDS = ("tag_threshold", "frame_threshold", "median_window", "min_duration", "max_gap")


class PostProcessingError(JointsedError, ValueError):
    """Inputs of the post-processing (scores, labels, parameter files) that cannot be used."""


@dataclass
class PostProcessingParams:
    """Per-class post-processing parameters; every list is aligned with ``classes``."""

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

    # ------------------------------------------------------------------ files
    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    def save_json(self, path: str | Path, info: dict[str, Any] | None = None) -> None:
        """Write the parameters (atomically) as JSON; ``info`` (e.g. tuning scores) is stored too
        under the key ``"info"`` and ignored when loading."""
        self.validate()
        data: dict[str, Any] = {"format": PARAMS_FORMAT, **self.to_dict()}
        if info is not None:
            data["info"] = info
        atomic_write_json(path, data)

    @classmethod
    def load_json(
        cls, path: str | Path, expected_classes: Sequence[str] | None = None
    ) -> "PostProcessingParams":
        """Read parameters written by :meth:`save_json`.

        With ``expected_classes``, the file must hold exactly these classes; if it lists them in
        another order, the parameters are reordered to ``expected_classes``.

        Raises:
            PostProcessingError: the file is missing, not JSON, of another format, or made for
                another class list (the message names both lists).
            ConfigError: a value is missing, of the wrong type or out of range (names the key).
        """
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise PostProcessingError(f"{path}: post-processing parameter file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise PostProcessingError(f"{path}: cannot be read ({exc})") from None
        except json.JSONDecodeError as exc:
            raise PostProcessingError(
                f"{path}, line {exc.lineno}: not valid JSON ({exc.msg})"
            ) from None
        if not isinstance(data, dict):
            raise PostProcessingError(f"{path}: expected a JSON object of post-processing parameters")
        fmt = data.pop("format", None)
        if fmt != PARAMS_FORMAT:
            raise PostProcessingError(
                f"{path}: not a post-processing parameter file (format {fmt!r}, expected {PARAMS_FORMAT!r})"
            )
        data.pop("info", None)
        try:
            params = from_dict(cls, data)
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
