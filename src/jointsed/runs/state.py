"""The state of a run folder: what it holds, whether it is finished, whether it is the same run
as a recipe, and what to remove when its model changes.

The one owner of:

- ``metrics.json``'s content (:func:`summarize_history`) and reading it back (:func:`run_result`);
- ``finished.json`` (:func:`write_finished`, :func:`read_finished`), a folder's phase state
  (:func:`phase_state`: finished / partial / absent) and whether a command may use a run's model
  (:func:`check_finished_model`: refused, or a warning, when the run did not finish);
- "is this the same run": :func:`settings_differ` / :func:`same_settings` compare a run's saved
  ``config.yaml`` with a recipe, hardware keys aside and keys added to the recipe format after
  the run was saved ignored (used by ``--resume``, the reuse of finished phases and the demo);
- the files derived from a model (:data:`DERIVED_FILES`, :func:`clear_derived`) and what a
  training run wrote (:func:`clear_training`).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import yaml

from jointsed.errors import JointsedError
from jointsed.runs.layout import (
    CHECKPOINT_DIR,
    CONFIG_FILE,
    DDP_DIR,
    EVAL_DIR,
    EVAL_INFO_FILE,
    FINISHED_FILE,
    HARDWARE_KEYS,
    LOGS_DIR,
    METRICS_FILE,
    POSTPROCESS_FILE,
    RAW_SCORES_FILE,
    REPORT_DIR,
    REPORT_INDEX_FILE,
    SCORES_DIR,
    best_checkpoint,
    last_checkpoint,
)
from jointsed.utils.atomic import atomic_write_json, read_json_object


@dataclass
class TrainResult:
    """A trained run folder: its checkpoints and validation metrics (``metrics.json``)."""

    run_dir: Path
    best_checkpoint: Optional[Path]
    last_checkpoint: Path
    metrics: dict[str, Any] = field(default_factory=dict)


# ----- metrics.json -----------------------------------------------------------------------------
def summarize_history(history: list[dict[str, Any]], monitor: str,
                      untrained: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """``metrics.json`` content from the per-epoch validation history: the best epoch (highest
    monitor score, ties to the LATER epoch, DESIGN section 8: the same rule as ``best.ckpt``), the
    last one, every epoch, and the validation metrics of the untrained network (``untrained``)."""
    base: dict[str, Any] = {"monitor": monitor}
    if untrained is not None:
        base["untrained"] = dict(untrained)
    if not history:
        return {**base, "best": None, "last": None, "history": []}
    best = max(history, key=lambda h: (h["score"], h["epoch"]))
    return {**base, "best_epoch": best["epoch"], "best_score": best["score"],
            "best": best, "last": history[-1], "history": history}


def read_metrics(run_dir: Path) -> dict[str, Any]:
    """``RUN_DIR/metrics.json`` ({} when absent or unreadable)."""
    return read_json_object(Path(run_dir) / METRICS_FILE)


def run_result(run_dir: Path) -> TrainResult:
    """The :class:`TrainResult` of a run folder as it is on disk."""
    best = best_checkpoint(run_dir)
    return TrainResult(Path(run_dir), best if best.is_file() else None, last_checkpoint(run_dir), read_metrics(run_dir))


# ----- finished.json / phase state ------------------------------------------------------------------
def write_finished(run_dir: Path, info: Mapping[str, Any]) -> None:
    """Mark ``run_dir`` finished (it reached its last epoch; a two-stage run: published)."""
    atomic_write_json(Path(run_dir) / FINISHED_FILE, dict(info))


def read_finished(run_dir: Path) -> dict[str, Any]:
    """``RUN_DIR/finished.json`` ({} when absent or unreadable)."""
    return read_json_object(Path(run_dir) / FINISHED_FILE)


def is_finished(run_dir: Path) -> bool:
    return (Path(run_dir) / FINISHED_FILE).is_file()


def phase_state(run_dir: Path) -> str:
    """``finished`` (reached its last epoch), ``partial`` (has checkpoints) or ``absent``."""
    if is_finished(run_dir):
        return "finished"
    if last_checkpoint(run_dir).exists() or best_checkpoint(run_dir).exists():
        return "partial"
    return "absent"


class UnfinishedRunError(JointsedError):
    """A command was given the model of a training run that did not finish (see
    :func:`unfinished_reason`)."""


def unfinished_reason(run_or_checkpoint: str | os.PathLike) -> Optional[str]:
    """Why the model at ``run_or_checkpoint`` is not that of a finished training run, or None.

    A run folder (one with ``config.yaml``; a checkpoint inside ``RUN_DIR/checkpoints`` counts as
    its run's) is finished when it has ``finished.json``, which ``jointsed train`` writes after the
    last epoch (a two-stage run: after publishing its stage). A run stopped by a signal, killed or
    still training has checkpoints but no ``finished.json``. A checkpoint outside a run folder has
    nothing to judge it by: None.
    """
    from jointsed.runs.checkpoint import run_dir_of
    from jointsed.runs.lock import describe_holder, held_by_other

    run_dir = run_dir_of(run_or_checkpoint)
    if not (run_dir / CONFIG_FILE).is_file() or is_finished(run_dir):
        return None
    last = (read_metrics(run_dir).get("last") or {}).get("epoch")
    saved = saved_settings(run_dir) or {}
    total = (saved.get("trainer") or {}).get("max_epochs") if isinstance(saved.get("trainer"), dict) else None
    progress = (f"validated up to epoch {int(last) + 1}" + (f" of {total}" if total else "")
                if isinstance(last, int) else "no epoch validated")
    holder = held_by_other(run_dir)
    now = f"; it is being trained now by {describe_holder(holder)}" if holder else ""
    return f"{run_dir} holds an unfinished training run (no {FINISHED_FILE}: {progress}{now})"


def check_finished_model(run_or_checkpoint: str | os.PathLike, allow_unfinished: bool,
                         flag: str = "--allow-unfinished") -> Optional[str]:
    """Refuse the model of an unfinished run unless ``allow_unfinished``; then return the warning
    to print (None for a finished run or a checkpoint outside a run folder).

    Raises:
        UnfinishedRunError: naming the run, how far it got, how to finish it and ``flag``.
    """
    reason = unfinished_reason(run_or_checkpoint)
    if reason is None:
        return None
    if not allow_unfinished:
        raise UnfinishedRunError(
            f"{reason}. Finish it (the same `jointsed train` command with --resume), or pass {flag} to use "
            "its current checkpoint anyway"
        )
    return f"warning: {reason}; using its current checkpoint"


# ----- same run ---------------------------------------------------------------------------------------
def comparable_settings(config_dict: Mapping[str, Any]) -> dict[str, Any]:
    """A recipe (as plain data) without what does not change the trained model: the hardware
    keys (:data:`~jointsed.runs.layout.HARDWARE_KEYS`) and the run's ``name``; tuples as lists."""
    data = yaml.safe_load(yaml.safe_dump(dict(config_dict), sort_keys=True))
    for key in HARDWARE_KEYS:
        data.get("trainer", {}).pop(key, None)
    data.pop("name", None)
    return data


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, Mapping):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flat(value, f"{prefix}{key}."))
        return out or {prefix.rstrip("."): {}}
    return {prefix.rstrip("."): data}


def settings_differ(saved: Mapping[str, Any], current: Mapping[str, Any],
                    may_change: Sequence[str] = ()) -> dict[str, tuple[Any, Any]]:
    """The dotted keys where a run's saved recipe and ``current`` differ: ``{key: (saved, now)}``.

    Hardware keys and ``name`` are not compared, nor the keys in ``may_change``, nor keys the
    saved recipe does not have (added to the recipe format after the run was saved: the run was
    trained with their default behaviour). A key the saved recipe has and ``current`` lacks
    differs (``"<absent>"``).
    """
    old, new = _flat(comparable_settings(saved)), _flat(comparable_settings(current))
    return {k: (old[k], new.get(k, "<absent>")) for k in sorted(old)
            if k not in may_change and old[k] != new.get(k, "<absent>")}


def same_settings(saved: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    """Whether ``saved`` (a run's recipe) and ``current`` train the same model
    (:func:`settings_differ` is empty)."""
    return not settings_differ(saved, current)


def saved_settings(run_dir: Path) -> Optional[dict[str, Any]]:
    """The run's saved recipe (``config.yaml``) as plain data, None when there is none."""
    from jointsed.config import load_yaml

    path = Path(run_dir) / CONFIG_FILE
    return load_yaml(path) if path.is_file() else None


# ----- derived files ----------------------------------------------------------------------------------
#: files made from a run's model by later commands, with the file that shows jointsed wrote them
#: (``jointsed tune``, ``evaluate``, ``report``, the raw-score cache): stale once the model changes
DERIVED_FILES: dict[str, Optional[str]] = {
    POSTPROCESS_FILE: None,
    EVAL_DIR: f"*/{EVAL_INFO_FILE}",
    REPORT_DIR: REPORT_INDEX_FILE,
    SCORES_DIR: f"*/{RAW_SCORES_FILE}",
}


class RunFolderError(JointsedError):
    """A run folder that jointsed will not clean up (a symbolic link where it would remove a folder)."""


#: the folders of a run that ``--force`` removes (besides the derived ones)
TRAINING_DIRS = (CHECKPOINT_DIR, LOGS_DIR, DDP_DIR)


def check_removable(run_dir: Path, names: Sequence[str] = (*TRAINING_DIRS, *DERIVED_FILES),
                    phase_dirs: Sequence[str] = ()) -> None:
    """Refuse, before anything is removed, a symbolic link among the folders that would be.

    Removing a link's target would delete what lives elsewhere (logs kept on another disk, say),
    and removing only the link would quietly move the next run's files back into the folder;
    either way the user meant something by it. So ``--force`` stops and says so, and nothing in
    the folder is touched (it used to remove ``checkpoints/`` and then fail on the link, leaving
    ``finished.json`` behind a missing ``best.ckpt``).

    Args:
        names: entries of ``run_dir`` to check (files are unlinked, a link to a file is harmless).
        phase_dirs: sub-folders that are run folders themselves (the joint phases): the folder and
            its entries are checked too.
    Raises:
        RunFolderError: naming the link, its target and what to do.
    """
    for phase in phase_dirs:
        if (Path(run_dir) / phase).is_symlink():
            _refuse_link(Path(run_dir) / phase)
        check_removable(Path(run_dir) / phase, names)
    for name in names:
        path = Path(run_dir) / name
        if path.is_symlink() and path.is_dir():
            _refuse_link(path)


def _refuse_link(path: Path) -> None:
    raise RunFolderError(
        f"{path} is a symbolic link (to {os.readlink(path)}): --force would remove the folder it points to. "
        "Nothing was removed. Remove the link (or empty its target yourself) and run the command again"
    )


def clear_derived(run_dir: Path) -> list[str]:
    """Remove the derived files of ``run_dir`` (its model is about to change: ``--force``,
    ``--resume``), so that none of them describes another model than the one in the folder.
    A folder of that name without jointsed's file in it is left alone. Returns what was removed.

    Raises:
        RunFolderError: one of them is a symbolic link to a folder (nothing is removed).
    """
    check_removable(run_dir, tuple(DERIVED_FILES))
    removed = []
    for name, marker in DERIVED_FILES.items():
        path = Path(run_dir) / name
        if path.is_file() and marker is None:
            path.unlink()
        elif path.is_dir() and marker is not None and any(path.glob(marker)):
            shutil.rmtree(path)
        else:
            continue
        removed.append(name)
    return removed


def clear_published(run_dir: Path) -> None:
    """Remove a run folder's own checkpoints, metrics, recipe and finished mark (a two-stage
    run's published stage)."""
    for path in (best_checkpoint(run_dir), last_checkpoint(run_dir)):
        path.unlink(missing_ok=True)
    for name in (METRICS_FILE, CONFIG_FILE, FINISHED_FILE):
        (Path(run_dir) / name).unlink(missing_ok=True)


def clear_training(run_dir: Path) -> None:
    """Remove what a training run wrote into ``run_dir`` (``--force``) and what was derived from
    its model (:data:`DERIVED_FILES`); other files stay. Everything is checked before anything is
    removed (:func:`check_removable`)."""
    check_removable(run_dir)
    for name in TRAINING_DIRS:
        if (Path(run_dir) / name).is_dir():
            shutil.rmtree(Path(run_dir) / name)
    clear_published(run_dir)
    clear_derived(run_dir)
