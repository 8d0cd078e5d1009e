"""Lin et al.'s class-wise median windows and default post-processing (DESIGN §1).

Lin, Wang, Liu, Yu, "Guided Learning Convolution System for DCASE 2019 Task 4" (DCASE 2019):
the median window of class c is a third of its mean event length in the synthetic strong labels,

    w_c = max(1, ⌊⌊mean length of c / frame_hop⌋ × 0.333⌋)

The mean is taken over the event lengths in seconds and converted to frames by dividing by the
frame hop (not by first converting every event to a number of frames). On the DCASE 2019
synthetic labels (``synthetic2019.tsv``) at 20 ms frames this reproduces the published windows
Alarm 17, Blender 42, Cat 17, Dishes 9, Dog 16, Shaver 74, Frying 85, Water 64, Speech 18,
Vacuum 87; counting frames per event first (⌊offset/hop⌋ − ⌊onset/hop⌋) would give 75 for the
shaver, 65 for water and 19 for speech instead.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Sequence

from jointsed.postprocess.params import PostProcessingError, PostProcessingParams

if TYPE_CHECKING:
    from jointsed.data.annotations import StrongAnnotations

LIN_WINDOW_FACTOR = 0.333
# tolerance for floor() so that a mean length of e.g. 28.9999999999 frames (float noise) counts as 29
_FLOOR_EPS = 1e-9


def lin_median_windows(
    strong: "StrongAnnotations",
    classes: Sequence[str],
    frame_hop: float = 0.02,
    factor: float = LIN_WINDOW_FACTOR,
) -> list[int]:
    """Lin's median window (frames) for every class, from strong labels.

    Args:
        strong: strong annotations (normally the synthetic training set).
        classes: class names; the result follows this order.
        frame_hop: frame hop in seconds (0.02 for 20 ms frames).
        factor: fraction of the mean event length (Lin: 0.333).

    Returns:
        ``[w_c for c in classes]``, each ≥ 1. A class without any event in ``strong`` gets
        w = 1 (no filtering) and a warning.
    """
    if frame_hop <= 0:
        raise PostProcessingError(f"frame_hop must be > 0 seconds, got {frame_hop}")
    if factor <= 0:
        raise PostProcessingError(f"factor must be > 0, got {factor}")
    lengths: dict[str, list[float]] = {c: [] for c in classes}
    for event in strong.events:
        if event.event_label in lengths:
            lengths[event.event_label].append(event.offset - event.onset)
    windows = []
    missing = []
    for c in classes:
        if not lengths[c]:
            missing.append(c)
            windows.append(1)
            continue
        mean_frames = math.floor(sum(lengths[c]) / len(lengths[c]) / frame_hop + _FLOOR_EPS)
        windows.append(max(1, math.floor(mean_frames * factor + _FLOOR_EPS)))
    if missing:
        source = f" in {strong.path}" if getattr(strong, "path", None) else ""
        warnings.warn(
            f"no strong event{source} for class(es) {', '.join(missing)}: median window 1 (no filtering)",
            stacklevel=2,
        )
    return windows


def lin_default_params(classes: Sequence[str], median_windows: Sequence[int]) -> PostProcessingParams:
    """Lin's post-processing: τ = θ = 0.5, the given class-wise windows, no min duration/gap filling."""
    if len(median_windows) != len(classes):
        raise PostProcessingError(
            f"expected one median window per class ({len(classes)}), got {len(median_windows)}"
        )
    params = PostProcessingParams(
        classes=list(classes),
        tag_threshold=[0.5] * len(classes),
        frame_threshold=[0.5] * len(classes),
        median_window=[int(w) for w in median_windows],
    )
    params.validate()
    return params
