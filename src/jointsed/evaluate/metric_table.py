"""The metric table: the metric families evaluation reports, and the metrics a post-processing
can be tuned for.

:data:`FAMILIES` lists every family of :func:`jointsed.evaluate.evaluate_run`'s result (its key,
the input kind, its labels, its settings and the keys the overall tables show); the report's
tables (:mod:`jointsed.report.html`) and ``jointsed demo``'s summary
(:mod:`jointsed.pipeline.demo_summary`) iterate over it, so a new family is one row here (and
its computation in :mod:`jointsed.evaluate`).

Each :class:`Metric` says what it needs (``"events"``: a detection table at one operating point;
``"scores"``: the threshold-free scores form, frame scores or scored segments), the function that
computes it with the official library, a label for tables, its settings (from
:mod:`jointsed.evaluate.settings`, the one owner of collars and PSDS scenarios) and where
:func:`jointsed.evaluate.evaluate_run` reports it. The tuners of :mod:`jointsed.postprocess`
take a :class:`Metric` as their objective: their fast searches read ``needs`` and ``settings``,
and the tests check that their values equal ``function``'s. ``jointsed tune --objective NAME``
and ``jointsed demo --objective NAME`` offer the names of :data:`METRICS`.

Importing this module is cheap: the metric libraries load when a function is called.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Literal, Mapping

from jointsed.evaluate.settings import (
    DECISION_THRESHOLD,
    EVENT_COLLARS,
    INTERSECTION_F1,
    PSDS1,
    PSDS2,
    SEGMENT_LENGTH,
    EventCollars,
    PSDSScenario,
)

if TYPE_CHECKING:
    import pandas as pd

    from jointsed.evaluate.event_based import Detections
    from jointsed.evaluate.io import Reference


def macro_event_f1(reference: "Reference", detections: "Detections", settings: EventCollars) -> float:
    """Macro event-based F1 of a detection table (``sed_eval``, :func:`event_based_fscores`;
    averaged over the classes present in the reference or the detections)."""
    from jointsed.evaluate.event_based import event_based_fscores

    return float(event_based_fscores(reference, detections, collars=settings)["macro_f1"])


def psds_value(reference: "Reference", scores: Mapping[str, "pd.DataFrame"], settings: PSDSScenario) -> float:
    """Threshold-independent PSDS of ``sed_scores_eval`` score DataFrames
    (:func:`jointsed.evaluate.intersection.psds_from_scores`)."""
    from jointsed.evaluate.intersection import psds_from_scores

    return float(psds_from_scores(reference, scores, settings)["value"])


@dataclass(frozen=True)
class MetricFamily:
    """One family of :func:`jointsed.evaluate.evaluate_run`'s result (``results[name]``).

    Attributes:
        name: the result key (``"event_based"``, ``"psds1"``, ...).
        kind: ``"f_scores"`` (precision / recall / F1, macro and micro, per class; from
            detections at one operating point, or from scores at a threshold) or ``"psds"``
            (one threshold-free value, per class; from scores or operating points).
        label: the family's title (per-class table groups, PSDS rows).
        f1_label: the overall tables' name of its F1 (``"Segment-based F1 (1 s)"``; PSDS: label).
        short_label: the demo summary's name (``"AT (tagging) F1"``; PSDS: label).
        overall_keys: the keys the overall tables show, in order (``macro_f1``, ``micro_f1``;
            PSDS: ``value``).
        settings: the family's settings (:mod:`jointsed.evaluate.settings`).
    """

    name: str
    kind: Literal["f_scores", "psds"]
    label: str
    f1_label: str
    short_label: str
    overall_keys: tuple[str, ...]
    settings: Any


#: every family, in the order the report and the demo summary show them
FAMILIES: tuple[MetricFamily, ...] = (
    MetricFamily("tagging", "f_scores", "Audio tagging", "Audio tagging F1", "AT (tagging) F1",
                 ("macro_f1", "micro_f1"), DECISION_THRESHOLD),
    MetricFamily("event_based", "f_scores", "Event-based", "Event-based F1", "Event-based F1",
                 ("macro_f1", "micro_f1"), EVENT_COLLARS),
    MetricFamily("segment_based", "f_scores", "Segment-based", f"Segment-based F1 ({SEGMENT_LENGTH:g} s)",
                 "Segment-based F1", ("macro_f1", "micro_f1"), SEGMENT_LENGTH),
    MetricFamily("intersection", "f_scores", "Intersection", "Intersection F1", "Intersection F1",
                 ("macro_f1",), INTERSECTION_F1),
    MetricFamily("psds1", "psds", "PSDS1", "PSDS1", "PSDS1", ("value",), PSDS1),
    MetricFamily("psds2", "psds", "PSDS2", "PSDS2", "PSDS2", ("value",), PSDS2),
)
#: the F-score families' names (display order)
F_SCORE_FAMILIES: tuple[str, ...] = tuple(f.name for f in FAMILIES if f.kind == "f_scores")
#: the PSDS families' names
PSDS_FAMILIES: tuple[str, ...] = tuple(f.name for f in FAMILIES if f.kind == "psds")


def family(name: str) -> MetricFamily:
    """The family whose result key is ``name``.

    Raises:
        ValueError: an unknown name (the message lists the known ones).
    """
    for f in FAMILIES:
        if f.name == name:
            return f
    raise ValueError(f"unknown metric family {name!r}; known: {', '.join(f.name for f in FAMILIES)}")


@dataclass(frozen=True)
class Metric:
    """One row of the metric table.

    Attributes:
        name: the key (``--objective NAME``).
        needs: ``"events"`` (one operating point) or ``"scores"`` (threshold-free).
        function: ``function(reference, detections or score DataFrames, settings) -> float``.
        label: how tables name it.
        settings: the metric's settings (:class:`EventCollars` or :class:`PSDSScenario`).
        result_key: where :func:`jointsed.evaluate.evaluate_run` reports it,
            ``results[family][key]``.
    """

    name: str
    needs: Literal["events", "scores"]
    function: Callable[[Any, Any, Any], float]
    label: str
    settings: EventCollars | PSDSScenario
    result_key: tuple[str, str]

    def compute(self, reference: "Reference", inputs: Any) -> float:
        """The metric of ``inputs`` (detections or score DataFrames) against ``reference``."""
        return self.function(reference, inputs, self.settings)

    def value_of(self, results: Mapping[str, Any]) -> float | None:
        """This metric's value in a :func:`~jointsed.evaluate.evaluate_run` result (None if absent)."""
        family, key = self.result_key
        entry = results.get(family)
        return None if not isinstance(entry, Mapping) else entry.get(key)


EVENT_F1 = Metric("event_f1", "events", macro_event_f1, "macro event F1", EVENT_COLLARS,
                  ("event_based", "macro_f1"))
PSDS1_METRIC = Metric("psds1", "scores", psds_value, "PSDS1", PSDS1, ("psds1", "value"))
PSDS2_METRIC = Metric("psds2", "scores", psds_value, "PSDS2", PSDS2, ("psds2", "value"))

#: every metric by name, in the order tables list them
METRICS: dict[str, Metric] = {m.name: m for m in (EVENT_F1, PSDS1_METRIC, PSDS2_METRIC)}


def get_metric(name: "str | Metric") -> Metric:
    """The metric called ``name`` (a :class:`Metric` is returned as it is).

    Raises:
        ValueError: an unknown name (the message lists the known ones).
    """
    if isinstance(name, Metric):
        return name
    try:
        return METRICS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown metric {name!r}; known: {', '.join(METRICS)}") from None


def metric_names() -> list[str]:
    """The names of :data:`METRICS` (the choices of ``--objective``)."""
    return list(METRICS)
