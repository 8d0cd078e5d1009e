"""Tuning a run's post-processing (jointsed.pipeline.tuning): postprocess.json, used by the
Detector; tuning on one split and evaluating on another; the PSDS1 objective. On the shared
``trained_run`` (copies).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import VALIDATION_TSV, fresh_run_copy
from jointsed.data.annotations import read_strong_tsv
from jointsed.postprocess.base import load_postprocessor
from jointsed.pipeline import default_params, evaluate_checkpoint, evaluate_scores, score_split, tune_run
from jointsed.postprocess import PostProcessingParams



# ----- tune ---------------------------------------------------------------------------------------
def test_tune_writes_postprocess_json_used_by_the_detector(trained_run, tiny_dataset, tmp_path):
    run = fresh_run_copy(trained_run, tmp_path)
    said: list[str] = []
    tune_run(run, tiny_dataset, progress=False, echo=said.append)
    printed = "\n".join(said)  # what ``jointsed tune`` prints
    assert "tag_threshold" in printed and "postprocess.json" in printed
    file = run / "postprocess.json"
    data = json.loads(file.read_text())
    assert data["info"]["tuned_on"]["split"] == "validation"
    assert data["info"]["tuned_on"]["objective"] == "event_f1"
    tuned = PostProcessingParams.load_json(file)
    base = default_params(run)

    # tuned F1 on the tuning split >= Lin's defaults (sed_eval, per class and macro)
    scores = score_split(run, tiny_dataset, progress=False)
    default_metrics, _, _ = evaluate_scores(scores, base)
    tuned_metrics, tuned_events, _ = evaluate_scores(scores, tuned, file)
    assert tuned_metrics["event_based"]["macro_f1"] >= default_metrics["event_based"]["macro_f1"] - 1e-12
    for c, entry in tuned_metrics["event_based"]["per_class"].items():
        before = default_metrics["event_based"]["per_class"][c]["f1"]
        if before is None:  # no ground-truth event of c: untouched by the tuning, F1 undefined
            assert entry["f1"] is None
        else:
            assert entry["f1"] >= before - 1e-12
    assert tuned_metrics["postprocess"]["tuned_on_this_set"] is True

    # the detector picks postprocess.json up and predicts with it
    from jointsed.inference import Detector

    detector = Detector.from_checkpoint(run)
    assert detector.postprocess_source == str(file)
    assert detector.params == tuned
    audio = tiny_dataset / "audio" / "validation"
    predicted = sorted((e.filename, round(e.onset, 6), round(e.offset, 6), e.event_label)
                       for p in detector.predict_many(sorted(audio.glob("*.wav")), progress=False) for e in p.events)
    expected = sorted((e.filename, round(e.onset, 6), round(e.offset, 6), e.event_label) for e in tuned_events)
    assert predicted == expected


def test_tune_on_one_split_and_evaluate_on_another(trained_run, tiny_dataset, tmp_path):
    run = fresh_run_copy(trained_run, tmp_path)
    result = tune_run(run, tiny_dataset, "synthetic", "event_f1", progress=False, echo=None)
    assert result.n_clips == len(read_strong_tsv(tiny_dataset / "metadata/train/synthetic.tsv").filenames)
    info = json.loads((run / "postprocess.json").read_text())["info"]["tuned_on"]
    assert info["split"] == "synthetic"

    metrics = evaluate_checkpoint(run, tiny_dataset, "validation", progress=False)
    assert metrics["postprocess"]["tuned_on"]["split"] == "synthetic"
    assert metrics["postprocess"]["tuned_on_this_set"] is False
    assert Path(metrics["eval_folder"]) == run / "eval" / "validation"

    # a custom (tsv, audio) split, named after the tsv; durations read from the audio
    custom = evaluate_checkpoint(run, None, tsv=tiny_dataset / VALIDATION_TSV,
                                 audio=tiny_dataset / "audio" / "validation", progress=False)
    assert custom["split"] == "validation" and custom["n_clips"] == metrics["n_clips"]
    named = evaluate_checkpoint(run, None, "holdout", tsv=tiny_dataset / VALIDATION_TSV,
                                audio=tiny_dataset / "audio" / "validation", progress=False)
    assert (run / "eval" / "holdout" / "metrics.json").is_file()
    assert (run / "scores" / "holdout" / "durations.tsv").is_file()
    assert named["event_based"]["macro_f1"] == pytest.approx(metrics["event_based"]["macro_f1"])


def test_psds1_objective(trained_run, tiny_dataset, tmp_path):
    run = fresh_run_copy(trained_run, tmp_path)
    result = tune_run(run, tiny_dataset, objective="psds1", progress=False, echo=None,
                      out=tmp_path / "psds.json")
    assert result.objective == "psds1" and result.tuned_score >= result.default_score
    assert not (run / "postprocess.json").exists()
    saved = load_postprocessor(tmp_path / "psds.json")
    assert saved == result.params
    # the tuner's PSDS1 on its tuning set is what the evaluator reports for the saved file there
    metrics = evaluate_checkpoint(run, tiny_dataset, "validation", postprocess=tmp_path / "psds.json",
                                  write=False, progress=False)
    assert metrics["psds1"]["value"] == pytest.approx(result.tuned_score, abs=1e-6)
    default = evaluate_checkpoint(run, tiny_dataset, "validation", postprocess=result.base_params,
                                  write=False, progress=False)
    assert default["psds1"]["value"] == pytest.approx(result.default_score, abs=1e-6)
