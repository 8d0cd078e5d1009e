"""The predicting network of a checkpoint, rebuilt with plain torch modules (no Lightning).

``jointsed predict`` only needs the network(s) that give the scores and the input statistics;
importing Lightning and the training engine for that costs seconds of start-up. A
:class:`Predictor` is built from what every checkpoint stores (``checkpoint["jointsed"]``: the
resolved recipe as plain data and the inference metadata; ``state_dict``) with the model
factories of :mod:`jointsed.models` called exactly as the training systems call them, and its
:meth:`Predictor.predict_scores` computes what ``SEDSystem.predict_scores`` computes, operation
for operation (tests/test_inference_streaming.py checks bit-identical scores for the
guided-learning, mean-teacher and frame-teacher systems):

- guided learning: clip scores from ``guided_learning.clip_scores_from`` (PT, ``teacher.*``),
  frame scores from ``frame_scores_from`` (PS, ``student.*``);
- mean teacher: ``mean_teacher.predict_with``: the student (``student.*``) or the EMA teacher
  (``ema_teacher.*``);
- frame teacher: its one network (``network.*``).

Only the weights of the networks used are loaded; training-only parts (distillation adapters,
the focal loss state, the other network) are ignored.

:meth:`Predictor.window_scores` is the fast path ``jointsed predict`` takes for the windows of
a long file (equal to :meth:`Predictor.predict_scores` window by window up to float round-off,
~1e-6; tests/models/test_fast.py): the guided-learning CNNs run as
:class:`~jointsed.models.fast.FoldedCNN` (batch norm folded, first layers chunked in time), only
the head each network is used for is kept, and when the frame network is time-local (Lin's PS:
no time pooling, 5 + 5 frames of context) and the windows overlap, its frames are computed once
over the windows' union instead of once per window, plus the few frames at each window's edges
(where the window's zero padding changes them) from short crops. At the default half-clip hop
that halves the PS's work, which is ~90 % of ``jointsed predict``'s compute.

``precision="bf16"`` (``jointsed predict --precision bf16``) runs the networks in bfloat16: the
guided-learning CNNs' convolutions on the fast path (:class:`~jointsed.models.fast.FoldedCNN`), any
other network under ``torch.autocast``. Not equal up to round-off (8 significant bits): fast on
CPUs with AMX and on GPUs; docs/quickstart.md gives its measured effect on detections.
"""

from __future__ import annotations

import os
from typing import Any, Literal, Mapping, Optional, Sequence

import torch
from torch import Tensor, nn

from jointsed.errors import JointsedError
from jointsed.postprocess.params import PostProcessingParams
from jointsed.models.networks import SYSTEM_NETWORKS, build_network
from jointsed.runs.precision import DEFAULT_PRECISION, compute_dtype
from jointsed.runs.settings import ModelInfo, default_postprocess, split_meta

Role = Literal["teacher", "student"]


class PredictorError(JointsedError):
    """A checkpoint whose stored configuration or weights do not make a predicting network."""


def _networks(system: str, model: Mapping[str, Any], n_classes: int, info: ModelInfo, n_mels: int,
              clip_from: Role, frame_from: Role, predict_with: str) -> tuple[dict[str, nn.Module], str, str]:
    """``({state_dict prefix: network}, clip prefix, frame prefix)``: only the networks used,
    built as the systems build them (:mod:`jointsed.models.networks`)."""
    if system not in SYSTEM_NETWORKS:
        raise PredictorError(f"system {system!r}: no predicting network known ({', '.join(SYSTEM_NETWORKS)})")
    if system == "guided_learning":
        clip_net, frame_net = clip_from, frame_from
    elif system == "mean_teacher":
        clip_net = frame_net = "student" if predict_with == "student" else "ema_teacher"
    else:
        clip_net = frame_net = "network"
    kinds = SYSTEM_NETWORKS[system]
    nets = {name: build_network(kinds[name], model, n_classes, n_mels, info.class_ratios) for name in {clip_net, frame_net}}
    return nets, clip_net, frame_net


class Predictor(nn.Module):
    """Raw log-mel ``(B, T, F)`` -> ``(clip (B, C), frame (B, T, C))`` probabilities.

    Offers what :class:`jointsed.inference.Detector` uses of a trained system: ``classes``,
    ``info``, ``feature_mean``, :meth:`predict_scores` and :meth:`postprocess_params`.

    Attributes:
        fast: whether :class:`jointsed.inference.Detector` scores the windows of long files with
            :meth:`window_scores` (default) rather than :meth:`predict_scores`; the environment
            variable ``JOINTSED_REFERENCE_PREDICT=1`` turns it off (benchmarks/predict_speed.py
            times both paths with it).

    Args:
        checkpoint: a checkpoint dict as read by :func:`jointsed.runs.checkpoint.read_checkpoint`.
        clip_scores_from, frame_scores_from: guided learning: override the recipe's networks.
        predict_with: mean teacher: "student" or "teacher" (EMA), overriding the recipe.
        precision: "fp32" (default) or "bf16" (:mod:`jointsed.runs.precision`).
    """

    def __init__(self, checkpoint: Mapping[str, Any], clip_scores_from: Optional[Role] = None,
                 frame_scores_from: Optional[Role] = None, predict_with: Optional[str] = None,
                 precision: str = DEFAULT_PRECISION) -> None:
        super().__init__()
        try:
            self.dtype = compute_dtype(precision)
        except ValueError as exc:
            raise PredictorError(str(exc)) from None
        self.fast = os.environ.get("JOINTSED_REFERENCE_PREDICT", "") not in ("1", "true", "yes")
        block = checkpoint["jointsed"]
        config = block["config"]
        self.config: dict[str, Any] = config
        try:
            self.info, self.phase = split_meta(block["meta"])
        except JointsedError as exc:
            raise PredictorError(f"its stored settings cannot be read ({exc})") from None
        self.system: str = str(config["system"])
        self.classes: list[str] = list(self.info.classes)
        gl = config.get("guided_learning") or {}
        self.clip_scores_from: Role = clip_scores_from or gl.get("clip_scores_from", "teacher")
        self.frame_scores_from: Role = frame_scores_from or gl.get("frame_scores_from", "student")
        self.predict_with = predict_with or (config.get("mean_teacher") or {}).get("predict_with", "student")
        n_mels = int(config["features"]["n_mels"])
        nets, self._clip_net, self._frame_net = _networks(
            self.system, config["model"], len(self.classes), self.info, n_mels,
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
        reduced = self.dtype != torch.float32
        with torch.autocast(x.device.type, dtype=self.dtype, enabled=reduced):
            outputs = {name: self.nets[name](x) for name in {self._clip_net, self._frame_net}}
        return outputs[self._clip_net].clip.float(), outputs[self._frame_net].frame.float()

    forward = predict_scores

    # ----- fast path (inference only) ----------------------------------------------------------
    def _fast(self, name: str) -> Optional[nn.Module]:
        """The :class:`FoldedCNN` of network ``name`` (built on first use, after loading), or
        ``None`` for networks without a fast path (the CRNN)."""
        from jointsed.models.cnn import GuidedLearningCNN
        from jointsed.models.fast import FoldedCNN

        cache = self.__dict__.setdefault("_fast_nets", {})  # not a submodule: not in state_dict
        net = self.nets[name]
        key = (name, self.feature_mean.device, self.dtype)
        if key not in cache:
            cache[key] = FoldedCNN(net.eval(), self.dtype) if isinstance(net, GuidedLearningCNN) else None
        return cache[key]

    @torch.inference_mode()
    def window_scores(self, windows: Tensor, starts: Optional[Sequence[int]] = None) -> tuple[Tensor, Tensor]:
        """:meth:`predict_scores` of ``windows (W, T, F)`` (raw log-mel), equal up to float
        round-off, faster (see the module docstring).

        Args:
            windows: the windows of ONE file, in order.
            starts: their start frames in the file; when given and the windows overlap, the
                frames of a time-local frame network are computed once over their union.
        """
        clip_fast, frame_fast = self._fast(self._clip_net), self._fast(self._frame_net)
        if clip_fast is None or frame_fast is None:
            return self.predict_scores(windows)
        x = self.normalize(windows)
        if self._clip_net == self._frame_net:
            clip, frame = clip_fast(x)
            return clip.float(), frame.float()
        clip = clip_fast(x)[0]
        frame = None
        if starts is not None:
            from jointsed.models.fast import frame_halo, overlapping_window_frames

            halo = frame_halo(self.nets[self._frame_net])
            if halo is not None:
                frame = overlapping_window_frames(frame_fast, x, starts, halo)
        if frame is None:
            frame = frame_fast(x)[1]
        return clip.float(), frame.float()

    def postprocess_params(self) -> PostProcessingParams:
        """The model's default (Lin) post-processing (as ``SEDSystem.postprocess_params``)."""
        return default_postprocess(self.info, self.config.get("postprocess") or {})
