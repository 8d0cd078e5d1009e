"""The common shape of F-score results, whichever library computed them.

Every F-score family (event-based, segment-based, tagging, intersection-based) is reported as::

    {"macro_f1", "macro_precision", "macro_recall", "micro_f1", "micro_precision",
     "micro_recall", "per_class": {class: {"f1", "precision", "recall"}}}

with values in [0, 1]; a value a library does not provide is ``None``.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence


def as_float(value: Any) -> float | None:
    """A plain float, or ``None`` for missing / NaN values (JSON has no NaN)."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def fscore_result(
    f: Mapping[str, Any],
    p: Mapping[str, Any] | None,
    r: Mapping[str, Any] | None,
    classes: Sequence[str],
) -> dict[str, Any]:
    """Convert ``sed_scores_eval``-style dicts (class -> value, plus ``"macro_average"`` and
    ``"micro_average"`` keys) into the common result shape, classes in ``classes`` order."""
    p = p or {}
    r = r or {}
    return {
        "macro_f1": as_float(f.get("macro_average")),
        "macro_precision": as_float(p.get("macro_average")),
        "macro_recall": as_float(r.get("macro_average")),
        "micro_f1": as_float(f.get("micro_average")),
        "micro_precision": as_float(p.get("micro_average")),
        "micro_recall": as_float(r.get("micro_average")),
        "per_class": {
            c: {
                "f1": as_float(f.get(c)),
                "precision": as_float(p.get(c)),
                "recall": as_float(r.get(c)),
            }
            for c in classes
            if c in f
        },
    }
