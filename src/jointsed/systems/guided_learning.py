"""Lin et al.'s guided learning (DCASE 2019 Task 4 winner), with the joint framework's additions
(deep feature distillation from a frozen frame-level teacher, strong frame supervision of the
PS, the adaptive focal loss through :class:`~jointsed.systems.base.SEDSystem`).

References:
    Lin, Wang, Liu & Qian, "Guided learning for weakly-labeled semi-supervised sound event
    detection", ICASSP 2020 (arXiv 1906.02517).
    Liang, Long, Li, Liang & Wang, arXiv 2103.12388: deep feature distillation and the adaptive
    focal loss; OUR reconstruction from the abstract (jointsed DESIGN sections 2-3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import torch
from torch import Tensor

from jointsed.errors import JointsedError
from jointsed.losses.distillation import FrameDistillationLoss
from jointsed.losses.guided import guided_learning_loss, strong_frame_loss, teacher_weight
from jointsed.config import to_dict
from jointsed.systems.base import SEDSystem, _no_autocast
from jointsed.models.networks import build_network
from jointsed.runs.settings import ModelInfo, PhaseSettings
from jointsed.training.config import RecipeConfig
from jointsed.training.data import ValidationSet

if TYPE_CHECKING:
    from jointsed.systems.frame_teacher import FrameTeacherSystem


class GuidedLearningSystem(SEDSystem):
    """Lin et al.'s guided learning: professional teacher (PT, coarse, tags) and promising
    student (PS, fine, detects) trained together with
    ``L = BCE(y, P_T) m + BCE(y, P_S) m + BCE(B(P_T), P_S)(1 - m) + a BCE(B(P_S), P_T)(1 - m)``,
    Gaussian noise on the PT's input. Epochs are counted from 1 for ``a`` (as Lin et al.).

    Inference: clip scores from ``guided_learning.clip_scores_from`` (PT by default),
    frame scores from ``frame_scores_from`` (PS by default).
    """

    def __init__(self, config: RecipeConfig, info: ModelInfo, phase: Optional[PhaseSettings] = None,
                 validation: Optional[ValidationSet] = None):
        super().__init__(config, info, phase, validation)
        model, n_classes, n_mels = to_dict(config.model), len(self.classes), config.features.n_mels
        self.teacher = build_network("professional_teacher", model, n_classes, n_mels, info.class_ratios)
        self.student = build_network("promising_student", model, n_classes, n_mels, info.class_ratios)
        self.info.class_dims = {"teacher": list(self.teacher.class_dims), "student": list(self.student.class_dims)}
        dist = config.joint.distillation
        self.distillation: Optional[FrameDistillationLoss] = None
        if dist.enabled:
            # adapters (1x1 convs) are trained with the PS and saved in checkpoints; they are not
            # used at inference. Their sizes come from the frame teacher (``info.distillation``;
            # default: the PS's own channels, as the teacher has the PS's body).
            source = info.distillation
            teacher_channels = source.teacher_channels if source is not None else self.student.feature_channels
            self.distillation = FrameDistillationLoss(self.student.feature_channels, teacher_channels,
                                                      dist.layers, dist.mask_mode)
        # the frozen frame-level teacher: NOT a registered sub-module (not trained, not saved)
        self._frame_teacher: dict[str, "FrameTeacherSystem"] = {}

    def attach_frame_teacher(self, teacher: "FrameTeacherSystem") -> None:
        """Use ``teacher`` (frozen: eval mode, no gradients) as the distillation teacher."""
        teacher.freeze()
        self._frame_teacher["net"] = teacher

    @property
    def frame_teacher(self) -> Optional["FrameTeacherSystem"]:
        return self._frame_teacher.get("net")

    def on_fit_start(self) -> None:
        if self.distillation is not None:
            if self.frame_teacher is None:
                raise JointsedError("joint.distillation is enabled but no frame teacher is attached "
                                    "(GuidedLearningSystem.attach_frame_teacher)")
            self.frame_teacher.to(self.device).eval()

    def distillation_loss(self, features: Tensor, student_features: list[Tensor], strong: Tensor,
                          strong_mask: Tensor) -> Tensor:
        """DFD term on the strongly labelled clips of a batch (exact 0 if there are none).

        Args:
            features: ``(B, T, F)`` raw log-mel (the teacher normalises with its own statistics,
                i.e. exactly as it was trained).
            student_features: the PS's block maps ``(B, C_l, T_l, F_l)``.
            strong: ``(B, T, C)`` frame targets; strong_mask: ``(B,)`` bool.
        """
        assert self.distillation is not None and self.frame_teacher is not None
        rows = strong_mask.to(torch.bool)
        if self.config.joint.distillation.mask_mode == "none" or not bool(rows.any()):
            return student_features[0].sum() * 0.0
        with torch.no_grad():
            teacher_features = self.frame_teacher.feature_maps(features[rows])
        student = [f[rows] for f in student_features]
        ones = torch.ones(student[0].shape[0], dtype=torch.bool, device=rows.device)
        with _no_autocast(self.device.type):
            return self.distillation([f.float() for f in student], [f.float() for f in teacher_features],
                                     strong[rows], ones)

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        gl = self.config.guided_learning
        x = self.normalize(batch["features"])
        noisy = x + gl.teacher_noise_std * torch.randn_like(x) if gl.teacher_noise_std > 0 else x
        out_t = self.teacher(noisy)
        out_s = self.student(x)
        a = teacher_weight(self.schedule_epoch(), gl.teacher_weight_start, gl.teacher_weight_base)
        self.record_training_clips(out_t.clip if gl.clip_scores_from == "teacher" else out_s.clip,
                                   batch["weak"], batch["weak_mask"])
        with _no_autocast(self.device.type):
            terms = guided_learning_loss(
                out_t.float_clip(), out_s.float_clip(), batch["weak"], batch["weak_mask"], a,
                supervised_loss=self.supervised_loss(), threshold=gl.threshold,
            )
            total = terms["total"]
            if gl.strong_weight > 0:
                terms["student_strong"] = strong_frame_loss(
                    out_s.frame.float(), batch["strong"], batch["strong_mask"], self.supervised_loss(),
                    frame_logits=out_s.upsampled_frame_logits().float(),
                )
                total = total + gl.strong_weight * terms["student_strong"]
        if self.distillation is not None:
            terms["distillation"] = self.distillation_loss(batch["features"], out_s.features, batch["strong"],
                                                           batch["strong_mask"])
            total = total + self.config.joint.distillation.weight * terms["distillation"]
        self.log_step(total, {**{k: v for k, v in terms.items() if k != "total"}, "teacher_weight": a}, x.shape[0])
        return total

    def predict_scores(self, features: Tensor) -> tuple[Tensor, Tensor]:
        gl = self.config.guided_learning
        x = self.normalize(features)
        outputs = {}
        for role in {gl.clip_scores_from, gl.frame_scores_from}:
            outputs[role] = (self.teacher if role == "teacher" else self.student)(x)
        return outputs[gl.clip_scores_from].clip.float(), outputs[gl.frame_scores_from].frame.float()
