"""docs/own_dataset.md: the worked example (3 made-up classes) runs as printed (what the page
says about ``jointsed synth --sources`` is tested in tests/data/synth/test_sources.py).

The example's blocks are read from the page itself (between ``example:begin`` and
``example:end``), so the page and the test cannot drift apart: python blocks are executed, the
yaml block is written to the file its first comment names, each ``jointsed ...`` line is run
through the CLI in this process (a subprocess per command would re-import torch each time).
"""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

import pandas as pd
import pytest
import soundfile as sf

from jointsed.cli import main

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "own_dataset.md"
TOY_CLASSES = ["beep", "hum", "hiss"]


def example_blocks() -> list[tuple[str, str]]:
    text = PAGE.read_text(encoding="utf-8")
    begin, end = text.index("<!-- example:begin"), text.index("<!-- example:end -->")
    return re.findall(r"```(\w+)\n(.*?)```", text[begin:end], flags=re.S)


def test_page_has_the_three_kinds_of_block():
    assert [kind for kind, _ in example_blocks()] == ["python", "yaml", "bash"]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """Run the page's example in a fresh folder; returns that folder."""
    work = tmp_path_factory.mktemp("own_dataset")
    cwd = Path.cwd()
    os.chdir(work)
    try:
        for kind, body in example_blocks():
            if kind == "python":
                exec(compile(body, str(PAGE), "exec"), {"__name__": "own_dataset_example"})
            elif kind == "yaml":
                name = body.splitlines()[0].lstrip("# ").strip()
                Path(name).write_text(body.replace("/path/to/jointsed", str(REPO)), encoding="utf-8")
            else:
                for line in body.replace("\\\n", " ").splitlines():
                    argv = shlex.split(line)
                    if argv and argv[0] == "jointsed":
                        assert main(argv[1:]) == 0, line
    finally:
        os.chdir(cwd)
    return work


def test_toy_dataset_has_weak_strong_and_empty_clips(toy):
    weak = pd.read_csv(toy / "toy/metadata/train/weak.tsv", sep="\t")
    strong = pd.read_csv(toy / "toy/metadata/train/synthetic.tsv", sep="\t")
    validation = pd.read_csv(toy / "toy/metadata/validation/validation.tsv", sep="\t")
    assert len(weak) == 16 and strong.filename.nunique() == 16
    assert set(strong.event_label) == set(TOY_CLASSES)
    assert validation.event_label.isna().sum() == 3  # val_00, val_03, val_06 have no event
    info = sf.info(toy / "toy/audio/validation/val_01.wav")
    assert (info.samplerate, info.duration) == (16000, 5.0)


def test_training_used_the_three_classes(toy):
    from jointsed.inference import Detector

    assert list(Detector.from_checkpoint(toy / "runs/toy").classes) == TOY_CLASSES
    metrics = json.loads((toy / "runs/toy/metrics.json").read_text())
    assert metrics["best"]["epoch"] in (0, 1)


def test_evaluation_and_predictions_cover_only_the_toy_classes(toy):
    results = json.loads((toy / "toy_eval.json").read_text())
    assert results["classes"] == TOY_CLASSES and results["n_clips"] == 9
    for family in ("event_based", "segment_based", "intersection"):
        value = results[family]["macro_f1"]
        assert value is None or 0.0 <= value <= 1.0
    assert set(results["event_based"]["per_class"]) <= set(TOY_CLASSES)
    assert 0.0 <= results["psds1"]["value"] <= 1.0
    events = pd.read_csv(toy / "toy_events.tsv", sep="\t")
    assert set(events.filename) == {f"val_{i:02d}.wav" for i in range(9)}  # every file, even without events
    assert set(events.event_label.dropna()) <= set(TOY_CLASSES)
    assert (events.dropna().offset > events.dropna().onset).all()
    tuned = json.loads((toy / "runs/toy/postprocess.json").read_text())
    assert "beep" in json.dumps(tuned)
