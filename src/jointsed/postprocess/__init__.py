"""Post-processing: clip/frame probabilities → sound events (Lin et al.; event-specific tuning; SEBB).

* :mod:`.base` — the post-processor seam: the :class:`PostProcessor` protocol (events and a
  scores form per clip, a JSON form with a ``method``, a search space), the registry
  (:func:`register_postprocessor`), loading / saving any method's file;
* :mod:`.params` — :class:`PostProcessingParams`, Lin's method (per-class τ, θ, median window,
  min duration, max gap) and its JSON file;
* :mod:`.lin` — Lin et al.'s class-wise median windows and default parameters (DESIGN §1);
* :mod:`.apply` — the pipeline itself (:func:`binarize`, :func:`postprocess_scores`);
* :mod:`.fast_f1` — vectorised event-based F1 equal to sed_eval's;
* :mod:`.tuning` — per-class search of the parameters (DESIGN §4, our formulation); its grid and
  result types are in :mod:`.tuning_types`, the two searches in :mod:`.tuning_event_f1` and
  :mod:`.tuning_psds` (over the inputs of :mod:`.tuning_inputs`, PSD-ROCs cached by
  :mod:`.tuning_psds_roc`);
* :mod:`.methods` — the other built-in methods: :mod:`.methods.sebb` (sound event bounding boxes,
  boxes by :mod:`.sebb_boxes`, search in :mod:`.tuning_sebb`).
"""

from jointsed.utils.lazy import lazy_attributes

#: public name -> module, imported on first use (``jointsed predict`` needs apply and params, not the tuner or the evaluator)
_NAMES = {
    'PostProcessor': 'jointsed.postprocess.base',
    'load_postprocessor': 'jointsed.postprocess.base',
    'postprocessor_class': 'jointsed.postprocess.base',
    'register_postprocessor': 'jointsed.postprocess.base',
    'registered_postprocessors': 'jointsed.postprocess.base',
    'save_postprocessor': 'jointsed.postprocess.base',
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
    'PostProcessingError': 'jointsed.postprocess.base',
    'PostProcessingParams': 'jointsed.postprocess.params',
    'tune_event_specific': 'jointsed.postprocess.tuning',
    'ClassTuning': 'jointsed.postprocess.tuning_types',
    'TuningGrid': 'jointsed.postprocess.tuning_types',
    'TuningResult': 'jointsed.postprocess.tuning_types',
    'SebbPostProcessor': 'jointsed.postprocess.methods.sebb',
    'SebbGrid': 'jointsed.postprocess.tuning_sebb',
}

__getattr__, __dir__ = lazy_attributes(__name__, _NAMES)

__all__ = [
    "LIN_WINDOW_FACTOR",
    "ClassTuning",
    "PostProcessingError",
    "PostProcessingParams",
    "PostProcessor",
    "SebbGrid",
    "SebbPostProcessor",
    "TuningGrid",
    "TuningResult",
    "binarize",
    "count_matches",
    "event_counts_per_class",
    "event_f1_per_class",
    "frames_to_events",
    "lin_default_params",
    "lin_median_windows",
    "load_postprocessor",
    "postprocess_frame_scores",
    "postprocess_scores",
    "postprocessor_class",
    "register_postprocessor",
    "registered_postprocessors",
    "save_postprocessor",
    "tune_event_specific",
]
