"""``jointsed report``: evaluation-folder round trip, the HTML page and its figures on a small fake
run (tone clips, noisy frame scores, metrics from the real ``evaluate_run``), error messages.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from fake_run import CLASSES, _write_lightning_csv, make_fake_run
from jointsed.audio.features import FeatureConfig
from jointsed.data.annotations import Event
from jointsed.evaluate.io import audio_id
from jointsed.report import ReportError, build_report, read_eval_folder, write_eval_folder
from jointsed.report.analysis import events_to_frames, frame_confusion, select_clips
from jointsed.report.html import format_percent, format_psds
from jointsed.report.training_logs import epoch_curves, read_training_logs


@pytest.fixture(scope="module")
def report(fake_run) -> Path:
    return build_report(fake_run, n_clips=3, progress=False)


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


def test_dollar_in_a_class_name_is_plain_text_in_the_report(tmp_path, monkeypatch):
    import fake_run
    from jointsed.report import build_report

    classes = list(fake_run.CLASSES)
    classes[0] = "Price $x^$ alarm"  # matplotlib math text would fail to parse this
    monkeypatch.setattr(fake_run, "CLASSES", classes)
    run = fake_run.make_fake_run(tmp_path, n_clips=6)
    index = build_report(run, n_clips=1, progress=False)
    assert "Price $x^$ alarm" in index.read_text() or "Price $x^$ alarm".replace("$", "&#x24;") in index.read_text()
