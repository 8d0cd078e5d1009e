"""Issue 22: a signal ends ``jointsed train`` with a non-zero code (143 SIGTERM, 130 SIGINT), a
message naming the phase, the epoch and ``--resume``, and a run folder that tune / evaluate refuse
(``--allow-unfinished``) and predict warns about.

In-process runs send the signal from a callback at the end of a batch of epoch 2 (Lightning's
own SIGTERM handling is what stops the fit); one end-to-end run kills a real ``jointsed train``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lightning.pytorch.callbacks import Callback

from helpers import GL_RECIPE, SHORT, TINY_GL
from jointsed.cli import main
from jointsed.runs.layout import FINISHED_FILE, LOCK_FILE
from jointsed.training.config import load_recipe
from jointsed.training.interruption import TrainingInterrupted
from jointsed.training.phases import train

LONG = TINY_GL + SHORT + ["trainer.max_epochs=50"]


class SignalAt(Callback):
    """Sends ``signum`` to this process after the first batch of epoch ``epoch`` (0-based); SIGINT
    is raised as the KeyboardInterrupt Python's handler would raise."""

    def __init__(self, signum: int, epoch: int = 1) -> None:
        self.signum, self.epoch = signum, epoch

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if trainer.current_epoch == self.epoch and batch_idx == 0:
            if self.signum == signal.SIGINT:
                raise KeyboardInterrupt
            os.kill(os.getpid(), self.signum)


@pytest.fixture(scope="module")
def interrupted_run(learnable_dataset, tmp_path_factory) -> tuple[Path, TrainingInterrupted]:
    run = tmp_path_factory.mktemp("sigterm") / "run"
    with pytest.raises(TrainingInterrupted) as info:
        train(load_recipe(GL_RECIPE, LONG), learnable_dataset, run, progress=False,
              callbacks=[SignalAt(signal.SIGTERM)])
    return run, info.value


def test_sigterm_stops_training_with_143_and_says_where_and_how_to_resume(interrupted_run):
    run, exc = interrupted_run
    assert exc.exit_code == 143
    text = str(exc)
    assert "SIGTERM" in text and "epoch 2 of 50" in text and "--resume" in text and str(run) in text
    assert "1 epoch(s) are saved" in text
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert not (run / FINISHED_FILE).exists()  # an unfinished run, for every later command
    assert not (run / LOCK_FILE).exists()  # the lock went with the process


def test_sigint_stops_training_with_130(learnable_dataset, tmp_path):
    with pytest.raises(TrainingInterrupted) as info:
        train(load_recipe(GL_RECIPE, LONG), learnable_dataset, tmp_path / "run", progress=False,
              callbacks=[SignalAt(signal.SIGINT)])
    assert info.value.exit_code == 130 and "SIGINT" in str(info.value)
    assert not (tmp_path / "run" / FINISHED_FILE).exists()


def test_tune_and_evaluate_refuse_an_unfinished_run_and_predict_warns(interrupted_run, learnable_dataset,
                                                                     tmp_path, capsys):
    run, _ = interrupted_run
    data = ["--data-root", str(learnable_dataset)]
    assert main(["tune", str(run), *data, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "unfinished training run" in err and "--allow-unfinished" in err and "--resume" in err
    assert main(["evaluate", "--run", str(run), *data, "--no-progress"]) == 2
    assert "--allow-unfinished" in capsys.readouterr().err
    assert not (run / "postprocess.json").exists() and not (run / "eval").exists()
    clip = next((learnable_dataset / "audio" / "validation").glob("*.wav"))
    assert main(["predict", str(run), str(clip), "--out", str(tmp_path / "p.tsv"), "--no-progress"]) == 0
    assert "warning:" in capsys.readouterr().err
    # a checkpoint file of the run counts as the run's
    assert main(["tune", str(run / "checkpoints" / "last.ckpt"), *data, "--no-progress"]) == 2


def test_resume_finishes_an_interrupted_run(interrupted_run, learnable_dataset, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(interrupted_run[0], run)
    train(load_recipe(GL_RECIPE, TINY_GL + SHORT + ["trainer.max_epochs=2"]), learnable_dataset, run,
          resume=True, progress=False)
    assert (run / FINISHED_FILE).is_file()


@pytest.mark.slow
def test_kill_term_of_jointsed_train_exits_143(learnable_dataset, tmp_path):
    """The real thing: ``kill -TERM`` of a ``jointsed train`` process once it saved an epoch."""
    run = tmp_path / "run"
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    env.pop("JOINTSED_RUN_DIR", None)
    proc = subprocess.Popen([sys.executable, "-m", "jointsed", "train", str(GL_RECIPE), "--data-root",
                             str(learnable_dataset), "--out", str(run), "--no-progress",
                             *[f"--set={o}" for o in LONG]],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 900  # a loaded 2-core machine takes minutes to import and load
    while not (run / "checkpoints" / "last.ckpt").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    if proc.poll() is not None or time.monotonic() >= deadline:
        proc.kill()
        pytest.fail(f"the run saved no epoch in time: {proc.communicate()[1][-2000:]}")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 143, out[-1000:] + err[-2000:]
    assert "interrupted by SIGTERM" in err and "--resume" in err and "Traceback" not in err
    assert not (run / FINISHED_FILE).exists()
