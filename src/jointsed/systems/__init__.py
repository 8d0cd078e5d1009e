"""Lightning systems, one per training method, over a small common base.

- :mod:`.base`: :class:`SEDSystem` (normalisation, seeding, validation, optimiser, checkpoint
  block, the inference entry point ``predict_scores``);
- :mod:`.guided_learning`: Lin et al.'s guided learning and the joint framework's additions;
- :mod:`.mean_teacher`: the DCASE baseline CRNN mean teacher;
- :mod:`.frame_teacher`: the distillation's frame-level teacher;

A system is built from the recipe, :class:`~jointsed.runs.settings.ModelInfo` and
:class:`~jointsed.runs.settings.PhaseSettings` (typed; saved in every checkpoint, so they belong
to :mod:`jointsed.runs`) with the networks :mod:`jointsed.models.networks` names for it (shared
with inference's :class:`~jointsed.runs.predictor.Predictor`).

``import jointsed.systems`` does not import Lightning: the system classes load on first use.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Optional

from jointsed.runs.settings import ModelInfo, PhaseSettings
from jointsed.utils.lazy import lazy_attributes

if TYPE_CHECKING:
    import torch

    from jointsed.systems.base import SEDSystem
    from jointsed.training.config import RecipeConfig
    from jointsed.training.data import ValidationSet

#: ``config.system`` -> (module, class)
SYSTEMS: dict[str, tuple[str, str]] = {
    "guided_learning": ("jointsed.systems.guided_learning", "GuidedLearningSystem"),
    "mean_teacher": ("jointsed.systems.mean_teacher", "MeanTeacherSystem"),
    "frame_teacher": ("jointsed.systems.frame_teacher", "FrameTeacherSystem"),
}
_CLASSES = {cls: module for module, cls in SYSTEMS.values()} | {"SEDSystem": "jointsed.systems.base"}


def system_class(name: str) -> type["SEDSystem"]:
    """The Lightning system class of ``config.system`` = ``name``."""
    module, cls = SYSTEMS[name]
    return getattr(importlib.import_module(module), cls)


def build_system(config: "RecipeConfig", info: ModelInfo, phase: Optional[PhaseSettings] = None,
                 validation: Optional["ValidationSet"] = None) -> "SEDSystem":
    """The Lightning system named by ``config.system``."""
    return system_class(config.system)(config, info, phase, validation)


def load_system(path: "str | os.PathLike", device: "str | torch.device" = "cpu") -> "SEDSystem":
    """Rebuild the trained Lightning system of a checkpoint (file or run folder), in eval mode on
    ``device`` (training and analysis; inference needs only
    :class:`~jointsed.runs.predictor.Predictor`).

    Raises:
        CheckpointError: unreadable checkpoint, or weights that do not fit its stored recipe.
    """
    from jointsed.errors import JointsedError
    from jointsed.runs.checkpoint import CheckpointError, read_checkpoint, resolve_checkpoint
    from jointsed.runs.settings import split_meta
    from jointsed.training.config import recipe_from_dict

    path = resolve_checkpoint(path)
    ckpt = read_checkpoint(path)
    block = ckpt["jointsed"]
    try:
        config = recipe_from_dict(block["config"])
        info, phase = split_meta(block["meta"], "meta")
    except JointsedError as exc:
        raise CheckpointError(f"{path}: its stored settings cannot be read ({exc})") from None
    system = build_system(config, info, phase)
    try:
        system.load_state_dict(ckpt["state_dict"])
    except (RuntimeError, JointsedError) as exc:
        raise CheckpointError(f"{path}: weights do not fit the stored configuration ({exc})") from None
    system.history = list(block.get("history", []))
    return system.eval().to(device)


# lazy: the classes import Lightning
__getattr__, __dir__ = lazy_attributes(__name__, _CLASSES)


__all__ = ["FrameTeacherSystem", "GuidedLearningSystem", "MeanTeacherSystem", "ModelInfo", "PhaseSettings",
           "SEDSystem", "SYSTEMS", "build_system", "load_system", "system_class"]
