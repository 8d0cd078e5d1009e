"""The DCASE Task 4 baseline: CRNN mean teacher (Tarvainen & Valpola, NeurIPS 2017) with mixup,
as in DESED_task (Turpault et al.)."""

from __future__ import annotations

import copy
from typing import Any, Optional

import torch
from torch import Tensor

from jointsed.losses.consistency import mean_teacher_consistency, mixup, sigmoid_rampup, update_ema
from jointsed.losses.guided import apply_loss, strong_frame_loss
from jointsed.config import to_dict
from jointsed.systems.base import SEDSystem, _no_autocast
from jointsed.models.networks import build_network
from jointsed.runs.settings import ModelInfo, PhaseSettings
from jointsed.training.config import RecipeConfig
from jointsed.training.data import ValidationSet


class MeanTeacherSystem(SEDSystem):
    """DCASE baseline CRNN mean teacher: strong BCE on the synthetic clips' frames, weak BCE on
    the weak clips, consistency MSE (frame + clip) between student and EMA teacher on all clips
    with a sigmoid ramp-up, mixup of the labelled sub-batches. The EMA teacher is updated after
    every optimiser step."""

    def __init__(self, config: RecipeConfig, info: ModelInfo, phase: Optional[PhaseSettings] = None,
                 validation: Optional[ValidationSet] = None):
        super().__init__(config, info, phase, validation)
        self.student = build_network("crnn", to_dict(config.model), len(self.classes), config.features.n_mels, None)
        self.ema_teacher = copy.deepcopy(self.student)
        for p in self.ema_teacher.parameters():
            p.requires_grad_(False)

    def _mix(self, x: Tensor, weak: Tensor, strong: Tensor, strong_mask: Tensor, weak_only: Tensor):
        mt = self.config.mean_teacher
        if mt.mixup is None or float(torch.rand(())) >= mt.mixup_prob:
            return x, weak, strong
        x, weak, strong = x.clone(), weak.clone(), strong.clone()
        for rows, target in ((strong_mask, "strong"), (weak_only, "weak")):
            if int(rows.sum()) < 2:
                continue
            y = strong[rows] if target == "strong" else weak[rows]
            mixed_x, mixed_y = mixup(x[rows], y, alpha=mt.mixup_alpha, beta=mt.mixup_alpha, label_type=mt.mixup)
            x[rows] = mixed_x
            if target == "strong":
                strong[rows] = mixed_y
            else:
                weak[rows] = mixed_y
        return x, weak, strong

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        mt = self.config.mean_teacher
        x = self.normalize(batch["features"])
        strong_mask = batch["strong_mask"]
        weak_only = batch["weak_mask"] & ~strong_mask
        weak_rows = batch["weak_mask"] if mt.weak_loss_on_strong else weak_only
        x, weak, strong = self._mix(x, batch["weak"], batch["strong"], strong_mask, weak_only)
        out_s = self.student(x)
        self.record_training_clips(out_s.clip, weak, weak_rows)
        with torch.no_grad():
            out_t = self.ema_teacher(x)
        ramp = sigmoid_rampup(self.global_step, mt.rampup_epochs * self.steps_per_epoch())
        loss_fn = self.supervised_loss()
        with _no_autocast(self.device.type):
            s_clip, s_frame = out_s.clip.float(), out_s.frame.float()
            loss_strong = strong_frame_loss(s_frame, strong, strong_mask, loss_fn,
                                            frame_logits=out_s.upsampled_frame_logits().float())
            loss_weak = (apply_loss(loss_fn, s_clip[weak_rows], weak[weak_rows],
                                    None if out_s.clip_logits is None else out_s.clip_logits.float()[weak_rows])
                         if bool(weak_rows.any()) else s_clip.sum() * 0)
            consistency = mean_teacher_consistency(s_frame, out_t.frame.float()) + mean_teacher_consistency(
                s_clip, out_t.clip.float()
            )
            total = loss_strong + loss_weak + mt.consistency_weight * ramp * consistency
        self.log_step(total, {"strong": loss_strong, "weak": loss_weak, "consistency": consistency,
                              "consistency_weight": mt.consistency_weight * ramp}, x.shape[0])
        return total

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        super().on_train_batch_end(outputs, batch, batch_idx)
        update_ema(self.ema_teacher, self.student, self.config.mean_teacher.ema_decay, self.global_step)

    def predict_scores(self, features: Tensor) -> tuple[Tensor, Tensor]:
        net = self.student if self.config.mean_teacher.predict_with == "student" else self.ema_teacher
        out = net(self.normalize(features))
        return out.clip.float(), out.frame.float()
