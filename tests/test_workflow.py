"""Evaluation pipeline (jointsed.workflow, ``jointsed evaluate --run``, ``jointsed tune``) and the
``evaluate_run`` extensions (clip scores for tagging, classes without ground truth).

One tiny guided-learning run is trained once on ``conftest.tiny_dataset`` (10-s clips, some
classes without any validation event) and shared by the tests of this module.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from jointsed.cli import main as cli_main
from jointsed.data.annotations import read_strong_tsv
from jointsed.data.classes import DESED_CLASSES
from jointsed.evaluate import EvaluationError, evaluate_run, format_table, write_frame_scores
from jointsed.postprocess import PostProcessingParams, postprocess_scores
from jointsed.training.config import load_recipe
from jointsed.training.phases import train
from jointsed.pipeline import (
    PipelineError,
    default_params,
    demo_recipe,
    evaluate_checkpoint,
    evaluate_scores,
    score_split,
    tune_run,
)
from jointsed.recipes import recipes_root

REPO = Path(__file__).resolve().parents[1]
GL_RECIPE = recipes_root() / "cpu" / "gl_baseline.yaml"
TINY_GL = [
    "trainer.num_threads=1",
    "trainer.max_epochs=2",
    "model.teacher.width=0.25",
    "model.student.channels=[8,8,8]",
    "model.teacher.bn_momentum=0.1",
    "model.student.bn_momentum=0.1",
    "batch.batch_size=8",
    "optimizer.lr=0.01",
    "guided_learning.teacher_weight_start=1",
]
VALIDATION_TSV = "metadata/validation/validation.tsv"
VALIDATION_DUR = "metadata/validation/validation_durations.tsv"


@pytest.fixture(scope="module")
def trained_run(tiny_dataset, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("workflow") / "run"
    train(load_recipe(GL_RECIPE, TINY_GL), tiny_dataset, run, progress=False)
    return run


def _fresh_copy(run: Path, tmp_path: Path) -> Path:
    """A copy of the run's config and checkpoints (tests that write postprocess.json / eval/)."""
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("scores", "eval", "postprocess.json", "report"))
    return copy


# ----- evaluate_run extensions ------------------------------------------------------------------
def test_evaluate_run_with_classes_without_ground_truth(tiny_dataset, tmp_path):
    gt, dur = tiny_dataset / VALIDATION_TSV, tiny_dataset / VALIDATION_DUR
    truth = read_strong_tsv(gt)
    present = [c for c in DESED_CLASSES if any(e.event_label == c for e in truth.events)]
    assert 0 < len(present) < len(DESED_CLASSES), "the tiny validation set should miss some classes"
    rng = np.random.default_rng(0)
    write_frame_scores(tmp_path / "scores", {f: rng.random((500, 10)) for f in truth.filenames}, 0.02,
                       DESED_CLASSES)
    results = evaluate_run(gt, dur, scores=tmp_path / "scores")
    assert results["psds_classes"] == present
    assert set(results["classes_without_ground_truth"]) == set(DESED_CLASSES) - set(present)
    for name in ("psds1", "psds2"):
        assert 0.0 <= results[name]["value"] <= 1.0
        assert set(results[name]["per_class"]) == set(present)
    for family in ("event_based", "segment_based", "intersection"):
        assert set(results[family]["per_class"]) <= set(present)
    assert "without: " in format_table(results)


def test_evaluate_run_without_any_ground_truth_event(tmp_path):
    (tmp_path / "gt.tsv").write_text("filename\tonset\toffset\tevent_label\na.wav\t\t\t\n")
    (tmp_path / "dur.tsv").write_text("filename\tduration\na.wav\t10.0\n")
    results = evaluate_run(tmp_path / "gt.tsv", tmp_path / "dur.tsv",
                           frame_scores={"a.wav": np.full((500, 10), 0.7)}, frame_hop=0.02)
    assert results["psds1"]["value"] is None and results["psds_classes"] == []
    assert "PSDS1" in format_table(results)


def test_evaluate_run_tags_from_clip_scores_at_per_class_thresholds(tiny_dataset):
    gt, dur = tiny_dataset / VALIDATION_TSV, tiny_dataset / VALIDATION_DUR
    truth = read_strong_tsv(gt)
    tags = {f: {e.event_label for e in evs} for f, evs in truth.by_file().items()}
    # perfect clip scores for every class: 0.6 where present, 0.4 where absent
    clip = {f: np.array([0.6 if c in tags[f] else 0.4 for c in DESED_CLASSES]) for f in truth.filenames}
    perfect = evaluate_run(gt, dur, clip_scores=clip, tag_threshold=0.5)
    assert perfect["tagging"]["macro_f1"] == pytest.approx(1.0)
    assert "clip scores" in perfect["tagging"]["source"]
    # a threshold above 0.6 for one class present in the ground truth misses it everywhere
    missed = next(c for c in DESED_CLASSES if any(c in t for t in tags.values()))
    thresholds = [0.7 if c == missed else 0.5 for c in DESED_CLASSES]
    worse = evaluate_run(gt, dur, clip_scores=clip, tag_threshold=thresholds)
    assert worse["tagging"]["per_class"][missed]["f1"] == 0.0
    assert worse["tagging"]["macro_f1"] < 1.0
    with pytest.raises(EvaluationError, match="one per class"):
        evaluate_run(gt, dur, clip_scores=clip, tag_threshold=[0.5, 0.5])
    with pytest.raises(EvaluationError, match="no clip scores"):
        evaluate_run(gt, dur, clip_scores=dict(list(clip.items())[:2]))


# ----- scoring and reuse --------------------------------------------------------------------------
def test_score_split_is_reused_for_the_same_checkpoint(trained_run, tiny_dataset, monkeypatch):
    first = score_split(trained_run, tiny_dataset, progress=False, reuse=False)
    truth = read_strong_tsv(tiny_dataset / VALIDATION_TSV)
    assert first.filenames == truth.filenames and not first.reused
    assert all(s.shape == (500, 10) for s in first.frame_scores.values())
    assert all(s.shape == (10,) for s in first.clip_scores.values())

    from jointsed.inference import Detector

    def no_model(*args, **kwargs):
        raise AssertionError("the model should not run again")

    monkeypatch.setattr(Detector, "predict_many", no_model)
    again = score_split(trained_run, tiny_dataset, progress=False)
    assert again.reused
    for name in first.filenames:
        np.testing.assert_array_equal(again.frame_scores[name], first.frame_scores[name])
        np.testing.assert_array_equal(again.clip_scores[name], first.clip_scores[name])
    # a retrained checkpoint (new modification time) is scored again
    ckpt = trained_run / "checkpoints" / "best.ckpt"
    stat = ckpt.stat()
    os.utime(ckpt, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    with pytest.raises(AssertionError, match="should not run again"):
        score_split(trained_run, tiny_dataset, progress=False)


def test_unknown_split_and_half_custom_split_are_clear_errors(trained_run, tiny_dataset):
    with pytest.raises(PipelineError, match="unknown split 'test'"):
        score_split(trained_run, tiny_dataset, "test", progress=False)
    with pytest.raises(PipelineError, match="--audio"):
        score_split(trained_run, tiny_dataset, tsv=tiny_dataset / VALIDATION_TSV, progress=False)
    with pytest.raises(PipelineError, match="--data-root"):
        score_split(trained_run, None, "validation", progress=False)


# ----- evaluate --run -----------------------------------------------------------------------------
def test_cli_evaluate_run_writes_a_complete_eval_folder(trained_run, tiny_dataset, tmp_path, capsys):
    run = _fresh_copy(trained_run, tmp_path)
    code = cli_main(["evaluate", "--run", str(run), "--data-root", str(tiny_dataset), "--no-progress"])
    assert code == 0
    out = capsys.readouterr().out
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
    expected = postprocess_scores(scores.clip_scores, scores.frame_scores, default_params(run), 0.02)
    assert sorted((e.filename, e.onset, e.event_label) for e in folder.predictions) == sorted(
        (e.filename, e.onset, e.event_label) for e in expected)
    index = build_report(run, n_clips=1, progress=False)
    assert index.is_file() and "PSD-ROC" in index.read_text()


def test_cli_evaluate_keeps_the_files_mode_and_checks_modes(tiny_dataset, tmp_path, capsys):
    gt, dur = tiny_dataset / VALIDATION_TSV, tiny_dataset / VALIDATION_DUR
    truth = read_strong_tsv(gt)
    write_frame_scores(tmp_path / "s", {f: np.full((500, 10), 0.3) for f in truth.filenames}, 0.02, DESED_CLASSES)
    assert cli_main(["evaluate", str(gt), "--durations", str(dur), "--scores", str(tmp_path / "s")]) == 0
    assert "PSDS1" in capsys.readouterr().out
    assert cli_main(["evaluate", "--run", str(tmp_path)]) == 2
    assert "--data-root" in capsys.readouterr().err
    assert cli_main(["evaluate", str(gt), "--scores", str(tmp_path / "s")]) == 2
    assert "--durations" in capsys.readouterr().err


# ----- tune ---------------------------------------------------------------------------------------
def test_tune_writes_postprocess_json_used_by_the_detector(trained_run, tiny_dataset, tmp_path, capsys):
    run = _fresh_copy(trained_run, tmp_path)
    code = cli_main(["tune", str(run), "--data-root", str(tiny_dataset), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
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
    run = _fresh_copy(trained_run, tmp_path)
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
    run = _fresh_copy(trained_run, tmp_path)
    result = tune_run(run, tiny_dataset, objective="psds1", progress=False, echo=None,
                      out=tmp_path / "psds.json")
    assert result.objective == "psds1" and result.tuned_score >= result.default_score
    assert not (run / "postprocess.json").exists() and (tmp_path / "psds.json").is_file()


def test_demo_recipe_is_found_from_the_package_not_the_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recipe = demo_recipe()
    assert recipe.is_file() and recipe.parent.parent.name == "recipes"
    assert load_recipe(recipe).system in ("guided_learning", "mean_teacher")
