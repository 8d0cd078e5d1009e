"""Shared test fixtures (visible to every test folder; constants and builders are in ``helpers.py``).

Datasets:

- ``tiny_dataset``: a DESED-layout dataset made once per test session. It uses ``jointsed synth
  --preset tiny`` when that command is available, else a numpy fallback (noise + class tones).
- ``learnable_dataset``: a slightly larger set (numpy tones, one frequency band per class) on which
  a few CPU epochs clearly learn; used by the training tests.

Trained runs, each trained once per session and shared by the test folders that read it (tests
that change a run work on a copy):

- ``short_gl_run``: a 1-epoch tiny guided-learning run on ``learnable_dataset`` (checkpoint
  safety, resume, output safety);
- ``joint_run``: the joint recipe's three phases on ``learnable_dataset``, with a
  :class:`helpers.FitRecorder` (training phases, systems);
- ``trained_run``: a 2-epoch tiny guided-learning run on ``tiny_dataset`` (pipeline, CLI);
- ``demo_folder``: :func:`jointsed.pipeline.run_demo` on the ``tiny`` preset (pipeline, CLI);
- ``fake_run``: a run folder with an evaluation but no model (``fake_run.make_fake_run``; report, CLI).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from helpers import (
    DEMO_TINY,
    GL_RECIPE,
    JOINT_RECIPE,
    LEARNABLE_CLASSES,
    LEARNABLE_CLIP_SECONDS,
    PIPELINE_GL,
    RUN_SETS,
    TINY_GL,
    TINY_JOINT,
    FitRecorder,
    make_numpy_dataset,
)


def _synth_available() -> bool:
    try:
        from jointsed.cli import COMMANDS
    except Exception:  # pragma: no cover
        return False
    return "synth" in COMMANDS



@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """A tiny DESED-layout dataset (``jointsed synth --preset tiny``, or the numpy fallback)."""
    root = tmp_path_factory.mktemp("tiny_dataset") / "data"
    if _synth_available():
        subprocess.run([sys.executable, "-m", "jointsed", "synth", "--preset", "tiny", "--out", str(root)],
                       check=True, capture_output=True)
        return root
    return make_numpy_dataset(root, 6, 6, 6, 6, seed=0)



@pytest.fixture(scope="session")
def learnable_dataset(tmp_path_factory) -> Path:
    """5-s clips of tone events (one frequency per class) of 4 classes in noise: 32 weak,
    32 synthetic, 16 unlabelled, 24 validation clips."""
    root = tmp_path_factory.mktemp("learnable_dataset") / "data"
    return make_numpy_dataset(root, 32, 32, 16, 24, seed=1, classes=LEARNABLE_CLASSES,
                              clip_seconds=LEARNABLE_CLIP_SECONDS)



@pytest.fixture(scope="session")
def short_gl_run(learnable_dataset, tmp_path_factory) -> Path:
    """``GL_RECIPE`` with ``RUN_SETS``: 8 clips per set, one epoch. Tests that change it copy it."""
    from jointsed.training.config import load_recipe
    from jointsed.training.phases import train

    run = tmp_path_factory.mktemp("short_gl") / "run"
    train(load_recipe(GL_RECIPE, RUN_SETS), learnable_dataset, run, progress=False)
    return run


@pytest.fixture(scope="session")
def joint_run(learnable_dataset, tmp_path_factory):
    """The joint recipe (frame teacher 3 epochs, stage 1 3, stage 2 2): ``(run, result, recorder)``."""
    from jointsed.training.config import load_recipe
    from jointsed.training.phases import train

    run = tmp_path_factory.mktemp("joint") / "run"
    recorder = FitRecorder()
    result = train(load_recipe(JOINT_RECIPE, TINY_JOINT), learnable_dataset, run, progress=False,
                   callbacks=[recorder])
    return run, result, recorder


@pytest.fixture(scope="session")
def trained_run(tiny_dataset, tmp_path_factory) -> Path:
    """A tiny guided-learning run on ``tiny_dataset`` (10-s clips, some classes without any
    validation event). Tests that write into a run folder use ``fresh_copy``."""
    from jointsed.training.config import load_recipe
    from jointsed.training.phases import train

    run = tmp_path_factory.mktemp("workflow") / "run"
    train(load_recipe(GL_RECIPE, PIPELINE_GL), tiny_dataset, run, progress=False)
    return run


@pytest.fixture(scope="session")
def demo_folder(tmp_path_factory) -> tuple[Path, str]:
    """``run_demo`` on the ``tiny`` preset with ``GL_RECIPE`` and ``DEMO_TINY``: ``(folder, printed)``,
    ``printed`` being what ``jointsed demo`` prints (the progress lines and the summary)."""
    from jointsed.pipeline import run_demo

    out = tmp_path_factory.mktemp("demo") / "demo"
    lines: list[str] = []
    result = run_demo(out, recipe=GL_RECIPE, overrides=DEMO_TINY, preset="tiny", report_clips=1, progress=False,
                      echo=lines.append)
    return out, "\n".join([*lines, result.summary()])


@pytest.fixture(scope="session")
def fake_run(tmp_path_factory) -> Path:
    """A run folder with an evaluation folder, training logs and audio, but no model."""
    from fake_run import make_fake_run

    return make_fake_run(tmp_path_factory.mktemp("report"), stages=True)


@pytest.fixture(scope="session")
def gl_model(learnable_dataset, tmp_path_factory) -> Path:
    """A guided-learning model for inference tests (``TINY_GL``, 3 epochs)."""
    from jointsed.training.config import load_recipe
    from jointsed.training.phases import train

    run = tmp_path_factory.mktemp("predict") / "gl"
    train(load_recipe(GL_RECIPE, TINY_GL + ["trainer.max_epochs=3"]), learnable_dataset, run, progress=False)
    return run


@pytest.fixture
def unsafe_torch_load(monkeypatch):
    """Make every ``torch.load`` that does not pass ``weights_only`` unpickle anything (torch < 2.6
    did): tests that jointsed never relies on torch's default."""
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")


@pytest.fixture
def clips(tmp_path):
    """Six short clips of different rates and channel counts (feature-cache tests)."""
    from helpers import feature_clips

    return feature_clips(tmp_path)


@pytest.fixture
def bad_files(tmp_path):
    """A corrupt WAV and an empty FLAC beside ``clips``."""
    from helpers import bad_audio_files

    return bad_audio_files(tmp_path)
