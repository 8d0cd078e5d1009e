"""Evaluation with the official DCASE Task 4 metric libraries.

One module per metric family (``event_based``, ``segment_based``, ``tagging``,
``intersection`` for intersection-F1 and PSDS), their DCASE settings (collars, segment length,
PSDS scenarios) in ``settings``, the F1 of match counts in ``counts``, input handling in ``io``
and the combined report in ``summary``. The libraries are ``sed_eval`` (event/segment-based
F-scores of detections), ``psds_eval`` (PSDS over operating points, intersection F1) and
``sed_scores_eval`` (threshold-free PSDS and F-scores from frame-score files).
"""

import warnings

from jointsed.utils.lazy import lazy_attributes

# sed_eval, psds_eval and sed_scores_eval import dcase_util, which imports pkg_resources: setuptools
# then warns at every command that evaluates (evaluate, report, tune). The warning is about
# dcase_util's packaging, not the user's input; this filter drops that one warning from that one
# package, once, before any metric library is imported (they are all imported under this package)
warnings.filterwarnings("ignore", message=r"pkg_resources is deprecated", category=UserWarning,
                        module=r"dcase_util\.")

#: public name -> module, imported on first use (the official metric libraries and pandas load only when evaluating)
_NAMES = {
    'EvaluationError': 'jointsed.evaluate.io',
    'Reference': 'jointsed.evaluate.io',
    'audio_id': 'jointsed.evaluate.io',
    'load_reference': 'jointsed.evaluate.io',
    'read_detections': 'jointsed.evaluate.io',
    'read_frame_scores': 'jointsed.evaluate.io',
    'read_operating_points': 'jointsed.evaluate.io',
    'write_frame_scores': 'jointsed.evaluate.io',
    'EVENT_COLLARS': 'jointsed.evaluate.settings',
    'INTERSECTION_F1': 'jointsed.evaluate.settings',
    'PSDS1': 'jointsed.evaluate.settings',
    'PSDS2': 'jointsed.evaluate.settings',
    'SEGMENT_LENGTH': 'jointsed.evaluate.settings',
    'EventCollars': 'jointsed.evaluate.settings',
    'IntersectionCriteria': 'jointsed.evaluate.settings',
    'PSDSScenario': 'jointsed.evaluate.settings',
    'evaluate_run': 'jointsed.evaluate.summary',
    'format_table': 'jointsed.evaluate.summary',
    'clip_f1': 'jointsed.evaluate.tagging',
}

__getattr__, __dir__ = lazy_attributes(__name__, _NAMES)

__all__ = [
    "EVENT_COLLARS",
    "INTERSECTION_F1",
    "PSDS1",
    "PSDS2",
    "SEGMENT_LENGTH",
    "EvaluationError",
    "EventCollars",
    "IntersectionCriteria",
    "PSDSScenario",
    "Reference",
    "audio_id",
    "clip_f1",
    "evaluate_run",
    "format_table",
    "load_reference",
    "read_detections",
    "read_frame_scores",
    "read_operating_points",
    "write_frame_scores",
]
