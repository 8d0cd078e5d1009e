"""The common engine of the Lightning systems (:class:`SEDSystem`): input normalisation with
per-band training statistics (buffers, saved in the checkpoint), per-batch re-seeding (exact
resume), validation with threshold-free average precision and event F1 after post-processing,
the optimiser and its schedule, the checkpoint block, and the inference entry point
:meth:`SEDSystem.predict_scores` (one code path with :class:`jointsed.runs.predictor.Predictor`:
a reloaded checkpoint reproduces the validation scores exactly).

A system is given the resolved recipe, its :class:`~jointsed.runs.settings.ModelInfo` (what
inference needs) and :class:`~jointsed.runs.settings.PhaseSettings` (two-stage training):
typed, saved in every checkpoint as the ``meta`` mapping.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from typing import Any, Mapping, Optional

import numpy as np
import torch
from torch import Tensor

import lightning.pytorch as pl

from jointsed.config import to_dict
from jointsed.evaluate.tagging import clip_f1
from jointsed.losses.consistency import sigmoid_rampup
from jointsed.losses.focal import AdaptiveFocalLoss
from jointsed.losses.guided import bce
from jointsed.postprocess.params import PostProcessingParams
from jointsed.runs.checkpoint import jointsed_block
from jointsed.runs.settings import ModelInfo, PhaseSettings, default_postprocess, to_meta
from jointsed.training.config import RecipeConfig
from jointsed.training.data import ValidationSet
from jointsed.training.sampler import derive_seed
from jointsed.training.metrics import (
    average_precision_per_class,
    crop_to_durations,
    event_f1_per_class,
    frame_average_precision_per_class,
    macro,
)


def _no_autocast(device_type: str):
    """Losses on probabilities are computed in float32 (BCE is unsafe under float16 autocast)."""
    try:
        return torch.autocast(device_type=device_type, enabled=False)
    except RuntimeError:  # pragma: no cover - device without autocast support
        return nullcontext()


def adam(params: list[Tensor], fused: bool = True, **options: Any) -> torch.optim.Adam:
    """Adam with the fused implementation (one kernel for every parameter: ~7x faster than the
    per-parameter loop for our ~60 small tensors on CPU, and the recommended path on CUDA; equal
    to it up to float rounding), else (``fused=False``, or a device or dtype without a fused
    kernel) the multi-tensor one."""
    if fused:
        try:
            return torch.optim.Adam(params, fused=True, **options)
        except (RuntimeError, ValueError):  # a device or dtype without a fused kernel
            pass
    return torch.optim.Adam(params, foreach=True, **options)


class SEDSystem(pl.LightningModule):
    """Common engine of the training systems.

    Args:
        config: the resolved recipe.
        info: what inference needs besides the weights (classes, Lin's ``r_c`` and median
            windows, frame hop, front-end); saved in every checkpoint.
        phase: the training phase's settings (two-stage training); default: a plain run.
        validation: the in-memory validation set (None: no validation metrics).
    """

    def __init__(self, config: RecipeConfig, info: ModelInfo, phase: Optional[PhaseSettings] = None,
                 validation: Optional[ValidationSet] = None):
        super().__init__()
        self.config = config
        self.info = info
        self.phase = phase if phase is not None else PhaseSettings()
        self.classes: list[str] = list(info.classes)
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
        # training clips of the current epoch (clip scores, targets, labelled rows): the adaptive
        # focal loss's threshold-free per-class score (DESIGN section 3)
        self._train_clips: list[tuple[Tensor, Tensor, Tensor]] = []
        # loss terms of the current epoch, summed on the device (:meth:`log_step`)
        self._epoch_terms: dict[str, Tensor | float] = {}
        self._epoch_clips = 0
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
        return default_postprocess(self.info, to_dict(self.config.postprocess))

    # ----- budget ------------------------------------------------------------------------------
    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.clips_seen += int(batch["features"].shape[0])

    # ----- randomness: a pure function of (seed, epoch, batch, rank) ------------------------
    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        # Re-seeding per batch makes noise, dropout and mixup depend only on where we are in
        # training, so a run resumed from a checkpoint continues exactly like an uninterrupted one.
        seed = derive_seed(self.config.seed, self.current_epoch, batch_idx, self.global_rank, 7)
        # the generators this process draws from: the CPU's and, on an accelerator, that device's
        # (torch.manual_seed also seeds every CUDA/XPU/MTIA device: 0.7 ms per step for nothing)
        torch.default_generator.manual_seed(seed)
        if self.device.type == "cuda":
            torch.cuda.manual_seed(seed)
        elif self.device.type != "cpu":
            torch.manual_seed(seed)

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
            scores, targets, rows = (torch.cat(parts).cpu() for parts in zip(*self._train_clips))
            if bool(rows.any()):
                # F_c of the adaptive focal loss: per-class average precision of the clip scores of
                # the labelled training clips of this epoch (threshold-free, never the validation
                # set). Rank 0's estimate is then broadcast with the other buffers.
                self.focal.update(average_precision_per_class(scores[rows].numpy(), targets[rows].numpy()))
                self.log("train/afl_mean_score", float(self.focal.running_score.mean()), on_step=False,
                         on_epoch=True)
        self._train_clips = []
        self._log_epoch_terms()
        self._broadcast_buffers()

    def record_training_clips(self, clip: Tensor, targets: Tensor, rows: Tensor) -> None:
        """Keep the clip scores and targets of a batch and which rows are labelled (``rows``) for
        the adaptive focal loss's per-class score (only when ``joint.focal`` is enabled: in stage 1
        too, so that stage 2 starts from a measured estimate). Kept on the device and selected at
        the epoch's end: no host synchronisation per step."""
        if self.focal is None:
            return
        self._train_clips.append((clip.detach().float(), targets.detach() > 0.5, rows.detach().to(torch.bool)))

    # ----- logging ---------------------------------------------------------------------------
    def log_step(self, total: Tensor, terms: Mapping[str, Tensor | float], batch_size: int) -> None:
        """Log a training step: ``loss`` per step (progress bar) and per epoch, and the loss terms
        ``train/<name>`` as batch-size-weighted epoch means.

        The terms are summed on the device and logged once per epoch (:meth:`_log_epoch_terms`):
        a ``self.log`` call costs ~1 ms of host time (Lightning moves and reduces every value),
        which on a GPU, where a step's kernels take a few ms, was most of the step.
        """
        self.log("loss", total, prog_bar=True, on_step=True, on_epoch=True, batch_size=batch_size)
        for name, value in terms.items():
            # tensors stay on their device, plain numbers (schedules) on the host: no copy per step
            value = value.detach().float() if isinstance(value, Tensor) else float(value)
            self._epoch_terms[name] = self._epoch_terms.get(name, 0.0) + value * batch_size
        self._epoch_clips += batch_size

    def _log_epoch_terms(self) -> None:
        for name, value in self._epoch_terms.items():
            self.log(f"train/{name}", value / max(self._epoch_clips, 1), on_step=False, on_epoch=True)
        self._epoch_terms, self._epoch_clips = {}, 0

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
        return float(self.phase.lr_factor)

    def configure_optimizers(self):
        o = self.config.optimizer
        params = [p for p in self.parameters() if p.requires_grad]
        # Lightning's mixed-precision plugin refuses gradient clipping with an optimizer that
        # unscales gradients itself (fused Adam), even for bf16, which has no scaler
        trainer = self._trainer
        mixed = trainer is not None and str(trainer.precision).endswith("-mixed")
        optimizer = adam(params, fused=not mixed, lr=o.lr * self.lr_factor(), betas=tuple(o.betas), eps=o.eps,
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
        two-stage run; stage 1 has ``phase.use_focal`` False). Both are computed from logits where
        the network has them (:func:`jointsed.losses.guided.apply_loss`)."""
        return self.focal if self.focal is not None and self.phase.use_focal else bce

    def schedule_epoch(self) -> int:
        """Epoch counted from 1 across stages (stage 2 continues stage 1's ramp-ups:
        ``phase.epoch_offset`` = stage 1's epochs)."""
        return self.current_epoch + 1 + int(self.phase.epoch_offset)

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
        clip_f1_macro, clip_f1_per_class = clip_f1(clip, targets)
        present = targets.sum(0) > 0
        frames = crop_to_durations(frame, val.durations, self.info.frame_hop)
        clip_ap = average_precision_per_class(clip, targets)
        out: dict[str, Any] = {
            "clip_f1": clip_f1_macro,
            "clip_f1_per_class": {c: float(np.nan_to_num(f)) for c, f in zip(self.classes, clip_f1_per_class)},
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
                val.annotations.events, clip, frames, val.filenames, self.postprocess_params(), self.info.frame_hop
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

    @property
    def meta(self) -> dict[str, Any]:
        """The checkpoint's ``meta`` mapping (:func:`jointsed.runs.settings.to_meta`)."""
        return to_meta(self.info, self.phase)

    # ----- checkpoints -----------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["jointsed"] = jointsed_block(self.config.system, to_dict(self.config),
                                                self.meta, self.history, self.clips_seen)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        block = checkpoint.get("jointsed") or {}
        self.history = list(block.get("history", []))
        self.clips_seen = int(block.get("clips_seen", 0))
