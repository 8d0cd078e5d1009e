"""Post-processing: clip/frame probabilities → sound events (Lin et al.; event-specific tuning).

* :mod:`.params` — :class:`PostProcessingParams` (per-class τ, θ, median window, min duration,
  max gap) and its JSON file;
* :mod:`.lin` — Lin et al.'s class-wise median windows and default parameters (DESIGN §1);
* :mod:`.apply` — the pipeline itself (:func:`binarize`, :func:`postprocess_scores`);
* :mod:`.fast_f1` — vectorised event-based F1 equal to sed_eval's;
* :mod:`.tuning` — per-class search of the parameters (DESIGN §4, our formulation); its grid and
  result types are in :mod:`.tuning_types`, the two searches in :mod:`.tuning_event_f1` and
  :mod:`.tuning_psds1` (over the inputs of :mod:`.tuning_inputs`).
"""

from jointsed.postprocess.apply import (
    binarize,
    frames_to_events,
    postprocess_frame_scores,
    postprocess_scores,
)
from jointsed.postprocess.fast_f1 import (
    count_matches,
    event_counts_per_class,
    event_f1_per_class,
)
from jointsed.postprocess.lin import LIN_WINDOW_FACTOR, lin_default_params, lin_median_windows
from jointsed.postprocess.params import PostProcessingError, PostProcessingParams
from jointsed.postprocess.tuning import tune_event_specific
from jointsed.postprocess.tuning_types import ClassTuning, TuningGrid, TuningResult

__all__ = [
    "LIN_WINDOW_FACTOR",
    "ClassTuning",
    "PostProcessingError",
    "PostProcessingParams",
    "TuningGrid",
    "TuningResult",
    "binarize",
    "count_matches",
    "event_counts_per_class",
    "event_f1_per_class",
    "frames_to_events",
    "lin_default_params",
    "lin_median_windows",
    "postprocess_frame_scores",
    "postprocess_scores",
    "tune_event_specific",
]
