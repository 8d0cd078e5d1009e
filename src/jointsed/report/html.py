"""HTML of the report: one static page, inline CSS, no script and nothing loaded from the web.

Metric values come straight from ``metrics.json`` (``jointsed.evaluate.evaluate_run``): F-scores
as percentages with one decimal (:func:`format_percent`), PSDS with three decimals
(:func:`format_psds`), ``–`` where a value is not available.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Any, Mapping, Sequence

from jointsed.evaluate.metric_table import FAMILIES, PSDS_FAMILIES

MISSING = "–"

# every table iterates over the metric table (one owner of the families, their labels and keys)
#: (label, metrics.json family, key) of the overall table's F-score rows, in display order
OVERALL_ROWS = tuple(
    (f"{f.f1_label}, {key.removesuffix('_f1')}", f.name, key)
    for f in FAMILIES if f.kind == "f_scores" for key in f.overall_keys
)
#: (column group title, metrics.json family) of the per-class table
FAMILY_TITLES = tuple((f.label, f.name) for f in FAMILIES if f.kind == "f_scores")
PSDS_NAMES = PSDS_FAMILIES
_PSDS_LABELS = {f.name: f.label for f in FAMILIES if f.kind == "psds"}

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0 auto;
       max-width: 1280px; padding: 1em 2em 3em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
h3 { font-size: 1.05em; margin-bottom: 0.3em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { padding: 0.25em 0.6em; border-bottom: 1px solid #e4e4e4; text-align: right; }
th { background: #f4f4f4; }
td.name, th.name { text-align: left; }
td.source { text-align: left; color: #666; font-size: 0.9em; }
tr:hover td { background: #fafafa; }
.swatch { display: inline-block; width: 0.85em; height: 0.85em; margin-right: 0.4em;
          vertical-align: -0.1em; border: 1px solid #555; }
.info td { text-align: left; }
.info td:first-child { color: #666; }
.notes { background: #fff6e0; border: 1px solid #e8c66b; padding: 0.5em 1em; }
.note { color: #a05000; font-style: italic; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.88em; max-width: 1100px; }
nav a { margin-right: 1em; }
code { background: #f4f4f4; padding: 0 0.25em; }
"""


def format_percent(value: Any) -> str:
    """An F-score / precision / recall in [0, 1] as a percentage with one decimal."""
    return MISSING if value is None else f"{100 * float(value):.1f}"


def format_psds(value: Any) -> str:
    return MISSING if value is None else f"{float(value):.3f}"


@dataclass
class Section:
    """One part of the page: an anchor id, a title and its HTML body."""

    anchor: str
    title: str
    body: str


@dataclass
class Page:
    title: str
    info: list[tuple[str, str]]
    sections: list[Section]
    notes: list[str] = field(default_factory=list)


def figure_html(src: str, caption: str, alt: str) -> str:
    return (
        f'<figure><img src="{escape(src, quote=True)}" alt="{escape(alt, quote=True)}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def note_html(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


def swatch(color: str) -> str:
    return f'<span class="swatch" style="background:{escape(color, quote=True)}"></span>'


def overall_table(metrics: Mapping[str, Any]) -> str:
    """Overall metrics: F-scores (%) then PSDS1 / PSDS2, each with the input it came from."""
    rows = []
    for label, family, key in OVERALL_ROWS:
        entry = metrics.get(family)
        if isinstance(entry, Mapping):
            rows.append((label, format_percent(entry.get(key)), entry.get("source", "")))
    if isinstance(metrics.get("event_based"), Mapping) and metrics["event_based"].get("error_rate") is not None:
        entry = metrics["event_based"]
        rows.append(("Event-based error rate", f"{entry['error_rate']:.3f}", entry.get("source", "")))
    for name in PSDS_NAMES:
        entry = metrics.get(name)
        if isinstance(entry, Mapping):
            source = entry.get("source", "")
            if entry.get("library"):
                source = f"{source} [{entry['library']}]"
            rows.append((_PSDS_LABELS[name], format_psds(entry.get("value")), source))
    if not rows:
        return note_html("metrics.json holds no metric.")
    body = "".join(
        f'<tr class="overall-row"><td class="name">{escape(label)}</td><td>{value}</td>'
        f'<td class="source">{escape(str(source))}</td></tr>'
        for label, value, source in rows
    )
    return (
        '<table class="overall"><thead><tr><th class="name">Metric</th><th>Value</th>'
        f'<th class="name">Computed from</th></tr></thead><tbody>{body}</tbody></table>'
        "<p>F-scores in %; PSDS in [0, 1].</p>"
    )


def per_class_columns(metrics: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """Columns of the per-class table as ``(group title, family, key)``: P / R / F1 of every
    F-score family in ``metrics`` (a key no class has is left out, e.g. intersection P/R from
    psds_eval), the number of ground-truth events, then per-class PSDS1 / PSDS2 if present."""
    columns = []
    for title, family in FAMILY_TITLES:
        entry = metrics.get(family)
        if not isinstance(entry, Mapping):
            continue
        per_class = entry.get("per_class") or {}
        for key in ("precision", "recall", "f1"):
            if any(isinstance(v, Mapping) and v.get(key) is not None for v in per_class.values()):
                columns.append((title, family, key))
        if family == "event_based" and any(
            isinstance(v, Mapping) and v.get("n_ref") is not None for v in per_class.values()
        ):
            columns.append((title, family, "n_ref"))
    for name in PSDS_NAMES:
        entry = metrics.get(name)
        if isinstance(entry, Mapping) and entry.get("per_class"):
            columns.append(("PSDS", name, "value"))
    return columns


def per_class_cell(metrics: Mapping[str, Any], family: str, key: str, cls: str) -> str:
    """Text of one per-class cell (see :func:`per_class_columns`)."""
    entry = metrics.get(family) or {}
    if family in PSDS_NAMES:
        return format_psds((entry.get("per_class") or {}).get(cls))
    value = ((entry.get("per_class") or {}).get(cls) or {}).get(key)
    if key == "n_ref":
        return MISSING if value is None else str(int(value))
    return format_percent(value)


_KEY_NAMES = {"precision": "P", "recall": "R", "f1": "F1", "n_ref": "# GT"}


def per_class_table(metrics: Mapping[str, Any], classes: Sequence[str], colors: Mapping[str, str]) -> str:
    """One row per class (``<tr class="class-row" data-class=...>``), grouped column headers."""
    columns = per_class_columns(metrics)
    if not columns:
        return note_html("metrics.json holds no per-class result.")
    groups: list[tuple[str, int]] = []
    for title, _, _ in columns:
        if groups and groups[-1][0] == title:
            groups[-1] = (title, groups[-1][1] + 1)
        else:
            groups.append((title, 1))
    head1 = '<tr><th class="name" rowspan="2">Class</th>' + "".join(
        f'<th colspan="{span}">{escape(title)}</th>' for title, span in groups
    ) + "</tr>"
    head2 = "<tr>" + "".join(
        f"<th>{_PSDS_LABELS[family] if family in PSDS_NAMES else _KEY_NAMES[key]}</th>" for _, family, key in columns
    ) + "</tr>"
    rows = []
    for c in classes:
        cells = "".join(f"<td>{per_class_cell(metrics, family, key, c)}</td>" for _, family, key in columns)
        rows.append(
            f'<tr class="class-row" data-class="{escape(c, quote=True)}"><td class="name">'
            f"{swatch(colors.get(c, '#999'))}{escape(c)}</td>{cells}</tr>"
        )
    return (
        f'<table class="per-class"><thead>{head1}{head2}</thead><tbody>{"".join(rows)}</tbody></table>'
        "<p>P = precision, R = recall, F1 in %; # GT = ground-truth events; "
        f"{MISSING} = not available (e.g. a class absent from both the ground truth and the "
        "predictions).</p>"
    )


def render_page(page: Page) -> str:
    """The whole HTML document."""
    info = "".join(
        f"<tr><td>{escape(key)}</td><td>{value}</td></tr>" for key, value in page.info
    )
    notes = ""
    if page.notes:
        items = "".join(f"<li>{escape(n)}</li>" for n in page.notes)
        notes = f'<div class="notes"><strong>Notes</strong><ul>{items}</ul></div>'
    nav = " ".join(f'<a href="#{s.anchor}">{escape(s.title)}</a>' for s in page.sections)
    sections = "".join(
        f'<section id="{s.anchor}"><h2>{escape(s.title)}</h2>{s.body}</section>' for s in page.sections
    )
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{escape(page.title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{escape(page.title)}</h1><table class=\"info\">{info}</table>{notes}"
        f"<nav>{nav}</nav>{sections}</body></html>\n"
    )
