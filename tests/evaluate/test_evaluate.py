"""Evaluator on small synthetic cases with known answers, score-folder round trip, CLI."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import EVAL_CLASSES, EVAL_EMPTY_CLIP, EVAL_HOP, EVAL_TRUTH, write_eval_dataset

from jointsed.data.annotations import Event, write_durations_tsv, write_strong_tsv
from jointsed.data.label_encoder import LabelEncoder
from jointsed.evaluate import (
    EvaluationError,
    evaluate_run,
    format_table,
    load_reference,
    read_frame_scores,
    write_frame_scores,
)
from jointsed.evaluate.io import detect_prediction_kind


CLASSES, HOP, TRUTH, EMPTY_CLIP = EVAL_CLASSES, EVAL_HOP, EVAL_TRUTH, EVAL_EMPTY_CLIP


@pytest.fixture()
def dataset(tmp_path):
    return write_eval_dataset(tmp_path)


def _scores_from_events(events):
    """Perfect frame scores: 1 on the frames of each event, 0 elsewhere."""
    encoder = LabelEncoder(CLASSES, frame_hop=HOP, n_frames=500)
    clips = {"a.wav": [], "b.wav": [], "c.wav": [], EMPTY_CLIP: []}
    for e in events:
        clips[e.filename].append(e)
    return {name: encoder.encode_strong(evs) for name, evs in clips.items()}


def test_perfect_detections_score_one(dataset, tmp_path):
    gt, durations = dataset
    predictions = tmp_path / "pred.tsv"
    # filenames without extension must still match the ground truth
    stripped = [Event(e.filename[:-4], e.onset, e.offset, e.event_label) for e in TRUTH]
    write_strong_tsv(predictions, stripped)
    results = evaluate_run(gt, durations, predictions, classes=CLASSES)
    for family in ("event_based", "segment_based", "tagging", "intersection"):
        assert results[family]["macro_f1"] == pytest.approx(1.0), family
        assert all(v["f1"] == pytest.approx(1.0) for v in results[family]["per_class"].values())
    assert results["event_based"]["micro_f1"] == pytest.approx(1.0)
    assert results["clips_outside_ground_truth"] == 0


def test_empty_predictions_score_zero(dataset, tmp_path):
    gt, durations = dataset
    predictions = tmp_path / "pred.tsv"
    write_strong_tsv(predictions, [])
    results = evaluate_run(gt, durations, predictions, classes=CLASSES)
    for family in ("event_based", "segment_based", "tagging", "intersection"):
        assert results[family]["macro_f1"] == 0.0, family


def test_half_right_detections(dataset, tmp_path):
    """Known answer: every Dog event found, every Speech event missed, one false Cat."""
    gt, durations = dataset
    predictions = tmp_path / "pred.tsv"
    found = [e for e in TRUTH if e.event_label in ("Dog", "Cat")]
    write_strong_tsv(predictions, found + [Event("d.wav", 1.0, 2.0, "Cat")])
    results = evaluate_run(gt, durations, predictions, classes=CLASSES)
    per_class = results["event_based"]["per_class"]
    assert per_class["Dog"]["f1"] == pytest.approx(1.0)
    assert per_class["Speech"]["f1"] == pytest.approx(0.0)
    assert per_class["Cat"]["f1"] == pytest.approx(2 * 2 / (2 * 2 + 1))  # TP 2, FP 1, FN 0
    assert results["tagging"]["per_class"]["Cat"]["precision"] == pytest.approx(2 / 3)


def test_frame_score_round_trip_and_perfect_scores(dataset, tmp_path):
    gt, durations = dataset
    scores = _scores_from_events(TRUTH)
    folder = tmp_path / "scores"
    write_frame_scores(folder, scores, HOP, CLASSES)
    assert sorted(p.name for p in folder.iterdir()) == ["a.tsv", "b.tsv", "c.tsv", "d.tsv"]
    assert detect_prediction_kind(folder) == "scores"
    reference = load_reference(gt, durations, CLASSES)
    back = read_frame_scores(folder, reference)
    for name, array in scores.items():
        frame = back[name[:-4]]
        np.testing.assert_allclose(frame[list(CLASSES)].to_numpy(), array)
        np.testing.assert_allclose(frame["onset"].to_numpy(), np.arange(500) * HOP, atol=1e-9)
    with pytest.raises(FileExistsError):
        write_frame_scores(folder, scores, HOP, CLASSES)

    results = evaluate_run(gt, durations, scores=folder, classes=CLASSES)
    for family in ("event_based", "segment_based", "tagging", "intersection"):
        assert results[family]["macro_f1"] == pytest.approx(1.0), family
        assert results[family]["source"].startswith("frame scores")
    assert results["psds1"]["value"] == pytest.approx(1.0)
    assert results["psds2"]["value"] == pytest.approx(1.0)
    assert set(results["psds1"]["per_class"]) == set(CLASSES)


def test_noisy_scores_rank_below_perfect(dataset, tmp_path):
    gt, durations = dataset
    rng = np.random.default_rng(0)
    # smooth noise (constant over 1 s blocks) that sometimes outscores true events
    scores = {k: v * 0.4 + np.repeat(rng.uniform(0, 0.6, (10, v.shape[1])), 50, axis=0)
              for k, v in _scores_from_events(TRUTH).items()}
    write_frame_scores(tmp_path / "scores", scores, HOP, CLASSES)
    results = evaluate_run(gt, durations, tmp_path / "scores", classes=CLASSES)
    assert 0.0 < results["psds1"]["value"] < 1.0
    assert 0.0 <= results["event_based"]["macro_f1"] < 1.0


def test_operating_points_perfect_psds(dataset, tmp_path):
    gt, durations = dataset
    folder = tmp_path / "ops"
    folder.mkdir()
    for threshold in (0.3, 0.5, 0.7):
        write_strong_tsv(folder / f"predictions_th_{threshold:.2f}.tsv", TRUTH)
    assert detect_prediction_kind(folder) == "operating_points"
    results = evaluate_run(gt, durations, operating_points=folder, classes=CLASSES)
    assert results["psds1"]["value"] == pytest.approx(1.0)
    assert results["psds1"]["library"] == "psds_eval"
    assert "event_based" not in results


def test_missing_inputs_are_named(dataset, tmp_path):
    gt, durations = dataset
    scores = _scores_from_events(TRUTH)
    del scores["b.wav"]
    write_frame_scores(tmp_path / "scores", scores, HOP, CLASSES)
    with pytest.raises(EvaluationError, match=r"no score file for 1 of 4 clip\(s\).*b\.tsv"):
        evaluate_run(gt, durations, scores=tmp_path / "scores", classes=CLASSES)
    short = tmp_path / "short.tsv"
    write_durations_tsv(short, {"a.wav": 10.0})
    with pytest.raises(EvaluationError, match=r"short\.tsv: no duration for 3 clip"):
        evaluate_run(gt, short, scores=tmp_path / "scores", classes=CLASSES)
    with pytest.raises(EvaluationError, match="nothing to evaluate"):
        evaluate_run(gt, durations, classes=CLASSES)


def test_format_table_from_scores(dataset, tmp_path):
    gt, durations = dataset
    write_frame_scores(tmp_path / "s", _scores_from_events(TRUTH), HOP, CLASSES)
    table = format_table(evaluate_run(gt, durations, tmp_path / "s", classes=CLASSES))
    assert "PSDS1" in table and "sed_scores_eval" in table and "Speech" in table


def test_overlapping_same_class_events_are_merged(tmp_path):
    from jointsed.evaluate.io import merge_overlaps

    events = [(3.0, 4.0, "Dog"), (0.0, 2.0, "Dog"), (1.0, 2.5, "Dog"), (2.5, 2.7, "Dog")]
    merged, absorbed = merge_overlaps(events + [(1.0, 2.0, "Cat")])
    assert merged == [(0.0, 2.7, "Dog"), (1.0, 2.0, "Cat"), (3.0, 4.0, "Dog")]
    assert absorbed == 2

    # psds_eval and sed_scores_eval reject such ground truth; the evaluator merges it
    gt, durations = tmp_path / "gt.tsv", tmp_path / "d.tsv"
    overlapping = TRUTH + [Event("a.wav", 1.5, 2.5, "Dog")]
    write_strong_tsv(gt, overlapping, empty_files=[EMPTY_CLIP])
    write_durations_tsv(durations, {n: 10.0 for n in ("a.wav", "b.wav", "c.wav", EMPTY_CLIP)})
    write_frame_scores(tmp_path / "s", _scores_from_events(overlapping), HOP, CLASSES)
    predictions = tmp_path / "p.tsv"
    write_strong_tsv(predictions, overlapping)
    results = evaluate_run(gt, durations, [predictions, tmp_path / "s"], classes=CLASSES)
    assert results["ground_truth_events_merged"] == 1
    assert results["event_based"]["macro_f1"] == pytest.approx(1.0)
    assert results["intersection"]["macro_f1"] == pytest.approx(1.0)
    assert results["psds1"]["value"] == pytest.approx(1.0)


@pytest.mark.parametrize("onset_shift,hit", [(0.19, True), (-0.19, True), (0.21, False), (-0.21, False)])
def test_event_collar_is_200_ms_on_onsets(dataset, onset_shift, hit):
    """The official event-based setting (t_collar 0.2 s), checked without ../shared: an onset
    0.19 s off still matches, 0.21 s off does not (a 0.25 s collar would pass both)."""
    gt, durations = dataset
    detections = [Event(e.filename, e.onset, e.offset, e.event_label) for e in TRUTH]
    shifted = Event("a.wav", 3.0 + onset_shift, 6.5, "Speech")  # a 3.5 s Speech event
    detections[1] = shifted
    results = evaluate_run(gt, durations, events=detections, classes=CLASSES)
    speech = results["event_based"]["per_class"]["Speech"]
    assert speech["n_ref"] == 2 and speech["n_sys"] == 2
    assert speech["f1"] == pytest.approx(1.0 if hit else 0.5)


@pytest.mark.parametrize("index,detection,hit", [
    (4, Event("c.wav", 0.0, 8.1, "Speech"), True),   # 10 s event: offset collar 2 s
    (4, Event("c.wav", 0.0, 7.9, "Speech"), False),
    (0, Event("a.wav", 0.5, 2.29, "Dog"), True),     # 1.5 s event: offset collar 0.3 s
    (0, Event("a.wav", 0.5, 2.31, "Dog"), False),
    (5, Event("c.wav", 2.2, 2.99, "Cat"), True),     # 0.6 s event: offset collar 0.2 s
    (5, Event("c.wav", 2.2, 3.01, "Cat"), False),
])
def test_event_offset_collar_is_20_percent_of_the_event(dataset, index, detection, hit):
    """Offsets match within max(0.2 s, 20 % of the reference event's length) (sed_eval's
    percentage_of_length 0.2)."""
    gt, durations = dataset
    detections = [Event(e.filename, e.onset, e.offset, e.event_label) for e in TRUTH]
    detections[index] = detection
    results = evaluate_run(gt, durations, events=detections, classes=CLASSES)
    per_class = results["event_based"]["per_class"][detection.event_label]
    n_ref = sum(e.event_label == detection.event_label for e in TRUTH)
    expected = 1.0 if hit else 2 * (n_ref - 1) / (2 * n_ref)
    assert per_class["f1"] == pytest.approx(expected)


# ------------------------------------------------------------------ settings, counts, clip F1
def test_metric_settings_are_the_dcase_definitions(dataset, tmp_path):
    """DCASE Task 4: collars 200 ms / 20 %, 1 s segments, intersection F1 0.5/0.5 (CTTC 0.3),
    PSDS1 (0.7, 0.7, alpha_ct 0, alpha_st 1, 100/h), PSDS2 (0.1, 0.1, CTTC 0.3, alpha_ct 0.5,
    alpha_st 1, 100/h); the results record them under these keys."""
    import dataclasses

    from jointsed.evaluate.settings import (
        EVENT_COLLARS,
        INTERSECTION_F1,
        PSDS1,
        PSDS2,
        SEGMENT_LENGTH,
        EventCollars,
        IntersectionCriteria,
        PSDSScenario,
    )

    assert EVENT_COLLARS == EventCollars(t_collar=0.2, percentage_of_length=0.2)
    assert EVENT_COLLARS.offset_collar(10.0) == pytest.approx(2.0)
    assert EVENT_COLLARS.offset_collar(0.6) == pytest.approx(0.2)
    assert SEGMENT_LENGTH == 1.0
    assert INTERSECTION_F1 == IntersectionCriteria(dtc_threshold=0.5, gtc_threshold=0.5, cttc_threshold=0.3)
    psds1 = dict(dtc_threshold=0.7, gtc_threshold=0.7, cttc_threshold=None, alpha_ct=0.0, alpha_st=1.0,
                 max_efpr=100.0)
    psds2 = dict(dtc_threshold=0.1, gtc_threshold=0.1, cttc_threshold=0.3, alpha_ct=0.5, alpha_st=1.0,
                 max_efpr=100.0)
    assert PSDS1 == PSDSScenario(**psds1) and PSDS2 == PSDSScenario(**psds2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        PSDS1.alpha_ct = 0.5  # type: ignore[misc]
    gt, durations = dataset
    write_frame_scores(tmp_path / "scores", _scores_from_events(TRUTH), HOP, CLASSES)
    results = evaluate_run(gt, durations, scores=tmp_path / "scores", classes=CLASSES)
    assert results["psds1"]["settings"] == psds1 and results["psds2"]["settings"] == psds2
