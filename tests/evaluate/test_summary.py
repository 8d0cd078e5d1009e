"""``evaluate_run`` (jointsed.evaluate.summary): clip scores for tagging, classes without ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import VALIDATION_DUR, VALIDATION_TSV
from jointsed.data.annotations import read_strong_tsv
from jointsed.data.classes import DESED_CLASSES
from jointsed.evaluate import EvaluationError, evaluate_run, format_table, write_frame_scores


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
