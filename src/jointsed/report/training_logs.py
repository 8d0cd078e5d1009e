"""Training curves from the Lightning CSV logs of a run folder.

Lightning's ``CSVLogger`` writes ``metrics.csv`` with one row per logging call: ``epoch``,
``step`` and one column per logged name, empty where that row did not log the name (epoch-level
values such as ``val/clip_f1`` or ``train/strong`` appear once per epoch, step-level ones such
as ``loss_step`` every few steps). A run may hold several logs (e.g. ``stage1/`` and
``stage2/`` sub-runs of two-stage training, or ``version_<n>`` folders): each becomes a
:class:`TrainingLog`, and the report draws them one after the other on a common epoch axis.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from jointsed.runs.layout import EVAL_DIR, REPORT_DIR

LOG_FILE = "metrics.csv"
#: folders of a run that never hold training logs (report outputs, evaluation results)
SKIPPED_FOLDERS = (REPORT_DIR, EVAL_DIR)
#: index columns of a Lightning CSV log (not curves)
INDEX_COLUMNS = ("epoch", "step")

#: curve groups, in display order: (title, y label)
GROUPS = {
    "losses": ("Training losses", "loss"),
    "validation": ("Validation metrics", "value"),
    "learning_rate": ("Learning rate", "learning rate"),
    "schedules": ("Loss weights and other schedules", "value"),
    "other": ("Other logged values", "value"),
}


@dataclass
class TrainingLog:
    """Per-epoch values of one CSV log.

    Attributes:
        label: which (sub-)run it belongs to (:func:`log_labels`): ``""`` for the run itself,
            ``"stage2"`` for ``RUN_DIR/stage2/logs/...``.
        path: the ``metrics.csv`` file.
        curves: epoch-indexed table, one column per logged numeric name (NaN where missing).
    """

    label: str
    path: Path
    curves: pd.DataFrame

    @property
    def n_epochs(self) -> int:
        return 0 if self.curves.empty else int(self.curves.index.max()) + 1


def _natural_key(text: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _split_log_path(csv_path: Path, run_dir: Path) -> tuple[list[str], list[str]]:
    """(sub-run parts, logger parts) of a log: ``stage2/logs/csv/version_1/metrics.csv`` ->
    ``(["stage2"], ["version_1"])`` (the folders naming the logger are dropped)."""
    parts = list(csv_path.relative_to(run_dir).parent.parts)
    if "logs" not in parts:
        return parts, []
    index = len(parts) - 1 - parts[::-1].index("logs")
    after = [p for p in parts[index + 1 :] if p not in ("csv", "lightning_logs")]
    return parts[:index], after


def _log_order(csv_path: Path, run_dir: Path) -> tuple:
    sub_run, logger = _split_log_path(csv_path, run_dir)
    return len(sub_run), _natural_key("/".join(sub_run)), _natural_key("/".join(logger))


def find_log_files(run_dir: str | Path) -> list[Path]:
    """Every ``metrics.csv`` under ``run_dir`` (not in report/eval folders): the run's own logs
    first, then sub-runs (``stage1/``, ``stage2/``...) in natural order (``stage2`` before
    ``stage10``), the versions of one (sub-)run in natural order."""
    run_dir = Path(run_dir)
    found = []
    for folder, subfolders, files in os.walk(run_dir):
        # prune report/eval outputs (thousands of score files) and hidden temporary folders
        top = Path(folder) == run_dir
        subfolders[:] = sorted(
            d for d in subfolders if not d.startswith(".") and not (top and d in SKIPPED_FOLDERS)
        )
        if LOG_FILE in files:
            found.append(Path(folder) / LOG_FILE)
    return sorted(found, key=lambda p: _log_order(p, run_dir))


def log_labels(paths: list[Path], run_dir: Path) -> list[str]:
    """Short names of logs: the sub-run folder (``""`` for the run itself), plus the logger
    version (``version_1``) only where one sub-run has several logs."""
    split = [_split_log_path(p, run_dir) for p in paths]
    per_sub_run: dict[str, int] = {}
    for sub_run, _ in split:
        key = "/".join(sub_run)
        per_sub_run[key] = per_sub_run.get(key, 0) + 1
    labels = []
    for sub_run, logger in split:
        key = "/".join(sub_run)
        labels.append("/".join(sub_run + logger) if per_sub_run[key] > 1 else key)
    return labels


def epoch_curves(table: pd.DataFrame) -> pd.DataFrame:
    """Per-epoch values of a Lightning CSV log table.

    Every numeric column (other than ``epoch``/``step``) is averaged over the rows of each
    epoch where it was logged: epoch-level values stay as they are, step-level values become
    their epoch mean. A ``<name>_step`` column is dropped when ``<name>_epoch`` exists (the same
    quantity). Rows without an epoch (Lightning's ``LearningRateMonitor`` logs the learning rate
    at the start of each epoch with only ``step`` set) belong to the epoch of the next row.
    Without an ``epoch`` column the row number stands for the epoch.
    """
    table = table.copy()
    if "epoch" in table.columns:
        epochs = pd.to_numeric(table["epoch"], errors="coerce").bfill().ffill()
    else:
        epochs = pd.Series(np.arange(len(table)), index=table.index, dtype=float)
    values = table.drop(columns=[c for c in INDEX_COLUMNS if c in table.columns])
    values = values.apply(pd.to_numeric, errors="coerce")
    values = values.loc[:, values.notna().any()]
    names = list(values.columns)
    values = values.drop(
        columns=[n for n in names if n.endswith("_step") and n[: -len("_step")] + "_epoch" in names]
    )
    values = values[epochs.notna()]
    if values.empty:
        return pd.DataFrame(index=pd.Index([], name="epoch", dtype=int))
    grouped = values.groupby(epochs[epochs.notna()].astype(int)).mean()
    grouped.index.name = "epoch"
    return grouped


def read_training_logs(run_dir: str | Path) -> tuple[list[TrainingLog], list[str]]:
    """Read every CSV log of a run folder.

    Returns:
        The logs with at least one value (see :func:`find_log_files` for the order), and a note
        for each file that could not be read (the report shows them; never an exception).
    """
    run_dir = Path(run_dir)
    logs, notes = [], []
    paths = find_log_files(run_dir)
    for path, label in zip(paths, log_labels(paths, run_dir)):
        try:
            table = pd.read_csv(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
            notes.append(f"{path}: not readable as a CSV log ({type(exc).__name__}: {exc})")
            continue
        curves = epoch_curves(table)
        if curves.empty or curves.shape[1] == 0:
            notes.append(f"{path}: no numeric value logged")
            continue
        logs.append(TrainingLog(label, path, curves))
    return logs, notes


def curve_group(name: str) -> str:
    """Which panel a logged name goes to: ``losses``, ``validation``, ``learning_rate``,
    ``schedules`` (loss weights, momentum), ``other``."""
    lower = name.lower()
    if lower.startswith(("lr", "learning_rate")):
        return "learning_rate"
    if "weight" in lower or "momentum" in lower:
        return "schedules"
    if lower.startswith(("val", "valid")):
        return "validation"
    if "loss" in lower or lower.startswith("train"):
        return "losses"
    return "other"


def display_name(name: str) -> str:
    """Legend text of a logged name (``loss_epoch`` -> ``loss``)."""
    for suffix in ("_epoch", "_step"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name
