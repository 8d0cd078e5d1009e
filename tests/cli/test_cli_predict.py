"""``jointsed predict``: events and frame-score files written, refusals, and the whole chain
synth -> train -> predict -> evaluate through the command line."""

from __future__ import annotations

import numpy as np

from helpers import GL_RECIPE, tone_file
from jointsed.cli import main as cli_main
from jointsed.data.annotations import read_strong_tsv
from jointsed.evaluate.io import read_frame_scores
from jointsed.inference import Detector
from jointsed.postprocess.apply import postprocess_frame_scores
from jointsed.training.config import load_recipe


def test_cli_predict_writes_events_and_frame_scores(gl_model, tmp_path):
    (tmp_path / "in").mkdir()
    a = tone_file(tmp_path / "in" / "a.wav", 12.0, 48000, 2, [(300.0, 1.0, 4.0)])
    b = tone_file(tmp_path / "in" / "b.wav", 5.0, 16000, 1, [])
    out = tmp_path / "pred.tsv"
    scores = tmp_path / "scores"
    code = cli_main(["predict", str(gl_model), str(tmp_path / "in"), "--out", str(out), "--scores", str(scores),
                     "--no-progress"])
    assert code == 0
    table = read_strong_tsv(out)
    assert set(table.filenames) == {"a.wav", "b.wav"}
    for e in table.events:
        assert 0 <= e.onset < e.offset <= (12.0 if e.filename == "a.wav" else 5.0) + 1e-6
    frames = read_frame_scores(scores)
    assert set(frames) == {"a", "b"}
    hop = load_recipe(gl_model / "config.yaml").features.frame_hop  # the CPU recipe: 40 ms
    assert len(frames["a"]) == round(12.0 / hop) and len(frames["b"]) == round(5.0 / hop)
    assert list(frames["a"].columns[2:]) == load_recipe(gl_model / "config.yaml").data.classes
    # times in whole milliseconds (DETECTION_DECIMALS), not 10.040000000000001
    rows = [line.split("\t") for line in out.read_text().splitlines()[1:]]
    assert all(len(t.partition(".")[2]) <= 3 for row in rows for t in row[1:3])
    # an existing --out is not replaced without --force (as --scores), and is left as it was
    before = out.read_text()
    assert cli_main(["predict", str(gl_model), str(b), "--out", str(out), "--no-progress"]) == 2
    assert out.read_text() == before
    # an existing --scores folder is not replaced without --force
    assert cli_main(["predict", str(gl_model), str(a), "--out", str(out), "--scores", str(scores)]) == 2
    assert cli_main(["predict", str(gl_model), str(b), "--out", str(out), "--scores", str(scores), "--force",
                     "--no-progress"]) == 0
    # --scores holds what the evaluation scores (gated, median-filtered); --raw-scores the
    # networks' probabilities
    detector = Detector.from_checkpoint(gl_model)
    pred = detector.predict(a)
    np.testing.assert_allclose(frames["a"].iloc[:, 2:].to_numpy(), postprocess_frame_scores(
        pred.clip_scores, pred.frame_scores, detector.params), atol=1e-6)
    raw = {}
    for precision in ("fp32", "bf16"):
        assert cli_main(["predict", str(gl_model), str(a), "--out", str(tmp_path / f"{precision}.tsv"),
                         "--scores", str(tmp_path / precision), "--raw-scores", "--precision", precision,
                         "--no-progress"]) == 0
        raw[precision] = read_frame_scores(tmp_path / precision)["a"].iloc[:, 2:].to_numpy()
    np.testing.assert_allclose(raw["fp32"], pred.frame_scores, atol=1e-6)
    assert not np.allclose(raw["fp32"], frames["a"].iloc[:, 2:].to_numpy())  # the gating / filter applied
    # --precision bf16: scores within bfloat16's rounding
    assert 0 < np.abs(raw["bf16"] - raw["fp32"]).max() < 0.03
    # --raw-scores without --scores is a mistake, not silently ignored
    assert cli_main(["predict", str(gl_model), str(a), "--out", str(tmp_path / "x.tsv"), "--raw-scores"]) == 2
    assert not (tmp_path / "x.tsv").exists()


def test_synthesized_dataset_train_predict_evaluate(tiny_dataset, tmp_path, capsys):
    """End to end on `jointsed synth --preset tiny` data: train (CLI), predict (CLI), evaluate (CLI)."""
    run = tmp_path / "run"
    sets = ["model.teacher.width=0.125", "model.student.channels=[4,4,4]", "batch.batch_size=8",
            "trainer.max_epochs=1", "trainer.num_threads=1"]
    assert cli_main(["train", str(GL_RECIPE), "--data-root", str(tiny_dataset), "--out", str(run), "--no-progress",
                     *[f"--set={s}" for s in sets]]) == 0
    # the summary's event F1 (often 0.0 after 1 epoch) is said to be at the untuned thresholds
    assert "(validation, at the untuned 0.5 thresholds;" in capsys.readouterr().out
    out, scores = tmp_path / "pred.tsv", tmp_path / "scores"
    val_audio = tiny_dataset / "audio" / "validation"
    assert cli_main(["predict", str(run), str(val_audio), "--out", str(out), "--scores", str(scores),
                     "--no-progress"]) == 0
    gt = tiny_dataset / "metadata" / "validation" / "validation.tsv"
    durations = tiny_dataset / "metadata" / "validation" / "validation_durations.tsv"
    results = tmp_path / "results.json"
    # (--scores is left out: with 6 validation clips some classes have no ground-truth event, which
    # sed_scores_eval refuses)
    assert cli_main(["evaluate", str(gt), "--durations", str(durations), "--predictions", str(out),
                     "--json", str(results)]) == 0
    assert results.is_file()
    from jointsed.evaluate.io import load_reference

    reference = load_reference(gt, durations)
    assert set(read_frame_scores(scores, reference)) == set(reference.events)
