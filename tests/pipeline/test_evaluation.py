"""Evaluating a run's checkpoint on a split (jointsed.pipeline.evaluation): the eval folder,
the post-processing used, custom splits. On the shared ``trained_run`` (copies).
"""

from __future__ import annotations

from pathlib import Path

from helpers import VALIDATION_TSV, fresh_run_copy
from jointsed.data.annotations import read_strong_tsv
from jointsed.evaluate import format_table
from jointsed.pipeline import default_params, evaluate_checkpoint, score_split
from jointsed.postprocess import postprocess_scores



# ----- evaluate --run -----------------------------------------------------------------------------
def test_evaluate_checkpoint_writes_a_complete_eval_folder(trained_run, tiny_dataset, tmp_path):
    run = fresh_run_copy(trained_run, tmp_path)
    said: list[str] = []
    results = evaluate_checkpoint(run, tiny_dataset, progress=False, echo=said.append)
    out = "\n".join([*said, format_table(results)])  # what ``jointsed evaluate --run`` prints
    assert "Event-based F1, macro" in out and "PSDS1" in out and "default (Lin et al.)" in out

    from jointsed.report import build_report, read_eval_folder

    folder = read_eval_folder(run / "eval" / "validation")
    truth = read_strong_tsv(tiny_dataset / VALIDATION_TSV)
    assert sorted(folder.frame_scores) == sorted(Path(f).stem for f in truth.filenames)
    assert folder.info["split"] == "validation" and folder.info["postprocess"] is None
    assert folder.info["checkpoint_identity"]["mtime_ns"] == (run / "checkpoints" / "best.ckpt").stat().st_mtime_ns
    metrics = folder.metrics
    assert metrics["tagging"]["source"].startswith("clip scores")
    assert metrics["psds1"]["value"] is not None and metrics["psds_classes"]
    # the eval folder's events are Lin's post-processing of the raw scores
    scores = score_split(run, tiny_dataset, progress=False)
    expected = postprocess_scores(scores.clip_scores, scores.frame_scores, default_params(run), scores.frame_hop)
    assert sorted((e.filename, e.onset, e.event_label) for e in folder.predictions) == sorted(
        (e.filename, e.onset, e.event_label) for e in expected)
    index = build_report(run, n_clips=1, progress=False)
    assert index.is_file() and "PSD-ROC" in index.read_text()
