"""jointsed.api: one tested example per call (the examples of docs/api.md), on the tiny preset.

One tiny guided-learning run is trained once (``api.train``) on ``conftest.tiny_dataset`` and
shared: tune, evaluate and predict use it in that order, as a user would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import GL_RECIPE
from jointsed import api
from jointsed.config import ConfigError
from jointsed.data.classes import DESED_CLASSES

REPO = Path(__file__).resolve().parents[1]
TINY = [
    "trainer.num_threads=1",
    "trainer.max_epochs=2",
    "model.teacher.width=0.25",
    "model.student.channels=[8,8,8]",
    "batch.batch_size=8",
]


def test_import_is_light():
    code = "import sys, jointsed.api; print(sorted(m for m in ('torch', 'lightning', 'sed_eval') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_detector_is_the_inference_class():
    from jointsed.inference import Detector

    assert api.Detector is Detector
    with pytest.raises(AttributeError):
        api.NoSuchThing  # noqa: B018


def test_load_recipe_overrides_and_extra():
    config = api.load_recipe(GL_RECIPE, ["trainer.max_epochs=5"], extra={"data": {"classes": ["beep", "hum"]}})
    assert config.trainer.max_epochs == 5 and config.data.classes == ["beep", "hum"]
    assert config.system == "guided_learning" and config.name == "gl_baseline"
    with pytest.raises(ConfigError, match="trainer.max_epoch"):
        api.load_recipe(GL_RECIPE, ["trainer.max_epoch=5"])


def test_synthesize(tmp_path):
    report = api.synthesize(tmp_path / "data", preset="tiny", seed=1, n_weak=2, n_synthetic=2, n_unlabelled=0,
                            n_validation=3, clip_duration=2.0)
    sizes = {split: report.clips[split] for split in ("weak", "synthetic", "unlabel_in_domain", "validation")}
    assert sizes == {"weak": 2, "synthetic": 2, "unlabel_in_domain": 0, "validation": 3}
    assert len(list((tmp_path / "data/audio/validation").glob("*.wav"))) == 3
    with pytest.raises(api.JointsedError, match="already exists"):
        api.synthesize(tmp_path / "data", preset="tiny")


@pytest.fixture(scope="module")
def run(tiny_dataset, tmp_path_factory):
    config = api.load_recipe(GL_RECIPE, TINY)
    return api.train(config, tiny_dataset, tmp_path_factory.mktemp("api") / "gl",
                     overrides=["optimizer.lr=0.01"])


def test_train(run):
    assert run.best_checkpoint is not None and run.best_checkpoint.is_file()
    assert run.metrics["best"]["epoch"] in (0, 1)
    saved = (run.run_dir / "config.yaml").read_text()
    assert "lr: 0.01" in saved and "max_epochs: 2" in saved  # the config object plus the override


def test_train_refuses_a_gpu_torch_cannot_use(tiny_dataset, tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.version, "cuda", None)
    with pytest.raises(api.JointsedError, match="no CUDA GPU visible to torch"):
        api.train(GL_RECIPE, tiny_dataset, tmp_path / "gpu", overrides=[*TINY, "trainer.accelerator=gpu"])
    assert not (tmp_path / "gpu").exists()


def test_tune(run, tiny_dataset):
    result = api.tune(run.run_dir, tiny_dataset)
    saved = json.loads((run.run_dir / "postprocess.json").read_text())
    assert result.tuned_score >= result.default_score - 1e-9
    assert len(result.per_class) == len(DESED_CLASSES)
    assert saved["info"]["tuned_on"]["split"] == "validation"


def test_evaluate(run, tiny_dataset):
    metrics = api.evaluate(run.run_dir, tiny_dataset)
    assert metrics["n_clips"] == 6 and metrics["classes"] == list(DESED_CLASSES)
    assert 0.0 <= metrics["event_based"]["macro_f1"] <= 1.0
    assert metrics["postprocess"]["tuned_on_this_set"] is True  # test_tune wrote postprocess.json
    assert (Path(metrics["eval_folder"]) / "metrics.json").is_file()


def test_evaluate_files_matches_evaluate(run, tiny_dataset):
    folder = run.run_dir / "eval" / "validation"
    predictions = next(folder.glob("predictions*.tsv"))
    metrics = api.evaluate_files(tiny_dataset / "metadata/validation/validation.tsv",
                                 tiny_dataset / "metadata/validation/validation_durations.tsv",
                                 predictions=predictions)
    from_run = json.loads((folder / "metrics.json").read_text())
    assert metrics["event_based"]["macro_f1"] == pytest.approx(from_run["event_based"]["macro_f1"], abs=1e-9)


def test_predict(run, tiny_dataset):
    clips = sorted((tiny_dataset / "audio/validation").glob("*.wav"))[:2]
    predictions = api.predict(run.run_dir, clips)
    assert [p.filename for p in predictions] == [c.name for c in clips]
    first = predictions[0]
    assert first.frame_scores.shape == (round(10.0 / first.frame_hop), len(DESED_CLASSES)) and first.classes == list(DESED_CLASSES)
    assert np.all((first.clip_scores >= 0) & (first.clip_scores <= 1))
    assert all(e.event_label in DESED_CLASSES and 0 <= e.onset < e.offset <= first.duration for e in first.events)
    [single] = api.predict(run.run_dir, clips[0])
    np.testing.assert_allclose(single.frame_scores, first.frame_scores, atol=1e-6)


def test_train_is_quiet_unless_progress_is_asked(tiny_dataset, tmp_path, capfd, caplog):
    """api.train printed Lightning's info lines ("`Trainer.fit` stopped: ...") although the API
    is quiet (issue 21 item 4); with progress=True they are shown. (Under pytest Lightning's
    records reach caplog, not stderr: both are checked.)"""
    sets = TINY[:-1] + ["trainer.max_epochs=1", "batch.batch_size=8"]

    def lightning_lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if "Trainer.fit" in r.getMessage()]

    capfd.readouterr()
    api.train(GL_RECIPE, tiny_dataset, tmp_path / "quiet", overrides=sets)
    quiet = capfd.readouterr()
    assert "Trainer.fit" not in quiet.err + quiet.out and not lightning_lines()
    assert quiet.out == "" and quiet.err == ""  # nothing at all: no bar, no table
    api.train(GL_RECIPE, tiny_dataset, tmp_path / "loud", overrides=sets, progress=True)
    loud = capfd.readouterr()
    assert lightning_lines() or "Trainer.fit" in loud.err
