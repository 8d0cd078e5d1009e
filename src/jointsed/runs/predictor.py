"""The predicting network of a checkpoint, rebuilt with plain torch modules (no Lightning).

``jointsed predict`` only needs the network(s) that give the scores and the input statistics;
importing Lightning and the training engine for that costs seconds of start-up. A
:class:`Predictor` is built from what every checkpoint stores (``checkpoint["jointsed"]``: the
resolved recipe as plain data and the inference metadata; ``state_dict``) with the model
factories of :mod:`jointsed.models` called exactly as the training systems call them, and its
:meth:`Predictor.predict_scores` computes what ``SEDSystem.predict_scores`` computes, operation
for operation (tests/test_predict_streaming.py checks bit-identical scores for the
guided-learning, mean-teacher and frame-teacher systems):

- guided learning: clip scores from ``guided_learning.clip_scores_from`` (PT, ``teacher.*``),
  frame scores from ``frame_scores_from`` (PS, ``student.*``);
- mean teacher: ``mean_teacher.predict_with``: the student (``student.*``) or the EMA teacher
  (``ema_teacher.*``);
- frame teacher: its one network (``network.*``).

Only the weights of the networks used are loaded; training-only parts (distillation adapters,
the focal loss state, the other network) are ignored.
"""

from __future__ import annotations

from typing import Any, Literal, Mapping, Optional

import torch
from torch import Tensor, nn

from jointsed.errors import JointsedError
from jointsed.postprocess.lin import lin_default_params
from jointsed.postprocess.params import PostProcessingParams

Role = Literal["teacher", "student"]


class PredictorError(JointsedError):
    """A checkpoint whose stored configuration or weights do not make a predicting network."""


def _networks(system: str, model: Mapping[str, Any], n_classes: int, n_mels: int, meta: Mapping[str, Any],
              clip_from: Role, frame_from: Role, predict_with: str) -> tuple[dict[str, nn.Module], str, str]:
    """``({state_dict prefix: network}, clip prefix, frame prefix)``, as the systems build them."""
    from jointsed.models import crnn, professional_teacher, promising_student

    ratios = meta.get("class_ratios") if model.get("disentangled") else None
    if system == "guided_learning":
        prefix = {"teacher": "teacher", "student": "student"}
        nets: dict[str, nn.Module] = {}
        for role in {clip_from, frame_from}:
            factory = professional_teacher if role == "teacher" else promising_student
            nets[prefix[role]] = factory(n_classes, n_mels, ratios, **dict(model[role]))
        return nets, prefix[clip_from], prefix[frame_from]
    if system == "mean_teacher":
        name = "student" if predict_with == "student" else "ema_teacher"
        return {name: crnn(n_classes, n_mels, **dict(model["crnn"]))}, name, name
    if system == "frame_teacher":
        return {"network": promising_student(n_classes, n_mels, ratios, **dict(model["student"]))}, "network", "network"
    raise PredictorError(f"system {system!r}: no predicting network known (guided_learning, mean_teacher, frame_teacher)")


class Predictor(nn.Module):
    """Raw log-mel ``(B, T, F)`` -> ``(clip (B, C), frame (B, T, C))`` probabilities.

    Offers what :class:`jointsed.inference.Detector` uses of a trained system: ``classes``,
    ``meta``, ``feature_mean``, :meth:`predict_scores` and :meth:`postprocess_params`.

    Args:
        checkpoint: a checkpoint dict as read by :func:`jointsed.runs.checkpoint.read_checkpoint`.
        clip_scores_from, frame_scores_from: guided learning: override the recipe's networks.
        predict_with: mean teacher: "student" or "teacher" (EMA), overriding the recipe.
    """

    def __init__(self, checkpoint: Mapping[str, Any], clip_scores_from: Optional[Role] = None,
                 frame_scores_from: Optional[Role] = None, predict_with: Optional[str] = None) -> None:
        super().__init__()
        block = checkpoint["jointsed"]
        config, meta = block["config"], dict(block["meta"])
        self.config: dict[str, Any] = config
        self.meta: dict[str, Any] = meta
        self.system: str = str(config["system"])
        self.classes: list[str] = list(meta["classes"])
        gl = config.get("guided_learning") or {}
        self.clip_scores_from: Role = clip_scores_from or gl.get("clip_scores_from", "teacher")
        self.frame_scores_from: Role = frame_scores_from or gl.get("frame_scores_from", "student")
        self.predict_with = predict_with or (config.get("mean_teacher") or {}).get("predict_with", "student")
        n_mels = int(config["features"]["n_mels"])
        nets, self._clip_net, self._frame_net = _networks(
            self.system, config["model"], len(self.classes), n_mels, meta,
            self.clip_scores_from, self.frame_scores_from, self.predict_with,
        )
        self.nets = nn.ModuleDict(nets)
        self.register_buffer("feature_mean", torch.zeros(n_mels))
        self.register_buffer("feature_std", torch.ones(n_mels))
        self._load(checkpoint["state_dict"])
        self.eval()

    def _load(self, state: Mapping[str, Tensor]) -> None:
        wanted = set(self.state_dict())
        mine: dict[str, Tensor] = {}
        for key, value in state.items():
            if key in ("feature_mean", "feature_std"):
                mine[key] = value
            elif f"nets.{key}" in wanted:
                mine[f"nets.{key}"] = value
        try:
            self.load_state_dict(mine, strict=True)
        except RuntimeError as exc:
            raise PredictorError(f"the weights do not fit the stored configuration ({exc})") from None

    def normalize(self, x: Tensor) -> Tensor:
        """Standardise per band with the training statistics (as ``SEDSystem.normalize``)."""
        return (x.float() - self.feature_mean) / self.feature_std

    @torch.no_grad()
    def predict_scores(self, features: Tensor) -> tuple[Tensor, Tensor]:
        """Raw log-mel ``(B, T, F)`` -> ``(clip (B, C), frame (B, T, C))`` float32 probabilities."""
        x = self.normalize(features)
        outputs = {name: self.nets[name](x) for name in {self._clip_net, self._frame_net}}
        return outputs[self._clip_net].clip.float(), outputs[self._frame_net].frame.float()

    forward = predict_scores

    def postprocess_params(self) -> PostProcessingParams:
        """The default (Lin) post-processing stored with the model (as ``SEDSystem.postprocess_params``)."""
        p = self.config.get("postprocess") or {}
        params = lin_default_params(self.classes, self.meta["median_windows"])
        n = len(self.classes)
        params.tag_threshold = [float(p.get("tag_threshold", 0.5))] * n
        params.frame_threshold = [float(p.get("frame_threshold", 0.5))] * n
        params.validate()
        return params
