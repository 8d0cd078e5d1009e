"""``jointsed tune`` as a command on the shared ``trained_run`` (a copy): exit status, what it
prints, the file it writes. What the tuning computes is tested in tests/pipeline/test_tuning.py."""

from __future__ import annotations

import json

from helpers import fresh_run_copy
from jointsed.cli import main as cli_main


def test_tune_prints_the_table_and_writes_postprocess_json(trained_run, tiny_dataset, tmp_path, capsys):
    run = fresh_run_copy(trained_run, tmp_path)
    code = cli_main(["tune", str(run), "--data-root", str(tiny_dataset), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "postprocess.json" in printed
    data = json.loads((run / "postprocess.json").read_text())
    assert data["method"] == "lin" and data["info"]["tuned_on"]["objective"] == "event_f1"
    # the closing line states the scores the file records, and one table row per class
    info = data["info"]
    assert (f"macro event F1: default {100 * info['default_score']:.2f} % -> tuned "
            f"{100 * info['tuned_score']:.2f} %") in printed
    rows = [line for line in printed.splitlines() if line.split() and line.split()[0] in data["classes"]]
    assert sorted(line.split()[0] for line in rows) == sorted(data["classes"])
