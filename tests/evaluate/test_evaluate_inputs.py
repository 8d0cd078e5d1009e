"""Evaluation inputs are checked like ground-truth tables: a frame-score file, a durations
table, a detection table or an operating-points folder that does not fit is an
``EvaluationError`` / ``AnnotationError`` naming the file and the line or clip (each of these
was accepted silently, or failed with a library traceback, before these checks)."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import EVAL_CLASSES, EVAL_EMPTY_CLIP, EVAL_HOP, EVAL_TRUTH, write_eval_dataset
from jointsed.data.annotations import AnnotationError, Event, write_durations_tsv, write_strong_tsv
from jointsed.evaluate import EvaluationError, evaluate_run, load_reference, write_frame_scores

CLASSES, HOP, TRUTH = EVAL_CLASSES, EVAL_HOP, EVAL_TRUTH
CLIPS = ("a.wav", "b.wav", "c.wav", EVAL_EMPTY_CLIP)


@pytest.fixture()
def dataset(tmp_path):
    return write_eval_dataset(tmp_path)


@pytest.fixture()
def scores(tmp_path):
    """A valid score folder (500 frames of 20 ms per clip); a.tsv is the file the cases edit."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "scores"
    write_frame_scores(folder, {name: rng.uniform(0, 1, (500, len(CLASSES))) for name in CLIPS}, HOP, CLASSES)
    return folder


def _edit(path, line: int, column: int | None = None, value: str | None = None, *, fields: int | None = None):
    """Line ``line`` (1 = header) of ``path`` with one field replaced, or cut to ``fields`` fields."""
    lines = path.read_text().splitlines()
    parts = lines[line - 1].split("\t")
    if fields is not None:
        parts = parts[:fields]
    else:
        parts[column] = value
    lines[line - 1] = "\t".join(parts)
    path.write_text("\n".join(lines) + "\n")


def test_valid_files_read_back_exactly(scores):
    from jointsed.evaluate.score_files import parse_score_file

    classes, stamps, values = parse_score_file(scores / "a.tsv")
    assert classes == list(CLASSES) and values.shape == (3, 500)
    np.testing.assert_array_equal(stamps, np.round(np.arange(501) * HOP, 6))
    # every number as Python's float() reads it (pandas' default parser can be 1 ulp off)
    rows = [line.split("\t") for line in (scores / "a.tsv").read_text().splitlines()[1:]]
    np.testing.assert_array_equal(values.T, np.array([[float(v) for v in r[2:]] for r in rows]))


@pytest.mark.parametrize("edit,message", [
    (dict(line=501, fields=3), r"a\.tsv, line 501: expected 5 tab-separated fields .* got 3 \(file cut short\?\)"),
    (dict(line=40, column=3, value="nan"), r"a\.tsv, line 40: score nan of Dog is not a number"),
    (dict(line=41, column=2, value="inf"), r"a\.tsv, line 41: score inf of Cat is not finite"),
    (dict(line=42, column=4, value="1.5"), r"a\.tsv, line 42: score 1\.5 of Speech is outside \[0, 1\]"),
    (dict(line=43, column=4, value="-0.01"), r"a\.tsv, line 43: score -0\.01 of Speech is outside \[0, 1\]"),
    (dict(line=44, column=2, value="high"), r"a\.tsv, line 44: 'high' is not a number"),
    (dict(line=10, column=0, value="0.17"), r"a\.tsv, line 10: frame onset 0\.17 is not the previous frame's offset "
                                            r"0\.16 \(a gap in the time column\)"),
    (dict(line=10, column=0, value="0.1"), r"a\.tsv, line 10: frame onset 0\.1 is not the previous frame's offset "
                                            r"0\.16 \(an overlap or a jump back in the time column\)"),
    (dict(line=10, column=1, value="0.16"), r"a\.tsv, line 10: frame offset 0\.16 is not after its onset 0\.16"),
])
def test_a_bad_frame_score_file_names_the_file_and_line(dataset, scores, edit, message):
    gt, durations = dataset
    _edit(scores / "a.tsv", **edit)
    with pytest.raises(EvaluationError, match=message):
        evaluate_run(gt, durations, scores=scores, classes=CLASSES)


def test_a_gap_of_a_missing_row_is_found(dataset, scores):
    gt, durations = dataset
    lines = (scores / "b.tsv").read_text().splitlines()
    (scores / "b.tsv").write_text("\n".join(lines[:100] + lines[101:]) + "\n")  # frame 99 removed
    with pytest.raises(EvaluationError, match=r"b\.tsv, line 101: frame onset 2 is not the previous frame's offset 1\.98"):
        evaluate_run(gt, durations, scores=scores, classes=CLASSES)


def test_in_memory_scores_are_checked_too(dataset):
    gt, durations = dataset
    arrays = {name: np.full((500, len(CLASSES)), 0.2) for name in CLIPS}
    arrays["c.wav"][7, 1] = np.nan
    with pytest.raises(EvaluationError, match=r"frame scores of c: score nan of Dog in frame 7"):
        evaluate_run(gt, durations, frame_scores=arrays, frame_hop=HOP, classes=CLASSES)


def test_ground_truth_after_the_clip_end_contradicts_the_durations(tmp_path, dataset, scores):
    gt, _ = dataset
    short = tmp_path / "short.tsv"
    write_durations_tsv(short, {"a.wav": 3.0, "b.wav": 10.0, "c.wav": 10.0, EVAL_EMPTY_CLIP: 10.0})
    # a.wav has Speech from 3.0 s: not in a 3-s clip (the library failed with "Recall not defined")
    with pytest.raises(AnnotationError, match=r"gt\.tsv \(ground truth, with the durations of .*short\.tsv\): 1 event\(s\) "
                                              r"start after the end of their clip.*a\.wav Speech 3-6\.5 s \(clip 3 s\)"):
        evaluate_run(gt, short, scores=scores, classes=CLASSES)
    # running past the end is kept, as DCASE does (DESED's validation set has such events)
    write_durations_tsv(short, {"a.wav": 6.0, "b.wav": 10.0, "c.wav": 10.0, EVAL_EMPTY_CLIP: 10.0})
    assert load_reference(gt, short, CLASSES).durations["a"] == 6.0


@pytest.mark.parametrize("text,message", [
    ("0", r"line 3: duration of b\.wav is zero"),
    ("-2", r"line 3: negative duration -2"),
])
def test_a_duration_of_zero_or_less_is_an_error(tmp_path, dataset, text, message):
    gt, _ = dataset
    bad = tmp_path / "bad.tsv"
    bad.write_text(f"filename\tduration\na.wav\t10\nb.wav\t{text}\nc.wav\t10\n{EVAL_EMPTY_CLIP}\t10\n")
    with pytest.raises(AnnotationError, match=message):
        load_reference(gt, bad, CLASSES)


def test_detections_beyond_every_clip_are_an_error(tmp_path, dataset):
    gt, durations = dataset
    predictions = tmp_path / "pred.tsv"
    write_strong_tsv(predictions, TRUTH + [Event("b.wav", 2500.0, 3000.0, "Dog")])  # milliseconds?
    with pytest.raises(EvaluationError, match=r"pred\.tsv: 1 detection\(s\) end after 10 s, the longest clip of .*gt\.tsv: "
                                              r"b Dog 2500-3000 s \(clip 10 s\)"):
        evaluate_run(gt, durations, predictions, classes=CLASSES)
    with pytest.raises(EvaluationError, match=r"detected events: 1 detection\(s\) end after 10 s"):
        evaluate_run(gt, durations, events=[Event("a.wav", 9.0, 10.2, "Cat")], classes=CLASSES)
    assert evaluate_run(gt, durations, events=[Event("a.wav", 9.0, 10.04, "Cat")], classes=CLASSES)[
        "detections_past_clip_end"] == 0  # within the tolerance


def test_detections_past_their_own_clip_are_counted(tmp_path, dataset):
    """A clip padded to the set's clip length can have detections after its end (the DCASE
    baseline's outputs do): scored, and counted for the CLI's warning."""
    gt, _ = dataset
    durations = tmp_path / "d.tsv"
    write_durations_tsv(durations, {"a.wav": 7.0, "b.wav": 10.0, "c.wav": 10.0, EVAL_EMPTY_CLIP: 10.0})
    results = evaluate_run(gt, durations, events=TRUTH + [Event("a.wav", 7.5, 9.0, "Cat")], classes=CLASSES)
    assert results["detections_past_clip_end"] == 1
    assert results["event_based"]["per_class"]["Cat"]["n_sys"] == 3


def test_in_memory_events_with_onset_not_before_offset_are_an_error(dataset):
    gt, durations = dataset
    with pytest.raises(EvaluationError, match=r"detected event Dog of clip b\.wav: onset 5 is not before offset 5"):
        evaluate_run(gt, durations, events=[Event("b.wav", 5.0, 5.0, "Dog")], classes=CLASSES)


@pytest.mark.parametrize("names,message", [
    (["p_0.50.tsv", "p_1.50.tsv"], r"p_1\.50\.tsv: decision threshold 1\.50 \(read from the file name\) is outside \[0, 1\]"),
    (["p_-0.5.tsv", "p_0.70.tsv"], r"p_-0\.5\.tsv: decision threshold -0\.5 .* outside \[0, 1\]"),
    (["p_0.5.tsv", "q_0.50.tsv"], r"q_0\.50\.tsv: a second operating point for threshold 0\.5"),
])
def test_operating_point_thresholds_must_be_distinct_and_in_0_1(tmp_path, dataset, names, message):
    gt, durations = dataset
    folder = tmp_path / "ops"
    folder.mkdir()
    for name in names:
        write_strong_tsv(folder / name, TRUTH)
    with pytest.raises(EvaluationError, match=message):
        evaluate_run(gt, durations, operating_points=folder, classes=CLASSES)


def test_a_minus_after_a_letter_is_a_separator(tmp_path, dataset):
    gt, durations = dataset
    folder = tmp_path / "ops"
    folder.mkdir()
    for name in ("pred-0.3.tsv", "pred-0.7.tsv"):
        write_strong_tsv(folder / name, TRUTH)
    assert evaluate_run(gt, durations, operating_points=folder, classes=CLASSES)["psds1"]["n_operating_points"] == 2


def test_frame_scores_beyond_every_clip_are_an_error(tmp_path, dataset):
    """Score files of 20-s clips against 10-s durations (another set's scores, or a frame hop
    in the wrong unit): named, with the clip and where its frames end."""
    gt, durations = dataset
    folder = tmp_path / "long"
    write_frame_scores(folder, {name: np.full((1000 if name == "b.wav" else 500, len(CLASSES)), 0.3)
                                for name in CLIPS}, HOP, CLASSES)
    with pytest.raises(EvaluationError, match=r"long: the frames of 1 clip\(s\) end after 10 s, the longest clip of "
                                              r".*gt\.tsv: b: frames to 20 s \(clip 10 s\)"):
        evaluate_run(gt, durations, scores=folder, classes=CLASSES)


def test_frame_scores_short_of_their_clip_are_counted(tmp_path, dataset, scores):
    """Durations longer than the scores (a durations table of another set) leave part of each
    clip without a score: counted (the CLI warns: tests/cli); scores past their own clip's end
    but within the longest (a short clip padded to the set's length) are not."""
    gt, _ = dataset
    durations = tmp_path / "d.tsv"
    write_durations_tsv(durations, {"a.wav": 8.0, "b.wav": 12.0, "c.wav": 12.0, EVAL_EMPTY_CLIP: 10.02})
    results = evaluate_run(gt, durations, scores=scores, classes=CLASSES)
    assert results["clips_with_scores_short_of_their_duration"] == 2  # b and c: 10 s of 12; d within tolerance


def test_reading_in_several_processes_gives_the_same_scores_and_errors(scores):
    """Large folders are parsed in one process per CPU: same arrays, same first error."""
    from jointsed.evaluate.score_files import read_score_folder

    one, two = read_score_folder(scores, workers=1), read_score_folder(scores, workers=2)
    assert one.ids == two.ids and one.classes == two.classes
    for a, b in zip(one.values + one.timestamps, two.values + two.timestamps):
        np.testing.assert_array_equal(a, b)
    _edit(scores / "c.tsv", line=7, column=3, value="nan")
    with pytest.raises(EvaluationError, match=r"c\.tsv, line 7: score nan of Dog"):
        read_score_folder(scores, workers=2)
