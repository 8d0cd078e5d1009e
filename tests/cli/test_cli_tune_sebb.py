"""``jointsed tune --method sebb`` writes a SEBB postprocess.json that ``jointsed predict`` and
``jointsed evaluate --run`` then use (on a copy of the shared ``trained_run``)."""

from __future__ import annotations

import json

from helpers import fresh_run_copy
from jointsed.cli import main as cli_main
from jointsed.data.annotations import read_strong_tsv
from jointsed.postprocess.base import detect_events, load_postprocessor


def test_tune_sebb_then_predict_and_evaluate_use_it(trained_run, tiny_dataset, tmp_path, capsys):
    run = fresh_run_copy(trained_run, tmp_path)
    grid = tmp_path / "grid.yaml"
    grid.write_text("tag_thresholds: [0.3, 0.5]\nstep_factors: [1.0]\nchange_thresholds: [0.1, 0.2]\n"
                    "merge_gaps: [0.0]\nconfidences: [max]\ndetection_thresholds: [0.3, 0.5]\n")
    assert cli_main(["tune", str(run), "--data-root", str(tiny_dataset), "--method", "sebb", "--grid", str(grid),
                     "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "step_length" in printed and "SEBB defaults vs tuned" in printed
    file = run / "postprocess.json"
    data = json.loads(file.read_text())
    assert data["method"] == "sebb" and data["info"]["tuned_on"]["method"] == "sebb"
    pp = load_postprocessor(file)
    assert pp.method == "sebb"

    audio = tiny_dataset / "audio" / "validation"
    out = tmp_path / "pred.tsv"
    assert cli_main(["predict", str(run), str(audio), "--out", str(out), "--scores", str(tmp_path / "scores"),
                     "--no-progress"]) == 0
    assert str(file) in capsys.readouterr().out  # predict says which post-processing it used
    from jointsed.pipeline import score_split

    scores = score_split(run, tiny_dataset, progress=False)
    expected = detect_events(pp, scores.clip_scores, scores.frame_scores, scores.frame_hop)
    predicted = read_strong_tsv(out)
    as_rows = lambda events: sorted((e.filename, round(e.onset, 6), round(e.offset, 6), e.event_label) for e in events)
    assert as_rows(predicted.events) == as_rows(expected)

    assert cli_main(["evaluate", "--run", str(run), "--data-root", str(tiny_dataset), "--no-progress"]) == 0
    metrics = json.loads((run / "eval" / "validation" / "metrics.json").read_text())
    assert metrics["postprocess"]["params"]["method"] == "sebb"
    assert metrics["postprocess"]["file"] == str(file)
    assert metrics["psds1"]["source"].startswith("scored segments")
