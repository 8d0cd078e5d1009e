"""What ``jointsed demo`` did and its final table (Lin's defaults vs tuned vs held-out)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

from jointsed.evaluate.metric_table import FAMILIES, PSDS_FAMILIES
from jointsed.postprocess.tuning_types import TuningResult

#: (label, metrics.json family, key) of the summary table: every family of the metric table, its
#: first overall key (the macro F1; PSDS: its value)
SUMMARY_ROWS: tuple[tuple[str, str, str], ...] = tuple(
    (f"{f.short_label}, macro %" if f.kind == "f_scores" else f.short_label, f.name, f.overall_keys[0])
    for f in FAMILIES
)


@dataclass
class DemoStep:
    name: str
    seconds: float
    note: str = ""


@dataclass
class DemoResult:
    """What :func:`run_demo` did: folders, metrics (Lin's defaults and tuned), step times."""

    out: Path
    data_root: Path
    run_dir: Path
    model_run: Path
    recipe: Path
    default_metrics: dict[str, Any]
    tuned_metrics: dict[str, Any]
    tuning: Optional[TuningResult]
    report: Path
    steps: list[DemoStep]
    #: tuned post-processing scored on the dataset's held-out eval split (None: no such split)
    heldout_metrics: Optional[dict[str, Any]] = None

    @property
    def total_seconds(self) -> float:
        return sum(s.seconds for s in self.steps)

    def summary(self) -> str:
        """The final table: default vs tuned metrics, honesty notes, step times, report path."""
        return format_demo_summary(self)


def _metric(metrics: Mapping[str, Any], family: str, key: str) -> Optional[float]:
    entry = metrics.get(family)
    if not isinstance(entry, Mapping):
        return None
    value = entry.get(key)
    return None if value is None else float(value)


def format_demo_summary(result: DemoResult) -> str:
    def cell(value: Optional[float], psds: bool) -> str:
        if value is None:
            return "-"
        return f"{value:.3f}" if psds else f"{100 * value:.1f}"

    split = result.tuned_metrics.get("split", "validation")
    n_clips = result.tuned_metrics.get("n_clips", "?")
    held = result.heldout_metrics
    lines = [
        "",
        f"jointsed demo: {split} set of the synthetic dataset ({n_clips} clips)"
        + (f" and its held-out eval split ({held.get('n_clips', '?')} clips)" if held else ""),
        f"{'Metric':<28}{'Lin default':>12}{'tuned':>10}" + (f"{'held-out':>10}" if held else ""),
        "-" * (60 if held else 50),
    ]
    for label, family, key in SUMMARY_ROWS:
        psds = family in PSDS_FAMILIES
        lines.append(
            f"{label:<28}{cell(_metric(result.default_metrics, family, key), psds):>12}"
            f"{cell(_metric(result.tuned_metrics, family, key), psds):>10}"
            + (f"{cell(_metric(held, family, key), psds):>10}" if held else "")
        )
    left_out = result.tuned_metrics.get("classes_without_ground_truth")
    lines += [
        "",
        f"'Lin default' and 'tuned' are scored on the {split} set. The post-processing was tuned on this",
        f"same {split} set, so 'tuned' is optimistic ('Lin default': Lin et al.'s untuned thresholds 0.5",
        "and class-wise median windows).",
    ]
    if held:
        lines += [
            "'held-out' is the fair figure: the tuned model scored on clips it never saw, in training or",
            "tuning (the dataset's eval split, laid out like DESED's public evaluation set).",
        ]
    lines += [
        "Synthetic data: these numbers say the pipeline works, not how the system does on real DESED",
        "audio.",
    ]
    if left_out:
        lines.append(f"PSDS covers the classes with ground-truth events (without: {', '.join(left_out)}).")
    lines += ["", f"{'Step':<28}{'seconds':>10}  note", "-" * 60]
    for step in result.steps:
        lines.append(f"{step.name:<28}{step.seconds:>10.1f}  {step.note}")
    lines.append(f"{'total':<28}{result.total_seconds:>10.1f}")
    lines += [
        "",
        f"model: {result.model_run} (recipe {result.recipe})",
        f"report: {result.report}",
    ]
    return "\n".join(lines)
