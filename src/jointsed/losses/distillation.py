"""Frame-level target-event deep feature distillation (DFD).

OUR formulation (jointsed DESIGN section 2) of the "frame-level target-event based deep feature
distillation" named in the abstract of Liang et al., arXiv 2103.12388; the paper's exact formula
is not available to us. A frozen frame-level teacher (same body as the student, trained on the
strongly labelled clips) provides intermediate feature maps; on strongly labelled clips the
student's maps are pulled towards the teacher's in the frames where a target event is active:

    L_DFD = sum_l  sum_{b,t} M_btl || g_l(S_l(b, t)) - T_l(b, t) ||^2 / (sum_{b,t} M_btl C_l + eps)

``S_l, T_l``: student/teacher maps of layer ``l`` averaged over frequency, ``(B, C_l, T_l)``;
``g_l``: a learned 1x1 Conv1d adapter (student channels -> teacher channels); ``M``: 1 where any
event is active in the (resampled) frame, over the strongly labelled clips ``b`` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

MaskMode = Literal["target", "all", "none"]


def frame_activity_mask(strong_targets: Tensor, n_frames: int) -> Tensor:
    """Resample "any event active" from the label frame rate to a layer's frame rate.

    Args:
        strong_targets: ``(B, T, C)`` frame targets (> 0 = active).
        n_frames: ``T_l``, the layer's number of frames.

    Returns:
        ``(B, T_l)`` float 0/1 mask: 1 where at least one event is active in any label frame of
        the block of frames that layer frame covers (max-pooling over time blocks). When ``T``
        is a multiple of ``T_l`` the blocks are ``[t*T/T_l, (t+1)*T/T_l)``; otherwise adaptive
        max-pooling's blocks are used (boundary frames may belong to two blocks). When
        ``T_l > T`` (a network that padded the input) frames are repeated.
    """
    active = (strong_targets > 0).any(dim=-1).to(torch.float32).unsqueeze(1)  # (B, 1, T)
    if active.shape[-1] == n_frames:
        return active[:, 0]
    if active.shape[-1] < n_frames:
        return F.interpolate(active, size=n_frames, mode="nearest")[:, 0]
    return F.adaptive_max_pool1d(active, n_frames)[:, 0]


class FrameDistillationLoss(nn.Module):
    """Frame-level target-event deep feature distillation loss with 1x1 adapters.

    Args:
        student_channels: ``C_l`` of every student feature map (e.g. ``model.feature_channels``).
        teacher_channels: ``C_l`` of every teacher feature map.
        layers: indices (into the feature lists) of the layers to distil.
        mask_mode: "target" (frames with an active target event, default), "all" (every frame of
            the strongly labelled clips) or "none" (the loss is exactly 0: ablation switch).
        eps: ``eps`` in the denominator.

    Adapters with equal student/teacher channels start as the identity, so identical
    student and teacher maps give exactly zero loss at initialisation.

    Forward: ``(student_features, teacher_features, strong_targets (B, T, C), strong_mask (B,))``
    -> scalar. Feature lists hold ``(B, C_l, T_l, F_l)`` maps; teacher maps are detached.
    The sum over layers is not averaged: scale it with the caller's ``lambda_DFD``.
    """

    def __init__(self, student_channels: Sequence[int], teacher_channels: Sequence[int], layers: Sequence[int],
                 mask_mode: MaskMode = "target", eps: float = 1e-8):
        super().__init__()
        if mask_mode not in ("target", "all", "none"):
            raise ValueError(f"mask_mode must be 'target', 'all' or 'none', got {mask_mode!r}")
        layers = [int(i) for i in layers]
        for i in layers:
            if not (0 <= i < len(student_channels) and i < len(teacher_channels)):
                raise ValueError(
                    f"distillation layer {i} is out of range: student has {len(student_channels)} "
                    f"feature maps, teacher {len(teacher_channels)}"
                )
        self.layers = layers
        self.mask_mode = mask_mode
        self.eps = eps
        self.adapters = nn.ModuleList()
        for i in layers:
            adapter = nn.Conv1d(int(student_channels[i]), int(teacher_channels[i]), kernel_size=1)
            if student_channels[i] == teacher_channels[i]:
                with torch.no_grad():
                    adapter.weight.copy_(torch.eye(int(student_channels[i]))[:, :, None])
                    adapter.bias.zero_()
            self.adapters.append(adapter)

    def forward(self, student_features: Sequence[Tensor], teacher_features: Sequence[Tensor],
                strong_targets: Optional[Tensor], strong_mask: Tensor) -> Tensor:
        """Distillation loss over the strongly labelled clips of the batch (0 if there are none).

        Args:
            student_features: student maps, each ``(B, C_l, T_l, F_l)``.
            teacher_features: teacher maps, each ``(B, C'_l, T_l, F'_l)`` (frequency may differ).
            strong_targets: ``(B, T, C)`` frame targets (needed for mask_mode "target").
            strong_mask: ``(B,)`` bool, True for strongly labelled clips.
        """
        ref = student_features[self.layers[0]] if self.layers else None
        zero = ref.new_zeros(()) if ref is not None else torch.zeros(())
        rows = strong_mask.to(torch.bool).reshape(-1)
        if self.mask_mode == "none" or not self.layers or not bool(rows.any()):
            return zero
        if self.mask_mode == "target" and strong_targets is None:
            raise ValueError("mask_mode 'target' needs the strong targets")
        total = zero
        for adapter, i in zip(self.adapters, self.layers):
            student = student_features[i][rows].mean(dim=-1)  # (N, C_s, T_l)
            teacher = teacher_features[i][rows].detach().mean(dim=-1)  # (N, C_t, T_l)
            if student.shape[-1] != teacher.shape[-1]:
                raise ValueError(
                    f"layer {i}: student has {student.shape[-1]} frames, teacher {teacher.shape[-1]}"
                )
            if self.mask_mode == "target":
                mask = frame_activity_mask(strong_targets[rows], student.shape[-1]).to(student.dtype)
            else:
                mask = student.new_ones(student.shape[0], student.shape[-1])
            squared = (adapter(student) - teacher).pow(2).sum(dim=1)  # (N, T_l)
            total = total + (mask * squared).sum() / (mask.sum() * teacher.shape[1] + self.eps)
        return total
