"""The DCASE Task 4 metric settings: the one module that states them.

Every metric of :mod:`jointsed.evaluate` and the fast event F1 / tuning of
:mod:`jointsed.postprocess` take their defaults from here (collars, segment length, intersection
criteria, PSDS scenarios, decision threshold), so a setting cannot drift between the evaluator
and the tuner. Low-level functions take these objects as required keyword-only arguments (the
style of ``sed_scores_eval``); the public entry points default them to the constants below.

Sources of the values:

* DCASE 2019-2021 Task 4 evaluation (DESED): event-based F1 with ``sed_eval``'s
  ``EventBasedMetrics(t_collar=0.200, percentage_of_length=0.2)``, segment-based F1 on 1 s
  segments [1]; the DCASE 2021 baseline's intersection F1 (``psds_eval``'s
  ``compute_macro_f_score`` with DTC = GTC = 0.5, CTTC = 0.3) and its two PSDS scenarios [2, 3].

[1] A. Mesaros, T. Heittola, T. Virtanen, "Metrics for polyphonic sound event detection",
    Applied Sciences 6(6), 2016.
[2] C. Bilen, G. Ferroni, F. Tuveri, J. Azcarreta, S. Krstulović, "A framework for the robust
    evaluation of sound event detection", ICASSP 2020.
[3] DCASE 2021 Challenge, Task 4 "Sound event detection and separation in domestic
    environments", evaluation: PSDS scenario 1 (ρ_DTC = ρ_GTC = 0.7, α_CT = 0, α_ST = 1,
    e_max = 100/h) and scenario 2 (ρ_DTC = ρ_GTC = 0.1, ρ_CTTC = 0.3, α_CT = 0.5, α_ST = 1,
    e_max = 100/h).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CTTC_THRESHOLD",
    "DECISION_THRESHOLD",
    "EVENT_COLLARS",
    "INTERSECTION_F1",
    "PSDS1",
    "PSDS2",
    "SEGMENT_LENGTH",
    "EventCollars",
    "IntersectionCriteria",
    "PSDSScenario",
]


@dataclass(frozen=True)
class EventCollars:
    """Collars of the event-based (collar-based) F-score, as ``sed_eval``'s
    ``EventBasedMetrics`` defines them [1]: an estimated event matches a reference event of the
    same class when its onset is within ``t_collar`` seconds of the reference onset and its
    offset within ``max(t_collar, percentage_of_length × reference length)`` of the reference
    offset (``sed_scores_eval.collar_based``: ``onset_collar = offset_collar = t_collar``,
    ``offset_collar_rate = percentage_of_length``).
    """

    t_collar: float
    percentage_of_length: float

    def offset_collar(self, reference_length: float) -> float:
        """Offset tolerance (s) for a reference event of ``reference_length`` seconds."""
        return max(self.t_collar, self.percentage_of_length * reference_length)


@dataclass(frozen=True)
class IntersectionCriteria:
    """Intersection-based matching thresholds [2]: detection tolerance (DTC), ground-truth
    intersection (GTC) and cross-trigger tolerance (CTTC) criteria, as fractions."""

    dtc_threshold: float
    gtc_threshold: float
    cttc_threshold: float


@dataclass(frozen=True)
class PSDSScenario:
    """One PSDS scenario [2, 3]: intersection criteria, the cross-trigger (``alpha_ct``) and
    across-class instability (``alpha_st``) weights, and the largest effective false-positive
    rate (per hour) of the area. ``cttc_threshold`` only matters when ``alpha_ct > 0`` (None
    when it does not). The field names are the keyword names of ``psds_eval`` and
    ``sed_scores_eval``, and are written into the results (``"settings"``)."""

    dtc_threshold: float
    gtc_threshold: float
    cttc_threshold: float | None
    alpha_ct: float
    alpha_st: float
    max_efpr: float = 100.0


# DCASE Task 4 event-based F1: 200 ms onset collar, offset collar max(200 ms, 20 % of length)
EVENT_COLLARS = EventCollars(t_collar=0.2, percentage_of_length=0.2)

# DCASE Task 4 segment-based F1: 1 s segments (seconds)
SEGMENT_LENGTH = 1.0

# DCASE cross-trigger tolerance criterion; psds_eval needs one even when alpha_ct = 0
CTTC_THRESHOLD = 0.3

# DCASE 2021 baseline's intersection-based F1
INTERSECTION_F1 = IntersectionCriteria(
    dtc_threshold=0.5, gtc_threshold=0.5, cttc_threshold=CTTC_THRESHOLD
)

PSDS1 = PSDSScenario(
    dtc_threshold=0.7, gtc_threshold=0.7, cttc_threshold=None, alpha_ct=0.0, alpha_st=1.0
)
PSDS2 = PSDSScenario(
    dtc_threshold=0.1, gtc_threshold=0.1, cttc_threshold=CTTC_THRESHOLD, alpha_ct=0.5, alpha_st=1.0
)

# decision threshold of the F-scores computed from frame scores, and default tag threshold of
# the clip-level (tagging) F1 (the DCASE baseline's 0.5)
DECISION_THRESHOLD = 0.5
