"""PSDS of many candidate post-processings, from cached per-class PSD-ROCs (any PSDS scenario).

sed_scores_eval (Ebbers, Haeb-Umbach, Serizel, ICASSP 2022) computes PSDS from per-clip, per-class
"deltas" of the intersection statistics. The deltas of class c (true and false positives, and
the cross-triggers of c's detections with every other class's ground truth) depend only on c's
own scores, so a class's single-class PSD-ROC (TPR and effective FPR, α_ct included) depends only
on its own scores; the multi-class PSD-ROC combines the single-class ones (mean − α_st × std of
the TPRs). Hence a search over per-class parameters can

1. compute the deltas once per *pass* (one candidate score set for all clips and classes, one
   sed_scores_eval run: :meth:`ClassRocs.add`), or once per distinct curve of one class in one
   clip (:meth:`ClassRocs.curve_deltas`, memoised: many candidates give a clip the same boxes),
2. build the single-class ROC of any per-clip choice of deltas (e.g. gated clips take the
   all-zero pass: :meth:`ClassRocs.roc`, :meth:`ClassRocs.roc_of_deltas`), and
3. score any per-class choice of ROCs (:meth:`ClassRocs.combined`) —

exactly the PSDS sed_scores_eval gives for the corresponding scores. The library has no public
call for steps 1 (one curve) and 2 (one class); they use its own per-clip functions
(``onset_offset_curves``, ``statistics_fn``, ``acceleration_fn``,
``_deltas_from_intermediate_statistics``) and its accumulation
(``accumulated_intermediate_statistics_from_deltas``, ``_single_class_roc_from_intermediate_statistics``),
in the order its ``psds`` runs them (sed_scores_eval 0.0.4, pinned; tests compare the result with
the public ``psds`` on the full set).
"""

from __future__ import annotations

from typing import Any, Hashable, Mapping, Sequence

import numpy as np
import pandas as pd

from jointsed.evaluate.io import merge_overlaps
from jointsed.evaluate.settings import PSDSScenario
from jointsed.postprocess.base import PostProcessingError
from jointsed.postprocess.tuning_inputs import TIE_EPS

Roc = tuple  # (tpr, efpr, ...) as sed_scores_eval returns a single-class PSD-ROC


class ClassRocs:
    """Cached sed_scores_eval deltas of candidate score sets, and the PSDS of their combinations.

    Args:
        filenames: the clips, in the order every per-clip sequence follows.
        reference: per class name, ``[(clip index, onset, offset)]`` reference events.
        classes: the evaluated classes (each with at least one reference event), score column order.
        durations: filename -> clip duration (s).
        scenario: the PSDS settings (:mod:`jointsed.evaluate.settings`).
    """

    def __init__(self, filenames: Sequence[str], reference: Mapping[str, Sequence[tuple[int, float, float]]],
                 classes: Sequence[str], durations: Mapping[str, float], scenario: PSDSScenario) -> None:
        self.filenames = list(filenames)
        self.classes = list(classes)
        self.scenario = scenario
        missing = [f for f in self.filenames if f not in durations]
        if missing:
            raise PostProcessingError(
                f"PSDS tuning needs the duration of every clip: {len(missing)} missing (e.g. {missing[0]})"
            )
        self.durations = {f: float(durations[f]) for f in self.filenames}
        self.truth: dict[str, list[tuple[float, float, str]]] = {f: [] for f in self.filenames}
        for name in self.classes:
            per_clip: dict[int, list[tuple[float, float]]] = {}
            for clip, on, off in reference.get(name, ()):
                per_clip.setdefault(int(clip), []).append((float(on), float(off)))
            for clip, intervals in per_clip.items():
                # the union of overlapping / touching labels (sed_scores_eval rejects connected ones)
                for on, off, _ in merge_overlaps([(on, off, name) for on, off in intervals])[0]:
                    self.truth[self.filenames[clip]].append((on, off, name))
        self._deltas: dict[Hashable, dict[str, Any]] = {}
        self._curves: dict[tuple, Any] = {}
        self._rocs: dict[tuple, tuple[Roc, float]] = {}  # the deltas they index stay alive in the caches
        self._stat_kwargs: dict[str, Any] = dict(dtc_threshold=scenario.dtc_threshold,
                                                 gtc_threshold=scenario.gtc_threshold)
        if scenario.alpha_ct:
            self._stat_kwargs["cttc_threshold"] = scenario.cttc_threshold
        from sed_scores_eval.base_modules.ground_truth import event_counts_and_durations

        self._n_ref, self._t_ref = event_counts_and_durations(self.truth, event_classes=self.classes)
        # the dataset duration as the library sums it (clips in order)
        self._dataset_duration = sum(self.durations[f] for f in self.filenames)
        self._gt_arrays: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}

    def add(self, key: Hashable, scores: Mapping[str, pd.DataFrame]) -> None:
        """Cache the deltas of one pass: ``scores`` maps every filename to a score DataFrame with
        the columns of :attr:`classes`."""
        from sed_scores_eval.intersection_based.intermediate_statistics import intermediate_statistics_deltas

        self._deltas[key] = intermediate_statistics_deltas(dict(scores), self.truth, **self._stat_kwargs)

    def _clip_truth(self, filename: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        if filename not in self._gt_arrays:
            out = {}
            for name in self.classes:
                events = [(on, off) for on, off, label in self.truth[filename] if label == name]
                out[name] = tuple(np.array(events).T) if events else (np.empty(0), np.empty(0))
            self._gt_arrays[filename] = out
        return self._gt_arrays[filename]

    def curve_deltas(self, name: str, filename: str, timestamps: np.ndarray, values: np.ndarray) -> Any:
        """The deltas of class ``name`` in clip ``filename`` when its score is ``values`` (K,)
        over ``timestamps`` (K+1,): what the library's ``intermediate_statistics_deltas`` gives
        for that column, computed without a DataFrame and memoised by content."""
        timestamps = np.asarray(timestamps, dtype=np.float64)
        values = np.asarray(values, dtype=np.float64)
        key = (name, filename, timestamps.tobytes(), values.tobytes())
        if key in self._curves:
            return self._curves[key]
        from sed_scores_eval.base_modules.cy_detection import onset_offset_curves
        from sed_scores_eval.base_modules.statistics import _deltas_from_intermediate_statistics
        from sed_scores_eval.intersection_based.intermediate_statistics import acceleration_fn, statistics_fn

        truth = self._clip_truth(filename)
        kwargs = dict(
            target_onset_times=truth[name][0], target_offset_times=truth[name][1],
            other_onset_times={c: truth[c][0] for c in self.classes if c != name},
            other_offset_times={c: truth[c][1] for c in self.classes if c != name},
            dtc_threshold=self._stat_kwargs["dtc_threshold"], gtc_threshold=self._stat_kwargs["gtc_threshold"],
            cttc_threshold=self._stat_kwargs.get("cttc_threshold"), time_decimals=6,
        )
        candidates, change_scores, deltas = acceleration_fn(scores=values, timestamps=timestamps, **kwargs)
        if change_scores is None:
            unique_scores, onsets, offsets = onset_offset_curves(values, timestamps, candidates)
            stats = statistics_fn(detection_onset_times=onsets, detection_offset_times=offsets, **kwargs)
            change_scores, deltas = _deltas_from_intermediate_statistics(unique_scores, stats)
        self._curves[key] = (change_scores, deltas)
        return self._curves[key]

    def roc(self, name: str, passes: Sequence[Hashable]) -> tuple[Roc, float]:
        """``(single-class PSD-ROC, single-class PSDS)`` of class ``name`` when clip i takes its
        scores from pass ``passes[i]`` (:meth:`add`)."""
        return self.roc_of_deltas(name, [self._deltas[p][f][name] for f, p in zip(self.filenames, passes)])

    def roc_of_deltas(self, name: str, deltas: Sequence[Any]) -> tuple[Roc, float]:
        """``(single-class PSD-ROC, single-class PSDS)`` of class ``name`` from one deltas entry
        per clip (in :attr:`filenames` order)."""
        from sed_scores_eval.base_modules import statistics
        from sed_scores_eval.intersection_based.psds import (
            _single_class_roc_from_intermediate_statistics,
            psds_from_psd_roc,
        )

        # many candidates give every clip the same deltas (objects are shared: curve_deltas and
        # the passes keep them), so a ROC is computed once per distinct per-clip choice
        key = (name, tuple(map(id, deltas)))
        if key in self._rocs:
            return self._rocs[key]
        s = self.scenario
        class_deltas = {f: {name: d} for f, d in zip(self.filenames, deltas)}
        change_scores, stats = statistics.accumulated_intermediate_statistics_from_deltas(class_deltas)[name]
        others = [c for c in self.classes if c != name]
        stats = {**stats, "n_ref": self._n_ref[name], "t_ref": self._t_ref[name],
                 "n_ref_other": {c: self._n_ref[c] for c in others},
                 "t_ref_other": {c: self._t_ref[c] for c in others}}
        roc = _single_class_roc_from_intermediate_statistics(
            (change_scores, stats), dataset_duration=self._dataset_duration, alpha_ct=s.alpha_ct,
            unit_of_time="hour", max_efpr=s.max_efpr,
        )
        self._rocs[key] = (roc, float(psds_from_psd_roc(roc[0], roc[1], s.max_efpr)))
        return self._rocs[key]

    def combined(self, rocs: Mapping[str, Roc]) -> float:
        """PSDS of one single-class ROC per evaluated class (the library's multi-class combination)."""
        from sed_scores_eval.intersection_based.psds import (
            multi_class_psd_roc_from_single_class_psd_rocs,
            psds_from_psd_roc,
        )

        tpr, efpr = multi_class_psd_roc_from_single_class_psd_rocs(
            {name: rocs[name] for name in self.classes}, alpha_st=self.scenario.alpha_st,
            max_efpr=self.scenario.max_efpr,
        )
        return float(psds_from_psd_roc(tpr, efpr, self.scenario.max_efpr))

    def combined_fast(self, rocs: Mapping[str, Roc]) -> float:
        """:meth:`combined` without scipy's ``interp1d`` (10x faster, for the searches): the same
        "previous" step interpolation of every class's TPR on the union of the eFPRs (0 before a
        class's first eFPR, its last TPR after), mean − α_st × std, the same area."""
        from sed_scores_eval.intersection_based.psds import psds_from_psd_roc

        curves = [rocs[name] for name in self.classes]
        grid = np.unique(np.concatenate([c[1] for c in curves]))
        tprs = []
        for tpr, efpr, *_ in curves:
            index = np.searchsorted(efpr, grid, side="right") - 1
            tprs.append(np.where(index < 0, 0.0, tpr[np.maximum(index, 0)]))
        mean, std = np.mean(tprs, axis=0), np.std(tprs, axis=0)
        effective = np.maximum(mean - self.scenario.alpha_st * std, 0.0)
        max_efpr = self.scenario.max_efpr
        return float(psds_from_psd_roc(np.r_[effective, effective[-1]], np.r_[grid, max_efpr], max_efpr))

    def ascend(self, rocs: Mapping[tuple[str, int], Roc], n_candidates: Mapping[str, int],
               start: Mapping[str, int], rounds: int) -> tuple[dict[str, int], float, float]:
        """Coordinate ascent of the combined PSDS over each class's candidates (the others fixed),
        at most ``rounds`` sweeps; a candidate replaces the current one only when better by more
        than :data:`TIE_EPS` (ties: the first in candidate order). Candidates are compared with
        :meth:`combined_fast`; the two returned values are :meth:`combined`'s.

        Args:
            rocs: ``(class, candidate index) -> ROC`` for every candidate.
            n_candidates: class -> number of candidates.
            start: class -> starting candidate (the base parameters).
        Returns:
            ``(chosen candidate per class, PSDS at start, PSDS of the choice)``.
        """
        choice = dict(start)

        def value(ch: Mapping[str, int]) -> float:
            return self.combined_fast({name: rocs[(name, ch[name])] for name in self.classes})

        best = value(choice)
        for _ in range(rounds):
            changed = False
            for name in self.classes:
                # a candidate whose ROC is one already tried (the same object) cannot be strictly
                # better than it: skipping it changes nothing but the time
                tried = {id(rocs[(name, choice[name])])}
                for j in range(n_candidates[name]):
                    if j == choice[name] or id(rocs[(name, j)]) in tried:
                        continue
                    tried.add(id(rocs[(name, j)]))
                    v = value({**choice, name: j})
                    if v > best + TIE_EPS:
                        best, choice[name], changed = v, j, True
            if not changed:
                break
        exact = {name: rocs[(name, choice[name])] for name in self.classes}
        default = self.combined({name: rocs[(name, start[name])] for name in self.classes})
        return choice, default, self.combined(exact)
