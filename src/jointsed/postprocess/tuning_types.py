"""Types of the post-processing tuning: the candidate grid and the result.

* :class:`TuningGrid` — the candidate values of the per-class search (a config section);
* :class:`ClassTuning` — one class's outcome (base vs. tuned objective value and parameters);
* :class:`TuningResult` — tuned parameters plus the per-class table, its text/JSON forms (for
  any post-processing method of :mod:`jointsed.postprocess.base`).

Lin's search itself is :func:`jointsed.postprocess.tuning.tune_event_specific`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from jointsed.config import Bound, ConfigError, to_dict
from jointsed.postprocess.bounds import GRID_BOUNDS, MAX_MEDIAN_WINDOW, check_grid_size
from jointsed.postprocess.base import PostProcessor, postprocessor_to_dict, save_postprocessor


def _default_thresholds() -> list[float]:
    return [round(0.1 * i, 1) for i in range(1, 10)]


@dataclass
class TuningGrid:
    """Candidate values of the per-class search (a config section: ``jointsed.config.from_dict``).

    Attributes:
        tag_thresholds: candidate τ_c.
        frame_thresholds: candidate θ_c (event_f1 only).
        window_factors: candidate windows are ``max(1, round(factor × base w_c))``.
        add_window_one: also try w = 1 (no median filtering).
        max_gaps: candidate gap-filling lengths in seconds (event_f1 only; ``[0.0]`` = off).
        min_durations: candidate minimum event lengths in seconds (event_f1 only; ``[0.0]`` = off).
        psds_rounds: maximum coordinate-ascent sweeps over the classes (psds1 only).

    The base parameters' own values are always added to these lists.
    """

    tag_thresholds: list[float] = field(default_factory=_default_thresholds)
    frame_thresholds: list[float] = field(default_factory=_default_thresholds)
    window_factors: list[float] = field(default_factory=lambda: [0.25, 0.5, 1.0, 1.5, 2.0])
    add_window_one: bool = True
    max_gaps: list[float] = field(default_factory=lambda: [0.0])
    min_durations: list[float] = field(default_factory=lambda: [0.0])
    psds_rounds: int = 3
    #: value ranges and list lengths, checked on load (jointsed.config.from_dict)
    BOUNDS: ClassVar[dict[str, Bound]] = GRID_BOUNDS

    def validate(self) -> None:
        # the event_f1 search scores every combination (the base value added to each list)
        check_grid_size({"tag thresholds": len(self.tag_thresholds) + 1,
                         "frame thresholds": len(self.frame_thresholds) + 1,
                         "windows": len(self.window_factors) + 2, "gaps": len(self.max_gaps) + 1,
                         "minimum durations": len(self.min_durations) + 1})
        checks = (
            ("tag_thresholds", lambda v: 0.0 <= v <= 1.0, "in [0, 1]"),
            ("frame_thresholds", lambda v: 0.0 < v <= 1.0, "in (0, 1]"),
            ("window_factors", lambda v: v > 0.0, "> 0"),
            ("max_gaps", lambda v: v >= 0.0, ">= 0 seconds"),
            ("min_durations", lambda v: v >= 0.0, ">= 0 seconds"),
        )
        for name, ok, rule in checks:
            values = getattr(self, name)
            if not values:
                raise ConfigError(f"{name}: give at least one value")
            for i, v in enumerate(values):
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or not ok(v):
                    raise ConfigError(f"{name}[{i}]: must be {rule}, got {v!r}")
        if isinstance(self.psds_rounds, bool) or not isinstance(self.psds_rounds, int) or self.psds_rounds < 1:
            raise ConfigError(f"psds_rounds: must be an integer >= 1, got {self.psds_rounds!r}")

    def windows_for(self, base_window: int) -> list[int]:
        """Candidate median windows of a class whose base window is ``base_window`` (ascending)."""
        windows = {int(base_window)} | {min(MAX_MEDIAN_WINDOW, max(1, math.floor(f * base_window + 0.5)))
                                        for f in self.window_factors}
        if self.add_window_one:
            windows.add(1)
        return sorted(windows)


@dataclass
class ClassTuning:
    """Outcome of the search for one class: objective value with the base and tuned parameters."""

    class_name: str
    n_ref: int
    n_candidates: int
    default_value: float
    tuned_value: float
    default: dict[str, float | int]
    tuned: dict[str, float | int]


@dataclass
class TuningResult:
    """Tuned parameters plus the per-class table of tuned vs. base (default) objective values.

    ``params`` and ``base_params`` are post-processors of one method (Lin's
    :class:`~jointsed.postprocess.params.PostProcessingParams`, SEBB, ...); ``objective`` is the
    name of a metric-table entry (:mod:`jointsed.evaluate.metric_table`).
    """

    params: PostProcessor
    base_params: PostProcessor
    objective: str
    per_class: list[ClassTuning]
    default_score: float  # the objective (macro event F1, PSDS1, ...) with the base parameters
    tuned_score: float
    n_clips: int
    n_candidates: int
    elapsed_s: float

    def to_dataframe(self) -> pd.DataFrame:
        """One row per class: n_ref, default/tuned value and the tuned parameters."""
        rows = []
        for ct in self.per_class:
            rows.append(
                {
                    "class": ct.class_name,
                    "n_ref": ct.n_ref,
                    "default": ct.default_value,
                    "tuned": ct.tuned_value,
                    **ct.tuned,
                }
            )
        return pd.DataFrame(rows)

    def table(self) -> str:
        """Readable text table (values in %) with the overall score last."""
        df = self.to_dataframe()
        for col in ("default", "tuned"):
            df[col] = (100 * df[col]).map(lambda v: f"{v:6.2f}" if v == v else "   n/a")
        text = df.to_string(index=False)
        from jointsed.evaluate.metric_table import METRICS

        metric = METRICS.get(self.objective)
        name = metric.label if metric is not None else self.objective
        return (
            f"{text}\n{name}: default {100 * self.default_score:.2f} % -> tuned "
            f"{100 * self.tuned_score:.2f} % ({self.n_clips} clips, {self.n_candidates} candidates, "
            f"{self.elapsed_s:.1f} s)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "objective": self.objective,
            "default_score": self.default_score,
            "tuned_score": self.tuned_score,
            "n_clips": self.n_clips,
            "n_candidates": self.n_candidates,
            "elapsed_s": self.elapsed_s,
            "per_class": [to_dict(ct) for ct in self.per_class],
            "base_params": postprocessor_to_dict(self.base_params),
        }

    def save_json(self, path: str | Path) -> None:
        """Save the tuned parameters (loadable by :func:`jointsed.postprocess.base.load_postprocessor`)
        with this result as ``info``."""
        save_postprocessor(self.params, path, info=self.to_dict())
