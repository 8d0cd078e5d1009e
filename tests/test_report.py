"""``jointsed report``: evaluation-folder round trip, the HTML page and its figures on a small fake
run (tone clips, noisy frame scores, metrics from the real ``evaluate_run``), error messages."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from jointsed.audio.features import FeatureConfig
from jointsed.cli import main
from jointsed.data.annotations import Event, write_durations_tsv, write_strong_tsv
from jointsed.data.classes import DESED_CLASSES
from jointsed.data.label_encoder import LabelEncoder
from jointsed.evaluate import evaluate_run, write_frame_scores
from jointsed.evaluate.io import audio_id
from jointsed.report import ReportError, build_report, read_eval_folder, write_eval_folder
from jointsed.report.analysis import events_to_frames, frame_confusion, select_clips
from jointsed.report.html import format_percent, format_psds
from jointsed.report.training_logs import epoch_curves, read_training_logs

SR = 16000
HOP = 0.02
N_FRAMES = 500
CLASSES = list(DESED_CLASSES)


# ------------------------------------------------------------------------ fake run


def _clip_events(rng: np.random.Generator, name: str, index: int) -> list[Event]:
    """Two fixed classes (so that a few clips cover every class, as PSDS requires) + 0-2 random."""
    labels = {CLASSES[(2 * index) % len(CLASSES)], CLASSES[(2 * index + 1) % len(CLASSES)]}
    labels |= set(rng.choice(CLASSES, size=int(rng.integers(0, 3)), replace=False))
    events = []
    for label in sorted(labels):
        length = float(rng.uniform(0.6, 4.0))
        onset = float(rng.uniform(0.0, 10.0 - length))
        events.append(Event(name, round(onset, 2), round(onset + length, 2), str(label)))
    return events


def _tone_clip(events: list[Event], rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(10 * SR)) / SR
    wav = 0.01 * rng.standard_normal(t.size)
    freqs = dict(zip(CLASSES, np.geomspace(250.0, 6000.0, len(CLASSES))))
    for e in events:
        a, b = int(e.onset * SR), int(e.offset * SR)
        wav[a:b] += 0.2 * np.sin(2 * np.pi * freqs[e.event_label] * t[a:b])
    return wav.astype(np.float32)


def _noisy_scores(truth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ground truth blurred in time with a random gain per class (some events barely detected),
    leaking into the next class, plus a few false bumps and smoothed noise."""
    n_frames, n_classes = truth.shape

    def smooth(x: np.ndarray, width: int) -> np.ndarray:
        kernel = np.ones(width) / width
        return np.apply_along_axis(lambda column: np.convolve(column, kernel, mode="same"), 0, x)

    blurred = smooth(truth, 15) * rng.uniform(0.3, 1.0, n_classes)
    bumps = np.zeros_like(truth)
    for _ in range(2):
        start = int(rng.integers(0, n_frames - 100))
        bumps[start : start + int(rng.integers(20, 100)), int(rng.integers(n_classes))] = rng.uniform(0.3, 0.8)
    scores = 0.8 * blurred + 0.3 * np.roll(blurred, 1, axis=1) + smooth(bumps, 9)
    scores += 0.4 * smooth(rng.uniform(0, 1, truth.shape), 5) - 0.15
    return np.clip(scores, 0.0, 1.0)


def make_fake_run(root: Path, n_clips: int = 8, seed: int = 0, stages: bool = False,
                  logs: bool = True) -> Path:
    """A run folder with ``eval/validation`` (real metrics), audio and a Lightning-style CSV log.

    With ``n_clips >= 6`` every class has ground-truth events; with fewer, some classes have none
    and the metrics come from the detections only (PSDS is undefined).
    """
    rng = np.random.default_rng(seed)
    data = root / "data"
    audio_dir = data / "audio" / "validation"
    audio_dir.mkdir(parents=True)
    names = [f"val_{i:03d}.wav" for i in range(n_clips)]
    truth = {name: _clip_events(rng, name, i) for i, name in enumerate(names)}
    truth[names[-1]] = []  # one clip without events
    for name in names:
        sf.write(audio_dir / name, _tone_clip(truth[name], rng), SR)
    gt = data / "validation.tsv"
    durations = data / "validation_durations.tsv"
    write_strong_tsv(gt, [e for evs in truth.values() for e in evs], empty_files=names)
    write_durations_tsv(durations, {name: 10.0 for name in names})

    encoder = LabelEncoder(CLASSES, frame_hop=HOP, n_frames=N_FRAMES)
    frame_scores = {name: _noisy_scores(encoder.encode_strong(truth[name]), rng) for name in names}
    clip_scores = {name: s.max(axis=0) for name, s in frame_scores.items()}
    predictions = [e for name in names for e in encoder.decode_strong(frame_scores[name] >= 0.5, name)]

    run = root / "run"
    work = root / "work"
    work.mkdir()
    write_strong_tsv(work / "predictions.tsv", predictions, empty_files=names)
    write_frame_scores(work / "scores", frame_scores, HOP, CLASSES)
    inputs = [work / "predictions.tsv"] + ([work / "scores"] if n_clips >= 6 else [])
    metrics = evaluate_run(gt, durations, inputs, classes=CLASSES)
    info = {
        "ground_truth": gt, "durations": durations, "audio_dir": audio_dir,
        "checkpoint": run / "checkpoints" / "best.ckpt", "postprocess": None, "split": "validation",
        "classes": CLASSES, "frame_hop": HOP, "features": FeatureConfig().to_dict(),
    }
    write_eval_folder(run / "eval" / "validation", predictions=predictions, frame_scores=frame_scores,
                      clip_scores=clip_scores, metrics=metrics, info=info)
    if logs:
        _write_lightning_csv(run / "logs" / "csv" / "metrics.csv", epochs=6, rng=rng)
    if stages:
        _write_lightning_csv(run / "stage2" / "logs" / "csv" / "metrics.csv", epochs=3, rng=rng)
    return run


def _write_lightning_csv(path: Path, epochs: int, rng: np.random.Generator, steps_per_epoch: int = 4) -> None:
    """Rows as Lightning's CSVLogger writes them: step rows with ``loss_step``, one epoch row with
    the epoch-level training values, one validation row."""
    columns = ["epoch", "step", "loss_step", "loss_epoch", "train/strong", "train/weak",
               "train/teacher_weight", "lr-Adam", "val/clip_f1", "val/event_f1", "val/score"]
    rows = []
    step = 0
    for epoch in range(epochs):
        # LearningRateMonitor(logging_interval="epoch"): epoch left empty, logged at the epoch start
        rows.append({"step": step, "lr-Adam": 1e-3 * 0.5**epoch})
        for _ in range(steps_per_epoch):
            step += 1
            rows.append({"epoch": epoch, "step": step, "loss_step": 1.0 / (epoch + 1) + 0.1 * rng.random()})
        rows.append({"epoch": epoch, "step": step, "loss_epoch": 1.0 / (epoch + 1),
                     "train/strong": 0.6 / (epoch + 1), "train/weak": 0.4 / (epoch + 1),
                     "train/teacher_weight": min(1.0, epoch / 3)})
        rows.append({"epoch": epoch, "step": step, "val/clip_f1": 0.3 + 0.1 * epoch,
                     "val/event_f1": 0.1 + 0.05 * epoch, "val/score": 0.1 + 0.05 * epoch})
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=columns).to_csv(path, index=False)


@pytest.fixture(scope="module")
def fake_run(tmp_path_factory) -> Path:
    return make_fake_run(tmp_path_factory.mktemp("report"), stages=True)


@pytest.fixture(scope="module")
def report(fake_run) -> Path:
    return build_report(fake_run, n_clips=3, progress=False)


# ------------------------------------------------------------------------ eval folder


def test_eval_folder_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    classes = ["Cat", "Dog", "Speech"]
    frame_scores = {"a.wav": rng.random((500, 3)), "b.wav": rng.random((320, 3))}
    clip_scores = {k: v.max(axis=0) for k, v in frame_scores.items()}
    predictions = [Event("a.wav", 0.5, 2.25, "Dog"), Event("a.wav", 3.0, 4.0, "Cat")]
    metrics = {"psds1": {"value": 0.25, "per_class": {"Cat": float("nan")}}, "n_clips": 2}
    info = {"ground_truth": tmp_path / "gt.tsv", "durations": "d.tsv", "audio_dir": tmp_path,
            "checkpoint": None, "postprocess": None, "split": "validation", "classes": classes,
            "frame_hop": 0.02, "features": FeatureConfig().to_dict()}
    folder = write_eval_folder(tmp_path / "eval" / "validation", predictions=predictions,
                               frame_scores=frame_scores, clip_scores=clip_scores, metrics=metrics,
                               info=info)
    back = read_eval_folder(folder)
    assert back.classes == classes and back.frame_hop == 0.02 and back.split == "validation"
    assert back.predictions == predictions
    assert sorted(back.prediction_files) == ["a.wav", "b.wav"]  # b.wav kept as a clip without events
    assert set(back.frame_scores) == {"a", "b"} == set(back.clip_scores)
    for name, array in frame_scores.items():
        np.testing.assert_allclose(back.frame_scores[audio_id(name)], array, atol=1e-6)
        np.testing.assert_allclose(back.clip_scores[audio_id(name)], clip_scores[name], rtol=1e-8)
    assert back.metrics["psds1"]["per_class"]["Cat"] is None  # NaN written as null
    assert back.info["ground_truth"] == str(tmp_path / "gt.tsv")
    assert back.info_path("ground_truth") == tmp_path / "gt.tsv"
    assert back.predictions_by_id()["b"] == []
    # rewriting replaces the folder as a whole
    write_eval_folder(folder, predictions=[], frame_scores=frame_scores, clip_scores=clip_scores,
                      metrics=metrics, info=info)
    assert read_eval_folder(folder).predictions == []


def test_eval_folder_errors(tmp_path):
    info = {"ground_truth": "gt.tsv", "durations": "d.tsv", "audio_dir": ".", "split": "validation",
            "classes": ["Cat"], "frame_hop": 0.02}
    folder = tmp_path / "ev"
    write_eval_folder(folder, predictions=[], frame_scores={"a.wav": np.zeros((10, 1))},
                      clip_scores={"a.wav": np.zeros(1)}, metrics={}, info=info)
    (folder / "clip_scores.tsv").write_text("filename\tDog\na.wav\t0.5\n")
    with pytest.raises(ReportError, match=r"clip_scores\.tsv: columns"):
        read_eval_folder(folder)
    (folder / "clip_scores.tsv").write_text("filename\tCat\na.wav\tabc\n")
    with pytest.raises(ReportError, match=r"clip_scores\.tsv, line 2"):
        read_eval_folder(folder)
    (folder / "info.json").unlink()
    with pytest.raises(ReportError, match=r"info\.json: file not found"):
        read_eval_folder(folder)
    with pytest.raises(ReportError, match="missing key"):
        write_eval_folder(tmp_path / "other", predictions=[], frame_scores={}, clip_scores={},
                          metrics={}, info={"classes": ["Cat"]})
    assert not (tmp_path / "other").exists()


# ------------------------------------------------------------------------ the report


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []
        self.remote: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("src", "href"):
            value = attrs.get(key)
            if value is None:
                continue
            if key == "src":
                self.sources.append(value)
            if re.match(r"^[a-z]+://", value) or tag in ("script", "link"):
                self.remote.append(value)


def test_report_page_and_figures(fake_run, report):
    assert report == fake_run / "report" / "index.html"
    text = report.read_text(encoding="utf-8")
    parser = _Links()
    parser.feed(text)
    assert not parser.remote, "the page must not load anything from the web"
    assert "<script" not in text
    pngs = sorted(p.name for p in report.parent.glob("*.png"))
    assert {"training_curves.png", "psd_roc.png", "confusion.png", "event_errors.png"} <= set(pngs)
    assert len([p for p in pngs if p.startswith("clip_")]) == 3
    assert sorted(parser.sources) == pngs  # every image referenced exists, every PNG is used
    for name in pngs:
        image = matplotlib.image.imread(report.parent / name)
        assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 400
        assert image[..., :3].std() > 0.05  # not a blank canvas


def test_report_metric_tables_match_metrics_json(fake_run, report):
    metrics = read_eval_folder(fake_run / "eval" / "validation").metrics
    text = report.read_text(encoding="utf-8")
    for family, key in (("event_based", "macro_f1"), ("tagging", "macro_f1"), ("segment_based", "macro_f1"),
                        ("intersection", "macro_f1")):
        assert f"<td>{format_percent(metrics[family][key])}</td>" in text
    for name in ("psds1", "psds2"):
        assert f"<td>{format_psds(metrics[name]['value'])}</td>" in text
    rows = dict(re.findall(r'<tr class="class-row" data-class="([^"]+)">(.*?)</tr>', text))
    assert list(rows) == CLASSES
    for c in CLASSES:
        cells = re.findall(r"<td>([^<]*)</td>", rows[c])
        expected = []
        for family in ("tagging", "event_based", "segment_based", "intersection"):
            entry = metrics[family]["per_class"].get(c, {})
            keys = ["precision", "recall", "f1"]
            if family == "intersection" and all(
                v.get("precision") is None for v in metrics[family]["per_class"].values()
            ):
                keys = ["f1"]
            expected += [format_percent(entry.get(k)) for k in keys]
            if family == "event_based":
                expected.append(str(entry["n_ref"]) if "n_ref" in entry else "–")
        expected += [format_psds(metrics[n]["per_class"].get(c)) for n in ("psds1", "psds2")]
        assert cells == expected, c


def test_report_training_logs_with_stages(fake_run):
    logs, notes = read_training_logs(fake_run)
    assert [log.label for log in logs] == ["", "stage2"] and not notes
    curves = logs[0].curves
    assert list(curves.index) == list(range(6))
    assert "loss_step" not in curves.columns  # same quantity as loss_epoch
    raw = pd.read_csv(logs[0].path)
    np.testing.assert_allclose(curves["val/clip_f1"], raw["val/clip_f1"].dropna())
    np.testing.assert_allclose(curves["lr-Adam"], raw["lr-Adam"].dropna())  # rows without an epoch
    # a step-level value without an epoch counterpart is averaged per epoch
    only_steps = epoch_curves(raw.drop(columns=["loss_epoch"]))
    expected = raw.dropna(subset=["loss_step"]).groupby("epoch")["loss_step"].mean()
    np.testing.assert_allclose(only_steps["loss_step"], expected)


def test_training_log_order_and_labels(tmp_path):
    rng = np.random.default_rng(0)
    for relative in ("stage2/logs/csv/version_0", "logs/csv/version_0", "stage10/logs/csv",
                     "stage2/logs/csv/version_1", "eval/validation", "report"):
        _write_lightning_csv(tmp_path / relative / "metrics.csv", epochs=2, rng=rng)
    logs, _ = read_training_logs(tmp_path)
    assert [log.label for log in logs] == ["", "stage2/version_0", "stage2/version_1", "stage10"]


def test_report_missing_audio_is_a_note(tmp_path):
    run = make_fake_run(tmp_path, n_clips=6, seed=1)
    evaluation = read_eval_folder(run / "eval" / "validation")
    from jointsed.evaluate import load_reference

    reference = load_reference(evaluation.info["ground_truth"], evaluation.info["durations"], CLASSES)
    first = select_clips(reference, 1)[0]
    (Path(evaluation.info["audio_dir"]) / f"{first}.wav").unlink()
    out = tmp_path / "page"
    index = build_report(run, out=out, n_clips=2, progress=False, embed_images=True)
    text = index.read_text(encoding="utf-8")
    assert f"audio of {first} not found" in text
    assert text.count('<img src="data:image/png;base64,') == 4 + 2
    assert not list(out.glob("*.png"))
    # a folder that is not a report is never replaced
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "data.txt").write_text("keep")
    with pytest.raises(ReportError, match="not a jointsed report"):
        build_report(run, out=tmp_path / "precious", n_clips=0, progress=False)
    assert (tmp_path / "precious" / "data.txt").read_text() == "keep"


def test_report_survives_missing_logs_and_undefined_psds(tmp_path):
    """Classes without ground-truth events (no official PSDS) and a run without CSV logs."""
    run = make_fake_run(tmp_path, n_clips=3, seed=2, logs=False)
    index = build_report(run, n_clips=1, progress=False)
    text = index.read_text(encoding="utf-8")
    assert "No CSV training log" in text
    # PSD-ROC over the classes that have ground-truth events, the others named in the caption
    evaluation = read_eval_folder(run / "eval" / "validation")
    gt_lines = Path(evaluation.info["ground_truth"]).read_text().splitlines()[1:]
    with_truth = {fields[3] for fields in (line.split("\t") for line in gt_lines) if fields[3]}
    left_out = re.search(r"have no ROC and are left out \(([^)]*)\)", text).group(1).split(", ")
    assert left_out == [c for c in CLASSES if c not in with_truth] and left_out
    assert (index.parent / "psd_roc.png").is_file() and (index.parent / "confusion.png").is_file()
    assert len(re.findall(r'<tr class="class-row"', text)) == len(CLASSES)


def test_report_without_eval_folder_tells_what_to_run(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(ReportError, match=r"jointsed evaluate --run .*run --data-root DIR"):
        build_report(run, progress=False)
    assert main(["report", str(run), "--split", "test"]) == 2
    err = capsys.readouterr().err
    assert "no evaluation results for split 'test'" in err and "jointsed evaluate --run" in err
    assert not (run / "report").exists()


def test_report_cli(fake_run, tmp_path, capsys):
    out = tmp_path / "cli_report"
    assert main(["report", str(fake_run), "--out", str(out), "--clips", "1", "--no-progress"]) == 0
    assert (out / "index.html").is_file()
    assert len(list(out.glob("clip_*.png"))) == 1
    assert str(out / "index.html") in capsys.readouterr().out


# ------------------------------------------------------------------------ analysis


def test_select_clips_is_deterministic_and_covers_classes(fake_run):
    from jointsed.evaluate import load_reference

    evaluation = read_eval_folder(fake_run / "eval" / "validation")
    reference = load_reference(evaluation.info["ground_truth"], evaluation.info["durations"], CLASSES)
    chosen = select_clips(reference, 3)
    assert chosen == select_clips(reference, 3) and len(set(chosen)) == 3
    n_labels = {k: len({e[2] for e in evs}) for k, evs in reference.events.items()}
    assert n_labels[chosen[0]] == max(n_labels.values())


def test_frame_confusion_counts():
    classes = ["A", "B"]
    truth = events_to_frames([(0.0, 1.0, "A"), (1.0, 2.0, "B")], classes, 150, 0.02)
    predicted = events_to_frames([(0.0, 0.5, "A"), (0.5, 1.0, "B"), (2.0, 2.4, "B")], classes, 150, 0.02)
    conf = frame_confusion(truth, predicted, classes, 0.02)
    # A: 25 frames right, 25 confused with B; B: 50 missed; none: 20 inserted B, 30 empty frames
    np.testing.assert_array_equal(conf.counts, [[25, 25, 0], [0, 0, 50], [0, 20, 30]])
    np.testing.assert_allclose(conf.normalized().sum(axis=1), 1.0)


def test_log_scale_tick_labels_are_plain_text(fake_run):
    """The report draws with math text off (class names may hold "$"); the learning-rate panel's
    log axis then printed its default labels raw ("$\\mathdefault{10^{-3}}$")."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from jointsed.report.plots import training_curves_figure

    logs, _ = read_training_logs(fake_run)
    with matplotlib.rc_context({"text.parse_math": False}):
        figure = training_curves_figure(logs)
        FigureCanvasAgg(figure).draw()
        log_axes = [ax for ax in figure.axes if ax.get_yscale() == "log"]
        assert log_axes
        labels = [t.get_text() for ax in log_axes for t in ax.get_yticklabels(minor=True) + ax.get_yticklabels()]
    assert any(labels) and not any("$" in label or "mathdefault" in label for label in labels), labels


def test_clip_figure_draws_the_frame_thresholds_used():
    """The score panel drew a 0.5 line even when the tuned frame thresholds were elsewhere."""
    from jointsed.report.build import _frame_thresholds
    from jointsed.report.plots import clip_figure

    classes, colors = ["Cat", "Dog"], {"Cat": "#ff0000", "Dog": "#0000ff"}
    metrics = {"postprocess": {"params": {"classes": classes, "frame_threshold": [0.15, 0.3]}}}
    thresholds = _frame_thresholds(metrics, classes)
    assert thresholds == [0.15, 0.3] and _frame_thresholds({"postprocess": {}}, classes) is None
    scores = np.full((50, 2), 0.25)
    figure = clip_figure("clip", None, [(0.1, 0.5, "Cat")], [], scores, classes, colors, 0.02,
                         frame_thresholds=thresholds)
    ax_scores = figure.axes[-1]
    levels = sorted({round(float(line.get_ydata()[0]), 3) for line in ax_scores.get_lines() if len(set(line.get_ydata())) == 1})
    assert 0.15 in levels and 0.3 in levels and 0.5 not in levels
