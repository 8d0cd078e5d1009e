"""Errors a newcomer hits first get a message that says what to do (exit 2, no traceback)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from jointsed.cli import main


ROOT = Path(__file__).resolve().parents[2]


def test_recipe_typo_suggests_the_right_recipe(capsys):
    assert main(["train", "cpu/gl_basline", "--data-root", "."]) == 2
    err = capsys.readouterr().err
    assert "recipe not found" in err and "did you mean cpu/gl_baseline" in err


def test_data_root_without_tables_says_what_is_missing(tmp_path, capsys):
    assert main(["train", "cpu/gl_baseline", "--data-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "metadata/train/weak.tsv" in err and "jointsed synth" in err
    assert main(["train", "cpu/gl_baseline", "--data-root", str(tmp_path / "no")]) == 2
    assert "folder not found" in capsys.readouterr().err


def test_predict_on_a_folder_without_audio_names_it(tmp_path, capsys):
    empty = tmp_path / "recordings"
    empty.mkdir()
    (empty / "notes.txt").write_text("not audio")
    assert main(["predict", str(tmp_path / "run"), str(empty), "--out", str(tmp_path / "p.tsv")]) == 2
    err = capsys.readouterr().err
    assert "no audio file" in err and str(empty) in err
    assert not (tmp_path / "p.tsv").exists()


@pytest.mark.parametrize("argv", [
    ["demo", "--device", "gpu", "--out", "{tmp}/demo"],
    ["predict", "{tmp}/run", "{tmp}/a.wav", "--out", "{tmp}/e.tsv", "--device", "cuda"],
    ["train", "cpu/gl_baseline", "--data-root", "{tmp}", "--accelerator", "gpu"],
    ["tune", "{tmp}/run", "--data-root", "{tmp}", "--device", "cuda"],
    ["evaluate", "--run", "{tmp}/run", "--data-root", "{tmp}", "--device", "cuda"],
])
def test_cli_says_how_to_get_cuda_torch(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch.version, "cuda", None)
    monkeypatch.chdir(__import__("pathlib").Path(__file__).resolve().parents[2])
    code = main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    err = capsys.readouterr().err
    assert code == 2
    assert "no CUDA GPU visible to torch" in err and "docs/gpu.md" in err
    assert "Traceback" not in err
    assert not (tmp_path / "demo").exists()  # nothing was started


def _wav(path: Path, seconds: float, sr: int = 16000) -> Path:
    sf.write(path, 0.1 * np.random.default_rng(0).standard_normal(int(seconds * sr)).astype(np.float32), sr,
             subtype="PCM_16")
    return path


def test_features_exit_status_says_files_were_skipped(tmp_path, capsys):
    good = _wav(tmp_path / "good.wav", 1.0)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt not a wav")
    code = main(["features", str(good), str(bad), "--cache", str(tmp_path / "cache"), "--workers", "1",
                     "--no-progress"])
    assert code == 1
    captured = capsys.readouterr()
    assert "bad.wav" in captured.err and "failed 1" in captured.out
    assert main(["features", str(good), "--cache", str(tmp_path / "cache"), "--workers", "1",
                     "--no-progress"]) == 0


@pytest.mark.parametrize("char", ["\t", "\n"])
def test_tab_or_newline_in_an_audio_name_is_a_message(char, tmp_path, capsys):
    audio = _wav(tmp_path / f"a{char}b.wav", 0.5)
    start = time.perf_counter()
    code = main(["predict", str(tmp_path / "no-model"), str(audio), "--out", str(tmp_path / "p.tsv")])
    assert code == 2
    err = capsys.readouterr().err
    assert "tab or line break" in err and repr(audio.name)[1:-1] in err
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize("case", ["cut_short_scores", "nan_score", "truth_after_clip_end", "detections_in_ms",
                                  "threshold_above_one"])
def test_evaluate_inputs_that_do_not_fit_are_one_line_errors(case, tmp_path, capsys):
    """Evaluation inputs are checked like the ground truth: exit 2, one line naming the file and
    the line or clip, no traceback, no --json written."""
    from helpers import EVAL_TRUTH, write_eval_dataset
    from jointsed.data.annotations import Event, write_durations_tsv, write_strong_tsv
    from jointsed.data.classes import DESED_CLASSES
    from jointsed.evaluate import write_frame_scores

    gt, durations = write_eval_dataset(tmp_path)
    scores = tmp_path / "scores"
    clips = ("a.wav", "b.wav", "c.wav", "d.wav")
    write_frame_scores(scores, {c: np.full((500, len(DESED_CLASSES)), 0.25) for c in clips}, 0.02, DESED_CLASSES)
    inputs, expected = ["--scores", str(scores)], None
    if case == "cut_short_scores":
        lines = (scores / "b.tsv").read_text().splitlines()
        (scores / "b.tsv").write_text("\n".join(lines[:-1] + ["\t".join(lines[-1].split("\t")[:4])]))
        expected = "b.tsv, line 501: expected 12 tab-separated fields"
    elif case == "nan_score":
        text = (scores / "c.tsv").read_text().splitlines()
        text[3] = text[3].rsplit("\t", 1)[0] + "\tnan"
        (scores / "c.tsv").write_text("\n".join(text) + "\n")
        expected = "c.tsv, line 4: score nan of Vacuum_cleaner is not a number"
    elif case == "truth_after_clip_end":
        write_durations_tsv(durations, {"a.wav": 2.5, "b.wav": 10.0, "c.wav": 10.0, "d.wav": 10.0})
        expected = "start after the end of their clip"
    elif case == "detections_in_ms":
        predictions = tmp_path / "pred.tsv"
        write_strong_tsv(predictions, [Event(e.filename, e.onset * 1000, e.offset * 1000, e.event_label)
                                       for e in EVAL_TRUTH])
        inputs, expected = ["--predictions", str(predictions)], "pred.tsv: 6 detection(s) end after 10 s"
    else:
        (tmp_path / "ops").mkdir()
        for name in ("p_0.5.tsv", "p_2.tsv"):
            write_strong_tsv(tmp_path / "ops" / name, EVAL_TRUTH)
        inputs, expected = ["--operating-points", str(tmp_path / "ops")], "p_2.tsv: decision threshold 2"
    out = tmp_path / "results.json"
    code = main(["evaluate", str(gt), "--durations", str(durations), *inputs, "--json", str(out)])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith("jointsed evaluate: error: ") and expected in lines[0], err
    assert "Traceback" not in err
    assert not out.exists()
