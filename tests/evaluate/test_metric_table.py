"""The metric table (jointsed.evaluate.metric_table): its families are exactly what evaluate_run
reports, the report's and the demo summary's tables are built from it, and each tuning objective
reads its value where evaluate_run puts it."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import VALIDATION_DUR, VALIDATION_TSV
from jointsed.data.annotations import read_strong_tsv
from jointsed.data.classes import DESED_CLASSES
from jointsed.evaluate import evaluate_run
from jointsed.evaluate.metric_table import FAMILIES, F_SCORE_FAMILIES, METRICS, PSDS_FAMILIES, family
from jointsed.evaluate.settings import PSDS1, PSDS2, SEGMENT_LENGTH
from jointsed.pipeline.demo_summary import SUMMARY_ROWS
from jointsed.report.html import FAMILY_TITLES, OVERALL_ROWS, overall_table, per_class_columns

HOP = 0.04


@pytest.fixture(scope="module")
def results(tiny_dataset):
    """evaluate_run with every input kind in memory: events, frame scores, clip scores."""
    gt, dur = tiny_dataset / VALIDATION_TSV, tiny_dataset / VALIDATION_DUR
    truth = read_strong_tsv(gt)
    rng = np.random.default_rng(4)
    frames = {f: rng.random((250, len(DESED_CLASSES))) * 0.4 for f in truth.filenames}
    for e in truth.events:  # scores that follow the labels, so that every family has a non-trivial value
        frames[e.filename][int(e.onset / HOP):int(np.ceil(e.offset / HOP)), DESED_CLASSES.index(e.event_label)] += 0.5
    clip = {f: s.max(axis=0) for f, s in frames.items()}
    return evaluate_run(gt, dur, events=truth.events, frame_scores=frames, frame_hop=HOP, clip_scores=clip)


def test_families_are_exactly_the_families_evaluate_run_reports(results):
    reported = {key for key, value in results.items()
                if isinstance(value, dict) and ("macro_f1" in value or "value" in value)}
    assert reported == {f.name for f in FAMILIES}
    for f in FAMILIES:
        for key in f.overall_keys:
            assert isinstance(results[f.name][key], float), (f.name, key)
    # events equal to the ground truth: every F-score from them is perfect
    for name in ("event_based", "segment_based"):
        assert results[name]["macro_f1"] == pytest.approx(1.0)
    assert F_SCORE_FAMILIES == ("tagging", "event_based", "segment_based", "intersection")
    assert PSDS_FAMILIES == ("psds1", "psds2")
    assert family("psds2").settings is PSDS2 and family("psds1").settings is PSDS1
    assert family("segment_based").settings == SEGMENT_LENGTH
    with pytest.raises(ValueError, match="known: tagging, event_based"):
        family("nope")


def test_each_objective_reads_the_value_evaluate_run_reports(results):
    for metric in METRICS.values():
        name, key = metric.result_key
        assert name in {f.name for f in FAMILIES}
        assert metric.value_of(results) == results[name][key]
    assert METRICS["psds1"].value_of({}) is None


# the tables as they were written out before the metric table owned them (same labels, same order)
EXPECTED_OVERALL = (
    ("Audio tagging F1, macro", "tagging", "macro_f1"),
    ("Audio tagging F1, micro", "tagging", "micro_f1"),
    ("Event-based F1, macro", "event_based", "macro_f1"),
    ("Event-based F1, micro", "event_based", "micro_f1"),
    ("Segment-based F1 (1 s), macro", "segment_based", "macro_f1"),
    ("Segment-based F1 (1 s), micro", "segment_based", "micro_f1"),
    ("Intersection F1, macro", "intersection", "macro_f1"),
)
EXPECTED_SUMMARY = (
    ("AT (tagging) F1, macro %", "tagging", "macro_f1"),
    ("Event-based F1, macro %", "event_based", "macro_f1"),
    ("Segment-based F1, macro %", "segment_based", "macro_f1"),
    ("Intersection F1, macro %", "intersection", "macro_f1"),
    ("PSDS1", "psds1", "value"),
    ("PSDS2", "psds2", "value"),
)


def test_report_and_demo_tables_come_from_the_table(results):
    assert OVERALL_ROWS == EXPECTED_OVERALL
    assert SUMMARY_ROWS == EXPECTED_SUMMARY
    assert FAMILY_TITLES == (("Audio tagging", "tagging"), ("Event-based", "event_based"),
                             ("Segment-based", "segment_based"), ("Intersection", "intersection"))
    html = overall_table(results)
    # one row per overall key of every family, PSDS with three decimals
    assert html.count('class="overall-row"') == len(EXPECTED_OVERALL) + 1 + len(PSDS_FAMILIES)  # + error rate
    assert f"<td>{results['psds1']['value']:.3f}</td>" in html
    groups = [title for title, _, _ in per_class_columns(results)]
    assert groups.count("PSDS") == 2 and groups[0] == "Audio tagging"
