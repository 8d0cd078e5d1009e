"""One call that evaluates a system output with every DCASE Task 4 metric, and a readable table.

Which metric comes from which input:

* a detection table (one operating point, e.g. ``predictions_0.5.tsv``): event-based,
  segment-based, tagging and intersection-based F-scores (``sed_eval`` / ``psds_eval``);
* a folder of detection tables (operating points): PSDS1 and PSDS2 (``psds_eval``);
* a folder of frame-score files: PSDS1 and PSDS2 (``sed_scores_eval``, threshold-free), plus the
  F-scores at ``threshold`` for any family no detection table provided.

So given both a detection table and scores, the F-scores come from the table; given both
operating points and scores, PSDS comes from the operating points.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from jointsed.data.classes import DESED_CLASSES
from jointsed.evaluate.event_based import event_based_fscores, event_based_fscores_from_scores
from jointsed.evaluate.intersection import (
    PSDS1,
    PSDS2,
    intersection_fscores,
    intersection_fscores_from_scores,
    psds_from_operating_points,
    psds_from_scores,
)
from jointsed.evaluate.io import (
    EvaluationError,
    _read_detections,
    detect_prediction_kind,
    load_reference,
    read_frame_scores,
    read_operating_points,
)
from jointsed.evaluate.segment_based import segment_based_fscores, segment_based_fscores_from_scores
from jointsed.evaluate.tagging import tagging_fscores, tags_from_detections, tags_from_scores

F_FAMILIES = ("event_based", "segment_based", "tagging", "intersection")
PSDS_NAMES = ("psds1", "psds2")

PathLike = str | os.PathLike


def evaluate_run(
    ground_truth_tsv: PathLike,
    durations_tsv: PathLike,
    predictions: PathLike | Sequence[PathLike] | None = None,
    *,
    operating_points: PathLike | None = None,
    scores: PathLike | None = None,
    classes: Sequence[str] = DESED_CLASSES,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """Evaluate system outputs against a ground truth.

    Args:
        ground_truth_tsv: strong-label tsv of the evaluation set.
        durations_tsv: ``filename duration`` tsv covering every ground-truth clip.
        predictions: a detection table, a folder of operating-point tables or a folder of
            frame-score files (kind detected from the contents), or a list of such (one per kind).
        operating_points: folder of operating-point tables (explicit kind).
        scores: folder of frame-score files (explicit kind).
        classes: class list (official order).
        threshold: decision threshold for the F-scores computed from frame scores.

    Returns:
        A JSON-ready dict: ``event_based``, ``segment_based``, ``tagging``, ``intersection``
        (F-score results, see ``jointsed.evaluate.results``, each with a ``source``), ``psds1``,
        ``psds2``, plus ``inputs``, ``n_clips``, ``classes``, ``seconds`` (time per metric).
    """
    inputs: dict[str, Path | None] = {"detections": None, "operating_points": None, "scores": None}
    if predictions is not None:
        items = [predictions] if isinstance(predictions, (str, os.PathLike)) else list(predictions)
        for item in items:
            _set_input(inputs, detect_prediction_kind(item), item)
    if operating_points is not None:
        _set_input(inputs, "operating_points", operating_points)
    if scores is not None:
        _set_input(inputs, "scores", scores)
    if not any(inputs.values()):
        raise EvaluationError("nothing to evaluate: give predictions, operating points or scores")

    seconds: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        value = fn()
        seconds[name] = round(time.perf_counter() - start, 3)
        return value

    reference = timed(
        "read_ground_truth", lambda: load_reference(ground_truth_tsv, durations_tsv, classes)
    )
    results: dict[str, Any] = {
        "ground_truth": str(ground_truth_tsv),
        "durations": str(durations_tsv),
        "inputs": {k: (str(v) if v is not None else None) for k, v in inputs.items()},
        "n_clips": len(reference.events),
        "ground_truth_events_merged": reference.merged_events,
        "classes": list(reference.classes),
        "threshold": threshold,
    }

    if inputs["detections"] is not None:
        detections, outside = timed(
            "read_detections", lambda: _read_detections(inputs["detections"], reference)
        )
        results["clips_outside_ground_truth"] = len(outside)
        source = f"detections ({Path(inputs['detections']).name})"
        results["event_based"] = timed(
            "event_based", lambda: event_based_fscores(reference, detections)
        )
        results["segment_based"] = timed(
            "segment_based", lambda: segment_based_fscores(reference, detections)
        )
        results["tagging"] = timed(
            "tagging",
            lambda: tagging_fscores(
                reference.tags(), tags_from_detections(detections), list(reference.classes)
            ),
        )
        results["intersection"] = timed(
            "intersection", lambda: intersection_fscores(reference, detections)
        )
        for family in F_FAMILIES:
            results[family]["source"] = source

    if inputs["operating_points"] is not None:
        points = timed(
            "read_operating_points",
            lambda: read_operating_points(inputs["operating_points"], reference),
        )
        for name, settings in (("psds1", PSDS1), ("psds2", PSDS2)):
            results[name] = timed(
                name, lambda s=settings: psds_from_operating_points(reference, points, s)
            )
            results[name]["source"] = f"operating points ({len(points)})"

    if inputs["scores"] is not None:
        frame_scores = timed("read_scores", lambda: read_frame_scores(inputs["scores"], reference))
        source = f"frame scores (threshold {threshold:g})"
        from_scores = {
            "event_based": lambda: event_based_fscores_from_scores(
                reference, frame_scores, threshold
            ),
            "segment_based": lambda: segment_based_fscores_from_scores(
                reference, frame_scores, threshold
            ),
            "tagging": lambda: tagging_fscores(
                reference.tags(), tags_from_scores(frame_scores, threshold), list(reference.classes)
            ),
            "intersection": lambda: intersection_fscores_from_scores(
                reference, frame_scores, threshold
            ),
        }
        for family, compute in from_scores.items():
            if family not in results:
                results[family] = timed(family, compute)
                results[family]["source"] = source
        for name, settings in (("psds1", PSDS1), ("psds2", PSDS2)):
            if name not in results:
                results[name] = timed(
                    name, lambda s=settings: psds_from_scores(reference, frame_scores, s)
                )
                results[name]["source"] = "frame scores"

    results["seconds"] = seconds
    return results


def _set_input(inputs: dict[str, Path | None], kind: str, path: PathLike) -> None:
    if inputs[kind] is not None:
        raise EvaluationError(
            f"two {kind.replace('_', ' ')} inputs given: {inputs[kind]} and {path}"
        )
    inputs[kind] = Path(path)


# ------------------------------------------------------------------------ table


def _pct(value: float | None) -> str:
    return "   -  " if value is None else f"{100 * value:6.2f}"


def format_table(results: dict[str, Any]) -> str:
    """A plain-text report: overall metrics with their source, then one row per class."""
    lines = [
        f"Ground truth: {results['ground_truth']} ({results['n_clips']} clips)",
    ]
    if results.get("ground_truth_events_merged"):
        lines.append(
            f"  ({results['ground_truth_events_merged']} overlapping same-class events merged)"
        )
    lines += [
        "",
        f"{'Metric':<34}{'Value':>9}  Source",
        "-" * 78,
    ]
    rows = [
        ("Event-based F1, macro (%)", "event_based", "macro_f1"),
        ("Event-based F1, micro (%)", "event_based", "micro_f1"),
        ("Segment-based F1 1 s, macro (%)", "segment_based", "macro_f1"),
        ("Segment-based F1 1 s, micro (%)", "segment_based", "micro_f1"),
        ("Tagging F1, macro (%)", "tagging", "macro_f1"),
        ("Intersection F1, macro (%)", "intersection", "macro_f1"),
    ]
    for label, family, key in rows:
        if family in results:
            lines.append(
                f"{label:<34}{_pct(results[family][key]):>9}  {results[family].get('source', '')}"
            )
    for name in PSDS_NAMES:
        if name in results:
            entry = results[name]
            lines.append(
                f"{name.upper():<34}{entry['value']:>9.4f}  {entry['source']} [{entry['library']}]"
            )

    families = [f for f in F_FAMILIES if f in results]
    psds_per_class = [n for n in PSDS_NAMES if "per_class" in results.get(n, {})]
    if families or psds_per_class:
        headers = []
        if "event_based" in results:
            headers += ["Ev P", "Ev R", "Ev F1"]
        headers += [h for f, h in (("segment_based", "Seg F1"), ("tagging", "Tag F1"),
                                   ("intersection", "Int F1")) if f in results]
        headers += [n.upper() for n in psds_per_class]
        lines += [
            "",
            f"{'Class':<28}" + "".join(f"{h:>8}" for h in headers),
            "-" * (28 + 8 * len(headers)),
        ]
        for c in results["classes"]:
            cells = []
            if "event_based" in results:
                entry = results["event_based"]["per_class"].get(c, {})
                cells += [_pct(entry.get(key)) for key in ("precision", "recall", "f1")]
            for family in ("segment_based", "tagging", "intersection"):
                if family in results:
                    cells.append(_pct(results[family]["per_class"].get(c, {}).get("f1")))
            for name in psds_per_class:
                value = results[name]["per_class"].get(c)
                cells.append("   -  " if value is None else f"{value:6.3f}")
            lines.append(f"{c:<28}" + "".join(f"{cell:>8}" for cell in cells))
    return "\n".join(lines)
