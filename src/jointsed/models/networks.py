"""The networks of each system, built from a recipe's ``model`` section: the one place that
knows which factory of :mod:`jointsed.models` a system calls, and with what.

Used by the Lightning systems (training) and by :class:`jointsed.runs.predictor.Predictor`
(inference without Lightning), so that both build exactly the same modules. Imports no Lightning.
"""

from __future__ import annotations

from typing import Any, Literal, Mapping, Optional, Sequence

from torch import nn

#: ``professional_teacher`` (PT, Lin et al.'s coarse tagger), ``promising_student`` (PS, the fine
#: detector; also the body of the frame-level teacher of the deep feature distillation), ``crnn``
#: (the DCASE baseline's CRNN)
NetworkKind = Literal["professional_teacher", "promising_student", "crnn"]

#: per system, its networks: state-dict prefix -> kind
SYSTEM_NETWORKS: dict[str, dict[str, NetworkKind]] = {
    "guided_learning": {"teacher": "professional_teacher", "student": "promising_student"},
    "mean_teacher": {"student": "crnn", "ema_teacher": "crnn"},
    "frame_teacher": {"network": "promising_student"},
}

#: the recipe's ``model`` sub-section each kind is configured by
_MODEL_SECTION: dict[str, str] = {"professional_teacher": "teacher", "promising_student": "student", "crnn": "crnn"}


def build_network(kind: NetworkKind, model: Mapping[str, Any], n_classes: int, n_mels: int,
                  class_ratios: Optional[Sequence[float]]) -> nn.Module:
    """One network of ``kind`` configured by the recipe's ``model`` section (plain data).

    Args:
        kind: see :data:`NetworkKind`.
        model: ``to_dict(config.model)`` (or the ``model`` mapping stored in a checkpoint).
        n_classes, n_mels: output classes, input mel bands.
        class_ratios: Lin's ``r_c`` for disentangled pooling; ignored unless
            ``model["disentangled"]`` (the CRNN has no disentangled pooling).
    """
    from jointsed.models import crnn, professional_teacher, promising_student

    section = dict(model[_MODEL_SECTION[kind]])
    if kind == "crnn":
        return crnn(n_classes, n_mels, **section)
    ratios = list(class_ratios) if (model.get("disentangled") and class_ratios is not None) else None
    factory = professional_teacher if kind == "professional_teacher" else promising_student
    return factory(n_classes, n_mels, ratios, **section)
