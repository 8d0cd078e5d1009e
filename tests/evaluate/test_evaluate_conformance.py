"""Conformance: the evaluator reproduces the official DCASE 2021 baseline results from the
baseline's own stored outputs on the real DESED validation set."""

from __future__ import annotations

from pathlib import Path

import pytest

from jointsed.evaluate import evaluate_run, format_table

REF = Path("/work/shared/reference_outputs/dcase2021_baseline_student")
pytestmark = pytest.mark.skipif(
    not REF.is_dir(), reason=f"reference outputs {REF} not available (not shipped with jointsed)"
)


@pytest.fixture(scope="module")
def results():
    return evaluate_run(
        REF / "validation.tsv",
        REF / "validation_durations.tsv",
        [REF / "predictions0.5.csv", REF / "predictions_operating_points"],
    )


def test_threshold_metrics_match_dcase_baseline(results):
    assert results["n_clips"] == 1168
    assert results["event_based"]["macro_f1"] == pytest.approx(0.3987, abs=5e-4)
    assert results["segment_based"]["macro_f1"] == pytest.approx(0.6935, abs=5e-4)
    assert results["intersection"]["macro_f1"] == pytest.approx(0.6374, abs=5e-4)


def test_event_based_matches_stored_sed_eval_report(results):
    # micro F1 and per-class figures printed in the baseline's event_f1.txt / segment_f1.txt
    assert results["event_based"]["micro_f1"] == pytest.approx(0.4092, abs=5e-4)
    assert results["event_based"]["per_class"]["Dog"]["f1"] == pytest.approx(0.244, abs=5e-4)
    assert results["event_based"]["per_class"]["Dog"]["n_ref"] == 570
    assert results["segment_based"]["micro_f1"] == pytest.approx(0.7547, abs=5e-4)


def test_psds_matches_dcase_baseline(results):
    assert results["psds1"]["n_operating_points"] == 50
    assert results["psds1"]["value"] == pytest.approx(0.334, abs=2e-3)
    assert 0.526 <= results["psds2"]["value"] <= 0.535


def test_table_lists_every_class(results):
    table = format_table(results)
    for name in results["classes"]:
        assert name in table
    assert "39.87" in table
