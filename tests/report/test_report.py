"""The HTML report (jointsed.report.build): the page and its figures on a small fake run
(``conftest.fake_run``: tone clips, noisy frame scores, metrics from the real ``evaluate_run``),
missing audio, logs or PSDS, class names matplotlib would take for math text. The command is
tested in tests/cli/test_cli_report.py; the other report modules in their own files here.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image
import pytest

from fake_run import CLASSES, make_fake_run
from jointsed.report import ReportError, build_report, read_eval_folder
from jointsed.report.analysis import select_clips
from jointsed.report.html import format_percent, format_psds


@pytest.fixture(scope="module")
def report(fake_run) -> Path:
    return build_report(fake_run, n_clips=3, progress=False)


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


def test_dollar_in_a_class_name_is_plain_text_in_the_report(tmp_path, monkeypatch):
    import fake_run
    from jointsed.report import build_report

    classes = list(fake_run.CLASSES)
    classes[0] = "Price $x^$ alarm"  # matplotlib math text would fail to parse this
    monkeypatch.setattr(fake_run, "CLASSES", classes)
    run = fake_run.make_fake_run(tmp_path, n_clips=6)
    index = build_report(run, n_clips=1, progress=False)
    assert "Price $x^$ alarm" in index.read_text() or "Price $x^$ alarm".replace("$", "&#x24;") in index.read_text()
