"""The frame-level teacher of the joint framework's deep feature distillation (our formulation,
DESIGN section 2): the PS's body trained on the strongly labelled clips only."""

from __future__ import annotations

from typing import Optional

from torch import Tensor

from jointsed.losses.guided import bce, strong_frame_loss
from jointsed.models.cnn import GuidedLearningCNN
from jointsed.models.fast import FoldedCNN
from jointsed.config import to_dict
from jointsed.systems.base import SEDSystem, _no_autocast
from jointsed.models.networks import build_network
from jointsed.runs.settings import ModelInfo, PhaseSettings
from jointsed.training.config import RecipeConfig
from jointsed.training.data import ValidationSet


class FrameTeacherSystem(SEDSystem):
    """Frame-level teacher of the deep feature distillation (our formulation, DESIGN section 2):
    a network with the PS's body (``model.student``, so that its block maps line up with the
    PS's) trained on the strongly labelled clips only with frame-level BCE + clip BCE.

    The engine feeds it only strongly labelled clips; rows without strong labels in a batch are
    ignored anyway. Inference (validation, :class:`~jointsed.inference.Detector`) uses its clip
    and frame outputs, so it is a detector in its own right.
    """

    def __init__(self, config: RecipeConfig, info: ModelInfo, phase: Optional[PhaseSettings] = None,
                 validation: Optional[ValidationSet] = None):
        super().__init__(config, info, phase, validation)
        self.network = build_network("promising_student", to_dict(config.model), len(self.classes),
                                     config.features.n_mels, info.class_ratios)
        self.info.class_dims = {"network": list(self.network.class_dims)}
        # the frozen teacher's batch-norm-folded copy (:meth:`freeze`); a dict keeps it out of the
        # registered modules, so out of checkpoints
        self._folded: dict[str, FoldedCNN] = {}

    def freeze(self) -> None:
        """Frozen for distillation: eval mode, no gradients, and :meth:`feature_maps` computed by
        a batch-norm-folded copy of the network (:class:`~jointsed.models.fast.FoldedCNN`: the
        same maps up to float round-off, ~2x faster)."""
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)
        if isinstance(self.network, GuidedLearningCNN):
            self._folded["net"] = FoldedCNN(self.network)

    @property
    def feature_channels(self) -> list[int]:
        return list(self.network.feature_channels)

    def feature_maps(self, features: Tensor) -> list[Tensor]:
        """Raw log-mel ``(B, T, F)`` -> the block maps ``(B, C_l, T_l, F_l)`` (normalised with
        this model's own training statistics)."""
        folded = self._folded.get("net")
        if folded is not None and not self.training:
            return folded.to(features.device).feature_maps(self.normalize(features))
        return self.network(self.normalize(features)).features

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        x = self.normalize(batch["features"])
        out = self.network(x)
        rows = batch["strong_mask"]
        with _no_autocast(self.device.type):
            frame = strong_frame_loss(out.frame.float(), batch["strong"], rows, bce,
                                      frame_logits=out.upsampled_frame_logits().float())
            clip = (bce.from_logits(out.clip_logits.float()[rows], batch["weak"][rows])
                    if bool(rows.any()) else out.clip.sum() * 0)
            total = frame + clip
        self.log_step(total, {"frame": frame, "clip": clip}, int(rows.sum()))
        return total

    def predict_scores(self, features: Tensor) -> tuple[Tensor, Tensor]:
        out = self.network(self.normalize(features))
        return out.clip.float(), out.frame.float()
