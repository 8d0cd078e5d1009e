"""The run folder's layout: the one place that names its files.

::

    RUN_DIR/config.yaml            the resolved recipe
    RUN_DIR/checkpoints/best.ckpt  best validation score; last.ckpt: end of the last epoch
    RUN_DIR/metrics.json           validation metrics (best, last, every epoch, untrained network)
    RUN_DIR/finished.json          written when the run (phase) reached its last epoch
    RUN_DIR/postprocess.json       tuned post-processing (``jointsed tune``)
    RUN_DIR/scores/<split>/        raw model scores of a split (raw_scores.npz + info.json, reused)
    RUN_DIR/eval/<split>/          evaluation folder (``jointsed evaluate``; what the report reads)
    RUN_DIR/report/                HTML report (``jointsed report``)

Everything else asks these names and paths; the "best checkpoint, else last" rule lives in
:func:`model_checkpoint`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.json"
FINISHED_FILE = "finished.json"
POSTPROCESS_FILE = "postprocess.json"
CHECKPOINT_DIR = "checkpoints"
BEST_CHECKPOINT = "best.ckpt"
LAST_CHECKPOINT = "last.ckpt"
SCORES_DIR = "scores"
RAW_SCORES_FILE = "raw_scores.npz"
SCORES_INFO_FILE = "info.json"
EVAL_DIR = "eval"
REPORT_DIR = "report"
#: trainer settings that choose the hardware, not the model: a run trained on other hardware is
#: still the same run (compared without them)
HARDWARE_KEYS = ("accelerator", "devices", "strategy", "num_nodes", "progress_bar", "num_threads")


def best_checkpoint(run_dir: str | os.PathLike) -> Path:
    """``RUN_DIR/checkpoints/best.ckpt`` (may not exist)."""
    return Path(run_dir) / CHECKPOINT_DIR / BEST_CHECKPOINT


def last_checkpoint(run_dir: str | os.PathLike) -> Path:
    """``RUN_DIR/checkpoints/last.ckpt`` (may not exist)."""
    return Path(run_dir) / CHECKPOINT_DIR / LAST_CHECKPOINT


def model_checkpoint(run_dir: str | os.PathLike) -> Optional[Path]:
    """The checkpoint a run's model is taken from: best.ckpt, else last.ckpt (a run without a
    validation set has no best); ``None`` when there is neither."""
    for path in (best_checkpoint(run_dir), last_checkpoint(run_dir)):
        if path.is_file():
            return path
    return None
