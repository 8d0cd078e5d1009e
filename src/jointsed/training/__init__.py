"""Training (PyTorch Lightning): from a recipe and a data folder to a run folder.

- :mod:`.config`: typed recipe (:class:`RecipeConfig`), ``base:`` inheritance, ``--set`` overrides;
- :mod:`.data`: features kept in memory, :class:`ComposedBatchSampler` (batch composition apart
  from the data sets), :class:`SEDDataModule`;
- :mod:`.metrics`: per-epoch validation metrics;
- :mod:`.trainer`: the Lightning trainer of one run folder (checkpoints, loggers, callbacks);
- :mod:`.fit`: one run folder (a whole run or one phase);
- :mod:`.phases`: :func:`train`: the joint framework's phases in order (frame teacher, stage 1,
  stage 2), reuse of finished phases, publication of the better stage;
- :mod:`.distributed`: ranks, barriers and device checks for Lightning DDP.

The systems (LightningModules) are in :mod:`jointsed.systems`, the run folder's files in
:mod:`jointsed.runs`, inference in :mod:`jointsed.inference`. ``import jointsed.training`` does
not import Lightning; :func:`train` does when first used.
"""

from __future__ import annotations

from jointsed.training.errors import TrainingError
from jointsed.utils.lazy import lazy_attributes

_LAZY = {
    "RecipeConfig": "jointsed.training.config",
    "load_recipe": "jointsed.training.config",
    "TrainResult": "jointsed.runs.state",
    "train": "jointsed.training.phases",
}


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)


__all__ = ["RecipeConfig", "TrainResult", "TrainingError", "load_recipe", "train"]
