"""Post-processing: clip/frame probabilities → sound events (Lin et al.; event-specific tuning).

* :mod:`.params` — :class:`PostProcessingParams` (per-class τ, θ, median window, min duration,
  max gap) and its JSON file;
* :mod:`.lin` — Lin et al.'s class-wise median windows and default parameters (DESIGN §1);
* :mod:`.apply` — the pipeline itself (:func:`binarize`, :func:`postprocess_scores`);
* :mod:`.fast_f1` — vectorised event-based F1 equal to sed_eval's;
* :mod:`.tuning` — per-class search of the parameters (DESIGN §4, our formulation); its grid and
  result types are in :mod:`.tuning_types`, the two searches in :mod:`.tuning_event_f1` and
  :mod:`.tuning_psds` (over the inputs of :mod:`.tuning_inputs`).
"""

from jointsed.utils.lazy import lazy_attributes

#: public name -> module, imported on first use (``jointsed predict`` needs apply and params, not the tuner or the evaluator)
_NAMES = {
    'binarize': 'jointsed.postprocess.apply',
    'frames_to_events': 'jointsed.postprocess.apply',
    'postprocess_frame_scores': 'jointsed.postprocess.apply',
    'postprocess_scores': 'jointsed.postprocess.apply',
    'count_matches': 'jointsed.postprocess.fast_f1',
    'event_counts_per_class': 'jointsed.postprocess.fast_f1',
    'event_f1_per_class': 'jointsed.postprocess.fast_f1',
    'LIN_WINDOW_FACTOR': 'jointsed.postprocess.lin',
    'lin_default_params': 'jointsed.postprocess.lin',
    'lin_median_windows': 'jointsed.postprocess.lin',
    'PostProcessingError': 'jointsed.postprocess.params',
    'PostProcessingParams': 'jointsed.postprocess.params',
    'tune_event_specific': 'jointsed.postprocess.tuning',
    'ClassTuning': 'jointsed.postprocess.tuning_types',
    'TuningGrid': 'jointsed.postprocess.tuning_types',
    'TuningResult': 'jointsed.postprocess.tuning_types',
}

__getattr__, __dir__ = lazy_attributes(__name__, _NAMES)

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
