"""The tables of a comparison (``OUT/comparison.md``, printed by ``jointsed compare``): per
held-out set, each row's mean ± standard deviation over seeds and its training budget; then each
effect with its 95 % interval and what the interval says."""

from __future__ import annotations

from typing import Any

from jointsed.pipeline.compare_plan import ComparisonPlan

#: column title and whether the metric is shown in percent
COLUMNS = {
    "event_f1": ("event F1 (%)", True),
    "segment_f1": ("segment F1 (%)", True),
    "at_f1": ("AT F1 (%)", True),
    "intersection_f1": ("intersection F1 (%)", True),
    "psds1": ("PSDS1", False),
    "psds2": ("PSDS2", False),
}


def _cell(summary: dict[str, Any], percent: bool) -> str:
    if summary.get("mean") is None:
        return "–"
    scale, digits = (100.0, 1) if percent else (1.0, 3)
    mean = f"{scale * summary['mean']:.{digits}f}"
    return mean if summary["n"] < 2 else f"{mean} ± {scale * summary['std']:.{digits}f}"


def _interval(effect: dict[str, Any] | None, percent: bool) -> tuple[str, str, str]:
    if effect is None:
        return "–", "–", "–"
    scale, digits = (100.0, 1) if percent else (1.0, 3)
    low, high = effect["ci95"]
    fmt = lambda v: "∞" if v == float("inf") else ("-∞" if v == float("-inf") else f"{scale * v:+.{digits}f}")  # noqa: E731
    return f"{scale * effect['estimate']:+.{digits}f}", f"[{fmt(low)}, {fmt(high)}]", effect["verdict"]


def markdown(plan: ComparisonPlan, results: dict[str, Any]) -> str:
    lines: list[str] = []
    for test in plan.test_sets:
        lines += [f"### Held-out set `{test}`", "",
                  "| system | seeds | " + " | ".join(title for title, _ in COLUMNS.values())
                  + " | clip presentations | training time (s) |",
                  "|---|---:|" + "---:|" * len(COLUMNS) + "---:|---:|"]
        for row, entry in results["rows"].items():
            summary = entry["summary"][test]
            budgets = [s["budget"] for s in entry["seeds"].values()]
            presentations = sum(b["clip_presentations"] for b in budgets) / max(1, len(budgets))
            seconds = sum(b["seconds"] for b in budgets) / max(1, len(budgets))
            cells = [_cell(summary[m], pct) for m, (_, pct) in COLUMNS.items()]
            lines.append(f"| {entry['label']} | {len(entry['seeds'])} | " + " | ".join(cells)
                         + f" | {presentations:,.0f} | {seconds:.0f} |")
        lines.append("")
        if plan.effects:
            lines += ["| effect (treatment − control) | metric | estimate | 95 % interval | verdict |",
                      "|---|---|---:|---|---|"]
            for name, entry in results["effects"].items():
                for metric, (title, pct) in COLUMNS.items():
                    effect = entry["test_sets"][test].get(metric)
                    if effect is None:
                        continue
                    estimate, interval, verdict = _interval(effect, pct)
                    lines.append(f"| {entry['label']} | {title} | {estimate} | {interval} | {verdict} |")
            lines += ["", "Intervals: event, segment and AT F1 by a paired bootstrap over test clips combined with a "
                      "bootstrap over each system's seeds; intersection F1 and PSDS by Welch's t over seeds (they "
                      "are not sums over clips, so their intervals do not include the test-clip noise).", ""]
    return "\n".join(lines).rstrip() + "\n"
