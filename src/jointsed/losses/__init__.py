"""Loss functions of jointsed (pure PyTorch).

- :mod:`~jointsed.losses.guided`: guided-learning teacher/student loss (Lin et al., DCASE 2019)
  and the frame-level strong loss.
- :mod:`~jointsed.losses.focal`: binary focal loss and our adaptive focal loss (AFL).
- :mod:`~jointsed.losses.distillation`: our frame-level target-event deep feature distillation.
- :mod:`~jointsed.losses.consistency`: mean-teacher ramp-up, consistency, EMA update, mixup.
"""

from jointsed.losses.consistency import mean_teacher_consistency, mixup, sigmoid_rampup, update_ema
from jointsed.losses.distillation import FrameDistillationLoss, frame_activity_mask
from jointsed.losses.focal import AdaptiveFocalLoss, binary_focal_loss, binary_focal_loss_with_logits
from jointsed.losses.guided import (
    GUIDED_TERMS,
    bce,
    guided_learning_loss,
    hard_threshold,
    strong_frame_loss,
    teacher_weight,
)

__all__ = [
    "GUIDED_TERMS",
    "AdaptiveFocalLoss",
    "FrameDistillationLoss",
    "bce",
    "binary_focal_loss",
    "binary_focal_loss_with_logits",
    "frame_activity_mask",
    "guided_learning_loss",
    "hard_threshold",
    "mean_teacher_consistency",
    "mixup",
    "sigmoid_rampup",
    "strong_frame_loss",
    "teacher_weight",
    "update_ema",
]
