"""Lightning systems: guided learning (Lin et al.), the CRNN mean teacher (DCASE baseline) and the
frame-level teacher of the joint framework's deep feature distillation.

Both share :class:`SEDSystem`: input normalisation with per-band training statistics (buffers,
saved in the checkpoint), per-batch re-seeding (exact resume), validation with clip F1 and event
F1 after post-processing, the optimiser and its schedule, and the inference entry point
:meth:`SEDSystem.predict_scores` used by validation AND by :class:`jointsed.inference.Detector`
(one code path: a reloaded checkpoint reproduces the validation scores exactly).

References:
    Lin, Wang, Liu & Li, "Guided learning for weakly-labeled semi-supervised sound event
    detection", ICASSP 2020 (DCASE 2019 Task 4 winner).
    Turpault et al., DCASE Task 4 baseline (DESED_task): CRNN mean teacher (Tarvainen & Valpola,
    NeurIPS 2017) with mixup.
    Liang, Long, Li, Liang & Wang, "Joint framework with deep feature distillation and adaptive
    focal loss for weakly supervised audio tagging and acoustic event detection", arXiv
    2103.12388: deep feature distillation (DFD) and the adaptive focal loss; OUR reconstruction
    from the abstract (jointsed DESIGN sections 2-3), not the authors' code.
"""

from __future__ import annotations

import copy
import math
from contextlib import nullcontext
from typing import Any, Optional

import numpy as np
import torch
from torch import Tensor

import lightning.pytorch as pl

from jointsed.config import to_dict
from jointsed.errors import JointsedError
from jointsed.losses.consistency import mean_teacher_consistency, mixup, sigmoid_rampup, update_ema
from jointsed.losses.distillation import FrameDistillationLoss
from jointsed.losses.focal import AdaptiveFocalLoss
from jointsed.losses.guided import apply_loss, bce, guided_learning_loss, strong_frame_loss, teacher_weight
from jointsed.models import crnn, professional_teacher, promising_student
from jointsed.postprocess.lin import lin_default_params
from jointsed.postprocess.params import PostProcessingParams
from jointsed.training.config import RecipeConfig
from jointsed.training.data import ValidationSet, derive_seed
from jointsed.training.metrics import (
    average_precision_per_class,
    clip_f1_per_class,
    crop_to_durations,
    event_f1_per_class,
    frame_average_precision_per_class,
    macro,
)

#: version of the ``checkpoint["jointsed"]`` block
CHECKPOINT_FORMAT = "jointsed.checkpoint/1"


def _no_autocast(device_type: str):
    """Losses on probabilities are computed in float32 (BCE is unsafe under float16 autocast)."""
    try:
        return torch.autocast(device_type=device_type, enabled=False)
    except RuntimeError:  # pragma: no cover - device without autocast support
        return nullcontext()


class SEDSystem(pl.LightningModule):
    """Common engine of the training systems.

    Args:
        config: the resolved recipe.
        meta: what inference needs besides the weights (stored in every checkpoint under
            ``checkpoint["jointsed"]``): ``classes``, ``class_ratios`` (disentangled dims),
            ``median_windows`` (Lin's post-processing windows), ``frame_hop``, ``n_frames``.
        validation: the in-memory validation set (None: no validation metrics).
    """

    def __init__(self, config: RecipeConfig, meta: dict[str, Any], validation: Optional[ValidationSet] = None):
        super().__init__()
        self.config = config
        self.meta = dict(meta)
        self.classes: list[str] = list(meta["classes"])
        self.validation_set = validation
        n_mels = config.features.n_mels
        self.register_buffer("feature_mean", torch.zeros(n_mels))
        self.register_buffer("feature_std", torch.ones(n_mels))
        self.history: list[dict[str, Any]] = []  # validation metrics of every epoch
        self._val_clip: list[Tensor] = []
        self._val_frame: list[Tensor] = []
        focal = config.joint.focal
        self.focal: Optional[AdaptiveFocalLoss] = (
            AdaptiveFocalLoss(len(self.classes), focal.gamma0, focal.eta, focal.momentum) if focal.enabled else None
        )
        # labelled training clips of the current epoch (clip scores, targets): the adaptive focal
        # loss's threshold-free per-class score (DESIGN section 3)
        self._train_clips: list[tuple[Tensor, Tensor]] = []
        #: validation metrics of the initial (untrained) weights, set by the engine before fitting
        self.untrained_metrics: Optional[dict[str, Any]] = None
        #: training clips seen by this process (the run's budget; kept in checkpoints for --resume)
        self.clips_seen = 0

    # ----- normalisation / inference -------------------------------------------------------
    def set_feature_statistics(self, mean: Tensor, std: Tensor) -> None:
        self.feature_mean.copy_(mean)
        self.feature_std.copy_(std)

    def normalize(self, x: Tensor) -> Tensor:
        """``(B, T, F)`` raw log-mel -> standardised per band with the training statistics."""
        return (x.float() - self.feature_mean) / self.feature_std

    def predict_scores(self, features: Tensor) -> tuple[Tensor, Tensor]:
        """Raw log-mel ``(B, T, F)`` -> ``(clip (B, C), frame (B, T, C))`` probabilities (float32).

        Call in eval mode under ``torch.no_grad()``.
        """
        raise NotImplementedError

    def postprocess_params(self) -> PostProcessingParams:
        """The default (Lin) post-processing of this model."""
        p = self.config.postprocess
        params = lin_default_params(self.classes, self.meta["median_windows"])
        n = len(self.classes)
        params.tag_threshold = [float(p.tag_threshold)] * n
        params.frame_threshold = [float(p.frame_threshold)] * n
        params.validate()
        return params

    # ----- budget ------------------------------------------------------------------------------
    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.clips_seen += int(batch["features"].shape[0])

    # ----- randomness: a pure function of (seed, epoch, batch, rank) ------------------------
    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        # Re-seeding per batch makes noise, dropout and mixup depend only on where we are in
        # training, so a run resumed from a checkpoint continues exactly like an uninterrupted one.
        torch.manual_seed(derive_seed(self.config.seed, self.current_epoch, batch_idx, self.global_rank, 7))

    # ----- several processes -----------------------------------------------------------------
    def _broadcast_buffers(self) -> None:
        """Copy rank 0's buffers (batch-norm statistics) to every rank.

        DDP keeps parameters identical; buffers updated in the forward pass drift by each rank's
        last batches. Broadcasting them before validation and at epoch end keeps the ranks'
        models identical (validation metrics, checkpoints and final weights agree).
        """
        if self._trainer is None or self.trainer.world_size <= 1:
            return
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
            return
        for buf in self.buffers():
            torch.distributed.broadcast(buf, src=0)

    def on_train_epoch_end(self) -> None:
        if self.focal is not None and self._train_clips:
            # F_c of the adaptive focal loss: per-class average precision of the clip scores of the
            # labelled training clips of this epoch (threshold-free, never the validation set).
            # Rank 0's estimate is then broadcast with the other buffers.
            scores = torch.cat([c for c, _ in self._train_clips]).numpy()
            targets = torch.cat([t for _, t in self._train_clips]).numpy()
            self.focal.update(average_precision_per_class(scores, targets))
            self.log("train/afl_mean_score", float(self.focal.running_score.mean()), on_step=False, on_epoch=True)
        self._train_clips = []
        self._broadcast_buffers()

    def record_training_clips(self, clip: Tensor, targets: Tensor, rows: Tensor) -> None:
        """Keep the clip scores and targets of a batch's labelled clips (``rows``) for the
        adaptive focal loss's per-class score (only when ``joint.focal`` is enabled: in stage 1
        too, so that stage 2 starts from a measured estimate)."""
        if self.focal is None or not bool(rows.any()):
            return
        self._train_clips.append((clip.detach()[rows].float().cpu(), (targets[rows] > 0.5).cpu()))

    # ----- optimiser -------------------------------------------------------------------------
    def steps_per_epoch(self) -> int:
        """Optimiser steps per epoch of the current fit (computed once; ramp-ups are in steps)."""
        cached = getattr(self, "_steps_per_epoch", None)
        if cached is not None:
            return cached
        trainer = self._trainer
        if trainer is None:
            return 1
        total = trainer.estimated_stepping_batches
        if not math.isfinite(total) or trainer.max_epochs is None or trainer.max_epochs < 1:
            steps = max(1, int(trainer.num_training_batches or 1))
        else:
            steps = max(1, int(total) // trainer.max_epochs)
        self._steps_per_epoch = steps
        return steps

    def lr_factor(self) -> float:
        """Multiplier applied on top of ``optimizer.lr`` (two-stage training lowers it)."""
        return float(self.meta.get("lr_factor", 1.0))

    def configure_optimizers(self):
        o = self.config.optimizer
        params = [p for p in self.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(params, lr=o.lr * self.lr_factor(), betas=tuple(o.betas), eps=o.eps,
                                     weight_decay=o.weight_decay)
        if o.scheduler == "step":
            sched = torch.optim.lr_scheduler.StepLR(optimizer, step_size=o.step_epochs, gamma=o.gamma)
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
        if o.scheduler == "warmup":
            warm = o.warmup_epochs * self.steps_per_epoch()
            sched = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: sigmoid_rampup(step, warm))
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
        return optimizer

    # ----- losses -----------------------------------------------------------------------------
    def supervised_loss(self):
        """BCE, or the adaptive focal loss when ``joint.focal`` is enabled (stage 2 of a
        two-stage run; the engine sets ``meta["use_focal"] = False`` for stage 1). Both are
        computed from logits where the network has them (:func:`jointsed.losses.guided.apply_loss`)."""
        return self.focal if self.focal is not None and self.meta.get("use_focal", True) else bce

    def schedule_epoch(self) -> int:
        """Epoch counted from 1 across stages (stage 2 continues stage 1's ramp-ups:
        ``meta["epoch_offset"]`` = stage 1's epochs)."""
        return self.current_epoch + 1 + int(self.meta.get("epoch_offset", 0))

    # ----- validation ------------------------------------------------------------------------
    def on_validation_epoch_start(self) -> None:
        self._broadcast_buffers()
        self._val_clip, self._val_frame = [], []

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        clip, frame = self.predict_scores(batch["features"])
        self._val_clip.append(clip.float().cpu())
        self._val_frame.append(frame.float().cpu())

    def compute_validation_metrics(self, clip: np.ndarray, frame: np.ndarray, val: ValidationSet) -> dict[str, Any]:
        """Metrics of validation scores ``clip (V, C)``, ``frame (V, T, C)``.

        ``ap`` (the default monitor, DESIGN section 8) is the mean of the macro frame-level and
        the macro clip-level average precision: threshold-free, so an untrained network (every
        output near 0.5) scores the classes' prevalence, not a lucky event F1.
        """
        targets = val.weak_targets.numpy()
        clip_f1 = clip_f1_per_class(clip, targets)
        present = targets.sum(0) > 0
        frames = crop_to_durations(frame, val.durations, self.meta["frame_hop"])
        clip_ap = average_precision_per_class(clip, targets)
        out: dict[str, Any] = {
            "clip_f1": macro(clip_f1, present),
            "clip_f1_per_class": {c: float(np.nan_to_num(f)) for c, f in zip(self.classes, clip_f1)},
            "clip_ap": macro(clip_ap, present),
            # identifies the exact scores (checked when a checkpoint is reloaded)
            "clip_scores_sum": float(clip.astype(np.float64).sum()),
            "frame_scores_sum": float(frame.astype(np.float64).sum()),
        }
        if val.frame_targets is not None:
            frame_ap = frame_average_precision_per_class(frames, list(val.frame_targets.numpy()))
            frame_present = ~np.isnan(frame_ap)
            out["frame_ap"] = macro(frame_ap, frame_present)
            out["frame_ap_per_class"] = {c: float(np.nan_to_num(f)) for c, f in zip(self.classes, frame_ap)}
            out["ap"] = 0.5 * (out["frame_ap"] + out["clip_ap"])
        else:
            out["ap"] = out["clip_ap"]
        if self.config.validation.event_f1:
            f1, ev_present, _ = event_f1_per_class(
                val.annotations.events, clip, frames, val.filenames, self.postprocess_params(), self.meta["frame_hop"]
            )
            out["event_f1"] = macro(f1, ev_present)
            out["event_f1_per_class"] = {c: float(f) for c, f in zip(self.classes, f1)}
        return out

    def monitor_score(self, metrics: dict[str, Any]) -> float:
        """The checkpointing score of validation ``metrics`` (``validation.monitor``; clip F1
        when event F1 is monitored but not computed)."""
        monitor = self.config.validation.monitor
        return float(metrics[monitor if monitor in metrics else "clip_f1"])

    @torch.no_grad()
    def score_validation_set(self) -> dict[str, Any]:
        """Validation metrics of the current weights (eval mode; no RNG is drawn), with
        ``score`` = the monitor. The engine measures the untrained network this way, the
        baseline a trained model (e.g. the distillation teacher) must beat."""
        assert self.validation_set is not None
        was_training = self.training
        self.eval()
        val, bs = self.validation_set, self.config.batch.validation_batch_size
        clips, frames = [], []
        for start in range(0, len(val), bs):
            clip, frame = self.predict_scores(val.features[start : start + bs].to(self.device))
            clips.append(clip.float().cpu())
            frames.append(frame.float().cpu())
        self.train(was_training)
        metrics = self.compute_validation_metrics(torch.cat(clips).numpy(), torch.cat(frames).numpy(), val)
        return {"score": self.monitor_score(metrics), **metrics}

    def on_validation_epoch_end(self) -> None:
        if not self._val_clip or self.validation_set is None:
            return
        clip = torch.cat(self._val_clip).numpy()
        frame = torch.cat(self._val_frame).numpy()
        self._val_clip, self._val_frame = [], []
        metrics = self.compute_validation_metrics(clip, frame, self.validation_set)
        score = self.monitor_score(metrics)
        if self.trainer.sanity_checking:
            return
        self.log("val/ap", metrics["ap"], prog_bar=True, sync_dist=False)
        self.log("val/clip_f1", metrics["clip_f1"], prog_bar=False, sync_dist=False)
        if "event_f1" in metrics:
            self.log("val/event_f1", metrics["event_f1"], prog_bar=True, sync_dist=False)
        self.log("val/score", score, prog_bar=False, sync_dist=False)
        self.history.append({"epoch": int(self.current_epoch), "step": int(self.global_step),
                             "score": float(score), **metrics})

    # ----- checkpoints -----------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["jointsed"] = {
            "format": CHECKPOINT_FORMAT,
            "system": self.config.system,
            "config": to_dict(self.config),
            "meta": self.meta,
            "history": self.history,
            "clips_seen": self.clips_seen,
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        block = checkpoint.get("jointsed") or {}
        self.history = list(block.get("history", []))
        self.clips_seen = int(block.get("clips_seen", 0))


class GuidedLearningSystem(SEDSystem):
    """Lin et al.'s guided learning: professional teacher (PT, coarse, tags) and promising
    student (PS, fine, detects) trained together with
    ``L = BCE(y, P_T) m + BCE(y, P_S) m + BCE(B(P_T), P_S)(1 - m) + a BCE(B(P_S), P_T)(1 - m)``,
    Gaussian noise on the PT's input. Epochs are counted from 1 for ``a`` (as Lin et al.).

    Inference: clip scores from ``guided_learning.clip_scores_from`` (PT by default),
    frame scores from ``frame_scores_from`` (PS by default).
    """

    def __init__(self, config: RecipeConfig, meta: dict[str, Any], validation: Optional[ValidationSet] = None):
        super().__init__(config, meta, validation)
        n_classes, n_mels = len(self.classes), config.features.n_mels
        ratios = meta.get("class_ratios") if config.model.disentangled else None
        self.teacher = professional_teacher(n_classes, n_mels, ratios, **to_dict(config.model.teacher))
        self.student = promising_student(n_classes, n_mels, ratios, **to_dict(config.model.student))
        self.meta["class_dims"] = {"teacher": self.teacher.class_dims, "student": self.student.class_dims}
        dist = config.joint.distillation
        self.distillation: Optional[FrameDistillationLoss] = None
        if dist.enabled:
            # adapters (1x1 convs) are trained with the PS and saved in checkpoints; they are not
            # used at inference. Teacher channels come from the engine (meta), default = the PS's.
            teacher_channels = (meta.get("distillation") or {}).get("teacher_channels", self.student.feature_channels)
            self.distillation = FrameDistillationLoss(self.student.feature_channels, teacher_channels,
                                                      dist.layers, dist.mask_mode)
        # the frozen frame-level teacher: NOT a registered sub-module (not trained, not saved)
        self._frame_teacher: dict[str, "FrameTeacherSystem"] = {}

    def attach_frame_teacher(self, teacher: "FrameTeacherSystem") -> None:
        """Use ``teacher`` (frozen: eval mode, no gradients) as the distillation teacher."""
        teacher.eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
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
        bs = x.shape[0]
        self.log("loss", total, prog_bar=True, on_step=True, on_epoch=True, batch_size=bs)
        for name, value in terms.items():
            if name != "total":
                self.log(f"train/{name}", value, on_step=False, on_epoch=True, batch_size=bs)
        self.log("train/teacher_weight", a, on_step=False, on_epoch=True, batch_size=bs)
        return total

    def predict_scores(self, features: Tensor) -> tuple[Tensor, Tensor]:
        gl = self.config.guided_learning
        x = self.normalize(features)
        outputs = {}
        for role in {gl.clip_scores_from, gl.frame_scores_from}:
            outputs[role] = (self.teacher if role == "teacher" else self.student)(x)
        return outputs[gl.clip_scores_from].clip.float(), outputs[gl.frame_scores_from].frame.float()


class MeanTeacherSystem(SEDSystem):
    """DCASE baseline CRNN mean teacher: strong BCE on the synthetic clips' frames, weak BCE on
    the weak clips, consistency MSE (frame + clip) between student and EMA teacher on all clips
    with a sigmoid ramp-up, mixup of the labelled sub-batches. The EMA teacher is updated after
    every optimiser step."""

    def __init__(self, config: RecipeConfig, meta: dict[str, Any], validation: Optional[ValidationSet] = None):
        super().__init__(config, meta, validation)
        n_classes, n_mels = len(self.classes), config.features.n_mels
        self.student = crnn(n_classes, n_mels, **to_dict(config.model.crnn))
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
        bs = x.shape[0]
        self.log("loss", total, prog_bar=True, on_step=True, on_epoch=True, batch_size=bs)
        self.log("train/strong", loss_strong, on_step=False, on_epoch=True, batch_size=bs)
        self.log("train/weak", loss_weak, on_step=False, on_epoch=True, batch_size=bs)
        self.log("train/consistency", consistency, on_step=False, on_epoch=True, batch_size=bs)
        self.log("train/consistency_weight", mt.consistency_weight * ramp, on_step=False, on_epoch=True,
                 batch_size=bs)
        return total

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        super().on_train_batch_end(outputs, batch, batch_idx)
        update_ema(self.ema_teacher, self.student, self.config.mean_teacher.ema_decay, self.global_step)

    def predict_scores(self, features: Tensor) -> tuple[Tensor, Tensor]:
        net = self.student if self.config.mean_teacher.predict_with == "student" else self.ema_teacher
        out = net(self.normalize(features))
        return out.clip.float(), out.frame.float()


class FrameTeacherSystem(SEDSystem):
    """Frame-level teacher of the deep feature distillation (our formulation, DESIGN section 2):
    a network with the PS's body (``model.student``, so that its block maps line up with the
    PS's) trained on the strongly labelled clips only with frame-level BCE + clip BCE.

    The engine feeds it only strongly labelled clips; rows without strong labels in a batch are
    ignored anyway. Inference (validation, :class:`~jointsed.inference.Detector`) uses its clip
    and frame outputs, so it is a detector in its own right.
    """

    def __init__(self, config: RecipeConfig, meta: dict[str, Any], validation: Optional[ValidationSet] = None):
        super().__init__(config, meta, validation)
        n_classes, n_mels = len(self.classes), config.features.n_mels
        ratios = meta.get("class_ratios") if config.model.disentangled else None
        self.network = promising_student(n_classes, n_mels, ratios, **to_dict(config.model.student))
        self.meta["class_dims"] = {"network": self.network.class_dims}

    @property
    def feature_channels(self) -> list[int]:
        return list(self.network.feature_channels)

    def feature_maps(self, features: Tensor) -> list[Tensor]:
        """Raw log-mel ``(B, T, F)`` -> the block maps ``(B, C_l, T_l, F_l)`` (normalised with
        this model's own training statistics)."""
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
        bs = int(rows.sum())
        self.log("loss", total, prog_bar=True, on_step=True, on_epoch=True, batch_size=bs)
        self.log("train/frame", frame, on_step=False, on_epoch=True, batch_size=bs)
        self.log("train/clip", clip, on_step=False, on_epoch=True, batch_size=bs)
        return total

    def predict_scores(self, features: Tensor) -> tuple[Tensor, Tensor]:
        out = self.network(self.normalize(features))
        return out.clip.float(), out.frame.float()


SYSTEMS: dict[str, type[SEDSystem]] = {
    "guided_learning": GuidedLearningSystem,
    "mean_teacher": MeanTeacherSystem,
    "frame_teacher": FrameTeacherSystem,
}


def build_system(config: RecipeConfig, meta: dict[str, Any], validation: Optional[ValidationSet] = None) -> SEDSystem:
    """The Lightning system named by ``config.system``."""
    return SYSTEMS[config.system](config, meta, validation)
