"""The run folder's layout: the one place that names its files.

::

    RUN_DIR/config.yaml            the resolved recipe
    RUN_DIR/checkpoints/best.ckpt  best validation score; last.ckpt: end of the last epoch
    RUN_DIR/metrics.json           validation metrics (best, last, every epoch, untrained network)
    RUN_DIR/finished.json          written when the run (phase) reached its last epoch
    RUN_DIR/data.json              the data it was trained on (clip names and file sizes per set)
    RUN_DIR/train.lock             while ``jointsed train`` writes the folder: who does (pid, host...)
    RUN_DIR/postprocess.json       tuned post-processing (``jointsed tune``)
    RUN_DIR/scores/<split>/        raw model scores of a split (raw_scores.npz + info.json, reused)
    RUN_DIR/eval/<split>/          evaluation folder (``jointsed evaluate``; what the report reads)
    RUN_DIR/report/                HTML report (``jointsed report``)
    RUN_DIR/logs/                  CSV and TensorBoard logs; RUN_DIR/ddp/: each rank's checksum
    RUN_DIR/frame_teacher/, stage1/, stage2/   the joint framework's phases (run folders too)

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
#: the data fingerprint (:mod:`jointsed.runs.fingerprint`): ``--resume`` refuses other data
DATA_FILE = "data.json"
#: held while a training process writes the folder (:mod:`jointsed.runs.lock`)
LOCK_FILE = "train.lock"
POSTPROCESS_FILE = "postprocess.json"
CHECKPOINT_DIR = "checkpoints"
BEST_CHECKPOINT = "best.ckpt"
LAST_CHECKPOINT = "last.ckpt"
SCORES_DIR = "scores"
RAW_SCORES_FILE = "raw_scores.npz"
SCORES_INFO_FILE = "info.json"
#: the clips' durations, written beside the raw scores when the split has no durations table
SCORES_DURATIONS_FILE = "durations.tsv"
EVAL_DIR = "eval"
#: the file every evaluation folder ``eval/<split>/`` has (what shows jointsed wrote it)
EVAL_INFO_FILE = "info.json"
REPORT_DIR = "report"
#: the report's page (what shows a folder is a jointsed report)
REPORT_INDEX_FILE = "index.html"
#: folders of the joint framework's phases inside the run folder
FRAME_TEACHER_DIR = "frame_teacher"
STAGE_DIRS = {1: "stage1", 2: "stage2"}
#: training logs (Lightning's CSV and TensorBoard loggers) and, with several processes, each
#: rank's final weight checksum
LOGS_DIR = "logs"
DDP_DIR = "ddp"
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
