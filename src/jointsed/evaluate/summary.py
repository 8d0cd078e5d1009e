"""One call that evaluates a system output with every DCASE Task 4 metric, and a readable table.

Which metric comes from which input:

* a detection table (one operating point, e.g. ``predictions_0.5.tsv``): event-based,
  segment-based, tagging and intersection-based F-scores (``sed_eval`` / ``psds_eval``);
* a folder of detection tables (operating points): PSDS1 and PSDS2 (``psds_eval``);
* a folder of frame-score files: PSDS1 and PSDS2 (``sed_scores_eval``, threshold-free), plus the
  F-scores at ``threshold`` for any family no detection table provided;
* clip (tagging) probabilities: the tagging F-scores at the per-class tag thresholds (DESIGN §5:
  AT F1 at the tag threshold), in place of tags derived from detections or frame scores.

So given both a detection table and scores, the F-scores come from the table; given both
operating points and scores, PSDS comes from the operating points. Detections and frame scores
can also be passed in memory (``events=``, ``frame_scores=`` + ``frame_hop=``), e.g. by the
evaluation pipeline (:mod:`jointsed.pipeline`).

``sed_scores_eval`` refuses classes without any ground-truth event; the metrics computed from
frame scores are therefore computed over the classes that have events (``psds_classes`` in the
results; the others are listed under ``classes_without_ground_truth``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
from jointsed.data.annotations import Event
from jointsed.data.classes import DESED_CLASSES
from jointsed.evaluate.event_based import event_based_fscores, event_based_fscores_from_scores
from jointsed.evaluate.intersection import (
    intersection_fscores,
    intersection_fscores_from_scores,
    psds_from_operating_points,
    psds_result,
    sed_scores_psds_all,
)
from jointsed.evaluate.io import (
    EvaluationError,
    Reference,
    audio_id,
    check_detections_within,
    detect_prediction_kind,
    detections_past_clip_end,
    frame_timestamps,
    load_reference,
    merge_overlaps_per_clip,
    read_detections_with_outside,
    read_operating_points,
)
from jointsed.evaluate.score_files import FrameScores, check_scores_cover, check_scores_of, read_score_folder
from jointsed.evaluate.segment_based import segment_based_fscores, segment_based_fscores_from_scores
from jointsed.evaluate.settings import DECISION_THRESHOLD, PSDS1, PSDS2
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
    threshold: float = DECISION_THRESHOLD,
    events: Iterable[Event] | None = None,
    frame_scores: Mapping[str, np.ndarray] | None = None,
    frame_hop: float | None = None,
    clip_scores: Mapping[str, np.ndarray] | None = None,
    tag_threshold: float | Sequence[float] = DECISION_THRESHOLD,
    scores_label: str = "frame scores",
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
        events: detections in memory (instead of a detection table); ``filename`` as in the
            ground truth (with or without the audio extension).
        frame_scores: ``{filename: (T, C) array}`` frame scores in memory (instead of a score
            folder), columns in ``classes`` order, frame ``t`` covering
            ``[t, t + 1) * frame_hop`` seconds.
        frame_hop: seconds per frame of ``frame_scores``.
        clip_scores: ``{filename: (C,) array}`` clip probabilities, columns in ``classes``
            order: the tagging F-scores then come from them (class tagged when its probability
            is >= its tag threshold) rather than from detections or frame scores.
        tag_threshold: one threshold, or one per class (``classes`` order), for ``clip_scores``.
        scores_label: how the frame scores are described in the ``source`` of their metrics
            (e.g. "post-processed frame scores").

    Returns:
        A JSON-ready dict: ``event_based``, ``segment_based``, ``tagging``, ``intersection``
        (F-score results, see ``jointsed.evaluate.results``, each with a ``source``), ``psds1``,
        ``psds2``, plus ``inputs``, ``n_clips``, ``classes``, ``seconds`` (time per metric).
        With frame scores: ``psds_classes`` (the classes the score-based metrics cover: those
        with ground-truth events) and, if any, ``classes_without_ground_truth``.
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
    if events is not None and inputs["detections"] is not None:
        raise EvaluationError(f"two detection inputs given: {inputs['detections']} and events in memory")
    if frame_scores is not None:
        if inputs["scores"] is not None:
            raise EvaluationError(f"two frame-score inputs given: {inputs['scores']} and scores in memory")
        if frame_hop is None or not frame_hop > 0:
            raise EvaluationError(f"frame_hop must be a positive number of seconds, got {frame_hop!r}")
    if not any(inputs.values()) and events is None and frame_scores is None and clip_scores is None:
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
        "inputs": {
            **{k: (str(v) if v is not None else None) for k, v in inputs.items()},
            **({"detections": "events (in memory)"} if events is not None else {}),
            **({"scores": f"{scores_label} (in memory)"} if frame_scores is not None else {}),
            **({"clip_scores": "clip scores (in memory)"} if clip_scores is not None else {}),
        },
        "n_clips": len(reference.events),
        "ground_truth_events_merged": reference.merged_events,
        "classes": list(reference.classes),
        "threshold": threshold,
    }

    if inputs["detections"] is not None or events is not None:
        if events is not None:
            detections, outside = timed(
                "read_detections", lambda: detections_from_events(events, reference)
            )
            source = "detections (post-processed events)"
        else:
            detections, outside = timed(
                "read_detections",
                lambda: read_detections_with_outside(inputs["detections"], reference),
            )
            source = f"detections ({Path(inputs['detections']).name})"
        results["clips_outside_ground_truth"] = len(outside)
        results["detections_past_clip_end"] = detections_past_clip_end(detections, reference)
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

    if clip_scores is not None:
        thresholds = _per_class_thresholds(tag_threshold, reference.classes)
        results["tagging"] = timed(
            "tagging",
            lambda: tagging_fscores(
                reference.tags(),
                tags_from_clip_scores(clip_scores, reference, thresholds),
                list(reference.classes),
            ),
        )
        results["tagging"]["source"] = "clip scores (" + _describe_thresholds(thresholds) + ")"
        results["tag_thresholds"] = dict(zip(reference.classes, thresholds))

    if inputs["scores"] is not None or frame_scores is not None:
        if frame_scores is not None:
            score_set = timed(
                "read_scores",
                lambda: score_frames_from_arrays(frame_scores, reference, frame_hop),
            )
        else:
            score_set = timed("read_scores", lambda: read_score_folder(inputs["scores"], reference))
        where = "frame scores" if frame_scores is not None else str(inputs["scores"])
        results["clips_with_scores_short_of_their_duration"] = check_scores_cover(score_set, reference, where)
        # sed_scores_eval asserts that every class has a ground-truth event: evaluate the
        # score-based metrics over the classes that have events
        present, left_out = classes_with_events(reference)
        results["psds_classes"] = present
        if left_out:
            results["classes_without_ground_truth"] = left_out
        covered = "" if not left_out else f", {len(present)} of {len(reference.classes)} classes"
        if present:
            sub_reference = restrict_classes(reference, present)
            from_scores = {
                "event_based": lambda: event_based_fscores_from_scores(sub_reference, score_set, threshold),
                "segment_based": lambda: segment_based_fscores_from_scores(sub_reference, score_set, threshold),
                "tagging": lambda: tagging_fscores(
                    reference.tags(), tags_from_scores(score_set, threshold), list(reference.classes)
                ),
                "intersection": lambda: intersection_fscores_from_scores(sub_reference, score_set, threshold),
            }
            for family, compute in from_scores.items():
                if family not in results:
                    results[family] = timed(family, compute)
                    extra = covered if family != "tagging" else ""
                    results[family]["source"] = f"{scores_label} (threshold {threshold:g}{extra})"
            wanted = [(name, settings) for name, settings in (("psds1", PSDS1), ("psds2", PSDS2))
                      if name not in results]
            if wanted:
                # both scenarios in one pass: they share the detections at every threshold
                computed = timed("+".join(name for name, _ in wanted), lambda: sed_scores_psds_all(
                    sub_reference, score_set, [settings for _, settings in wanted]))
                for (name, settings), result in zip(wanted, computed):
                    results[name] = psds_result(sub_reference, result, settings)
                    results[name]["source"] = scores_label + (f" ({covered[2:]})" if covered else "")
                    if settings.alpha_ct and len(present) < 2:
                        results[name]["note"] = "one class has events: no other class to cross-trigger (alpha_ct term 0)"
        else:
            for name in PSDS_NAMES:
                results.setdefault(name, {
                    "value": None, "per_class": {}, "source": "the ground truth has no event",
                    "library": "sed_scores_eval",
                })

    results["seconds"] = seconds
    return results


def classes_with_events(reference: Reference) -> tuple[list[str], list[str]]:
    """``(classes with at least one ground-truth event, classes without)``, official order."""
    seen = {label for events in reference.events.values() for _, _, label in events}
    return [c for c in reference.classes if c in seen], [c for c in reference.classes if c not in seen]


def restrict_classes(reference: Reference, classes: Sequence[str]) -> Reference:
    """The reference reduced to ``classes`` (events of the other classes dropped); the metrics
    computed from frame scores evaluate the score columns of ``reference.classes``."""
    classes = list(classes)
    if classes == list(reference.classes):
        return reference
    keep = set(classes)
    return Reference(
        events={k: [e for e in evs if e[2] in keep] for k, evs in reference.events.items()},
        durations=dict(reference.durations),
        classes=tuple(classes),
        path=reference.path,
        merged_events=reference.merged_events,
    )


def detections_from_events(
    events: Iterable[Event], reference: Reference
) -> tuple[dict[str, list[tuple[float, float, str]]], list[str]]:
    """In-memory events as ``{audio id: [(onset, offset, label)]}`` over the reference clips
    (overlapping same-class events merged, as for a detection table), plus the audio ids of
    events outside the reference."""
    detections: dict[str, list[tuple[float, float, str]]] = {key: [] for key in reference.events}
    outside: list[str] = []
    known = set(reference.classes)
    for e in events:
        if e.event_label not in known:
            raise EvaluationError(
                f"detected event of class {e.event_label!r} (clip {e.filename}) is not one of the "
                f"classes {list(reference.classes)}"
            )
        if not float(e.onset) < float(e.offset):  # what read_strong_tsv refuses in a table
            raise EvaluationError(
                f"detected event {e.event_label} of clip {e.filename}: onset {e.onset:g} is not before offset {e.offset:g}"
            )
        key = audio_id(e.filename)
        if key in detections:
            detections[key].append((float(e.onset), float(e.offset), e.event_label))
        elif key not in outside:
            outside.append(key)
    check_detections_within(detections, reference, "detected events")
    return merge_overlaps_per_clip(detections)[0], outside


def _by_reference_clip(values: Mapping[str, Any], reference: Reference, what: str) -> dict[str, Any]:
    """``values`` re-keyed by audio id; an EvaluationError if a reference clip has none."""
    by_id = {audio_id(name): value for name, value in values.items()}
    missing = [key for key in reference.events if key not in by_id]
    if missing:
        raise EvaluationError(
            f"no {what} for {len(missing)} of {len(reference.events)} clip(s) of "
            f"{reference.path}, e.g. {missing[0]}"
        )
    return by_id


def score_frames_from_arrays(
    frame_scores: Mapping[str, np.ndarray], reference: Reference, frame_hop: float
) -> FrameScores:
    """``{filename: (T, C)}`` arrays -> :class:`FrameScores` of every reference clip (each must
    have scores, finite and in [0, 1]; other clips are ignored), frames of ``frame_hop`` s."""
    by_id = _by_reference_clip(frame_scores, reference, "frame scores")
    classes = list(reference.classes)
    arrays, stamps = {}, {}
    for key in reference.events:
        array = np.asarray(by_id[key], dtype=np.float64)
        if array.ndim != 2 or array.shape[1] != len(classes) or array.shape[0] < 1:
            raise EvaluationError(
                f"frame scores of {key}: shape {array.shape}, expected (frames, {len(classes)})"
            )
        arrays[key], stamps[key] = array, frame_timestamps(len(array), frame_hop)
    scores = FrameScores.from_arrays(arrays, stamps, classes)
    check_scores_of(scores, scores.ids)
    return scores


def tags_from_clip_scores(
    clip_scores: Mapping[str, np.ndarray], reference: Reference, thresholds: Sequence[float]
) -> dict[str, set[str]]:
    """``{audio id: classes whose clip probability >= their tag threshold}`` for every
    reference clip (each must have clip scores)."""
    by_id = _by_reference_clip(clip_scores, reference, "clip scores")
    classes = list(reference.classes)
    tags = {}
    for key in reference.events:
        probs = np.asarray(by_id[key], dtype=np.float64).reshape(-1)
        if probs.shape != (len(classes),):
            raise EvaluationError(
                f"clip scores of {key}: {probs.size} values for {len(classes)} classes"
            )
        tags[key] = {c for c, p, t in zip(classes, probs, thresholds) if p >= t}
    return tags


def _per_class_thresholds(tag_threshold: float | Sequence[float], classes: Sequence[str]) -> list[float]:
    if isinstance(tag_threshold, (int, float)):
        return [float(tag_threshold)] * len(classes)
    values = [float(t) for t in tag_threshold]
    if len(values) != len(classes):
        raise EvaluationError(
            f"tag_threshold: {len(values)} values for {len(classes)} classes (one per class needed)"
        )
    return values


def _describe_thresholds(thresholds: Sequence[float]) -> str:
    distinct = sorted(set(thresholds))
    if len(distinct) == 1:
        return f"tag threshold {distinct[0]:g}"
    return f"per-class tag thresholds {distinct[0]:g}-{distinct[-1]:g}"


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
            value = "   -  " if entry.get("value") is None else f"{entry['value']:.4f}"
            lines.append(
                f"{name.upper():<34}{value:>9}  {entry.get('source', '')} [{entry.get('library', '')}]"
            )
    if results.get("classes_without_ground_truth"):
        lines.append(
            "  (metrics from frame scores cover the classes with ground-truth events; without: "
            + ", ".join(results["classes_without_ground_truth"]) + ")"
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
