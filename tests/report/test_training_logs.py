"""Training logs of a run (jointsed.report.training_logs): stages, order and labels."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fake_run import _write_lightning_csv
from jointsed.report.training_logs import epoch_curves, read_training_logs


def test_report_training_logs_with_stages(fake_run):
    logs, notes = read_training_logs(fake_run)
    assert [log.label for log in logs] == ["", "stage2"] and not notes
    curves = logs[0].curves
    assert list(curves.index) == list(range(6))
    assert "loss_step" not in curves.columns  # same quantity as loss_epoch
    raw = pd.read_csv(logs[0].path)
    np.testing.assert_allclose(curves["val/clip_f1"], raw["val/clip_f1"].dropna())
    np.testing.assert_allclose(curves["lr-Adam"], raw["lr-Adam"].dropna())  # rows without an epoch
    # a step-level value without an epoch counterpart is averaged per epoch
    only_steps = epoch_curves(raw.drop(columns=["loss_epoch"]))
    expected = raw.dropna(subset=["loss_step"]).groupby("epoch")["loss_step"].mean()
    np.testing.assert_allclose(only_steps["loss_step"], expected)


def test_training_log_order_and_labels(tmp_path):
    rng = np.random.default_rng(0)
    for relative in ("stage2/logs/csv/version_0", "logs/csv/version_0", "stage10/logs/csv",
                     "stage2/logs/csv/version_1", "eval/validation", "report"):
        _write_lightning_csv(tmp_path / relative / "metrics.csv", epochs=2, rng=rng)
    logs, _ = read_training_logs(tmp_path)
    assert [log.label for log in logs] == ["", "stage2/version_0", "stage2/version_1", "stage10"]
