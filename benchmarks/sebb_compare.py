#!/usr/bin/env python
"""Our SEBB post-processing against the authors' ``sebbs`` package, on the same raw scores.

The ``sebbs`` package (Ebbers et al., change-detection SEBBs) is AGPL-3.0: ``src/`` never imports
it and the project does not depend on it. This benchmark only *calls* it, and only when it is
importable; install it outside the project's environment, e.g.::

    pip install --target /tmp/sebbs_pkg --no-deps sebbs==1.0.2
    PYTHONPATH=/tmp/sebbs_pkg python benchmarks/sebb_compare.py [--runs RUN ...]

(``--no-deps``: it runs on the numpy / pandas / scipy / sed_scores_eval of our environment.)

For every trained run (READ-ONLY: raw scores from RUN/scores/<split>/, as
``benchmarks/postprocess_methods.py`` reads them), both are tuned for PSDS1 on the run's
validation split with their default grids -- ours: ``SebbPostProcessor.tune`` (tag gating,
median filter, step filter, change threshold, time merge gap, confidence; per class); theirs:
``csebbs.tune`` with ``select_best_psds`` (step filter length, score-based merging; per class)
-- and the PSDS1 and PSDS2 of their boxes are computed on every held-out set with the same
evaluator (:data:`jointsed.evaluate.metric_table.METRICS`). Prints a table and saves
benchmarks/results/sebb_compare.json.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from jointsed.data.annotations import read_strong_tsv
from jointsed.evaluate.box_scores import segments_to_score_dataframes
from jointsed.evaluate.io import audio_id, load_reference
from jointsed.evaluate.metric_table import METRICS
from jointsed.pipeline.scoring import SplitScores
from jointsed.postprocess.apply import frame_times
from jointsed.postprocess.base import postprocessor_to_dict, score_forms
from jointsed.postprocess.methods.sebb import SebbPostProcessor
from jointsed.runs.postprocess import default_params
from jointsed.utils.atomic import atomic_write_json
from postprocess_methods import DEFAULT_RUNS, held_out_sets, load_split
from provenance import provenance

REPORTED = ("psds1", "psds2")


def reference_of(split: SplitScores):
    return load_reference(split.ground_truth, split.durations, split.classes)


def raw_dataframes(split: SplitScores) -> dict[str, Any]:
    """The networks' frame probabilities as sed_scores_eval DataFrames keyed by audio id."""
    from sed_scores_eval.base_modules.scores import create_score_dataframe

    out = {}
    for name, frames in split.frame_scores.items():
        timestamps = frame_times(np.arange(frames.shape[0] + 1), split.frame_hop)
        out[audio_id(name)] = create_score_dataframe(np.asarray(frames, dtype=np.float64), timestamps, split.classes)
    return out


# the default grid of sebbs' own csebbs.tune: step filter lengths (s), then merging by an absolute
# or (exclusive) a relative score threshold
THEIR_STEPS = (0.32, 0.48, 0.64)
THEIR_MERGES = [(a, float("inf")) for a in (0.15, 0.2, 0.3)] + [(float("inf"), r) for r in (1.5, 2.0, 3.0)]


def theirs_tuned(csebbs: Any, scores: dict[str, Any], reference: Any, classes: list[str]) -> Any:
    """sebbs' PSDS1 selection (``select_best_psds``, class-wise) over its default grid.

    Its ``csebbs.tune`` (1.0.2) builds predictors without ``sound_classes`` and then finds no box
    at all; the same grid is therefore run here through the public ``CSEBBsPredictor.predict``.
    """
    candidates = []
    for step in THEIR_STEPS:
        for merge_abs, merge_rel in THEIR_MERGES:
            predictor = csebbs.CSEBBsPredictor(step_filter_length=step, merge_threshold_abs=merge_abs,
                                               merge_threshold_rel=merge_rel, sound_classes=list(classes))
            candidates.append((predictor, predictor.predict(scores)))
    classes_with_events = [c for c in classes if any(e[2] == c for ev in reference.events.values() for e in ev)]
    if classes_with_events != list(classes):
        raise SystemExit(f"{reference.path}: every class needs a validation event for sebbs' selection")
    predictor, _ = csebbs.select_best_psds(candidates, reference.events, reference.durations)
    return predictor


def ours_metrics(pp: SebbPostProcessor, split: SplitScores) -> dict[str, float]:
    reference = reference_of(split)
    frames = segments_to_score_dataframes(score_forms(pp, split.clip_scores, split.frame_scores, split.frame_hop),
                                          reference)
    return {name: METRICS[name].compute(reference, frames) for name in REPORTED}


def theirs_metrics(predictor: Any, split: SplitScores) -> dict[str, float]:
    reference = reference_of(split)
    frames = predictor.predict(raw_dataframes(split), return_sed_scores=True)
    frames = {key: frames[key] for key in reference.events}
    return {name: METRICS[name].compute(reference, frames) for name in REPORTED}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", type=Path, default=DEFAULT_RUNS, help="trained run folders (seeds)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "sebb_compare.json")
    args = parser.parse_args()
    try:
        from sebbs import csebbs
    except ImportError:
        raise SystemExit("the sebbs package is not importable: pip install --target DIR --no-deps sebbs==1.0.2, "
                         "then run with PYTHONPATH=DIR (see this file's docstring)") from None
    load_before = os.getloadavg()
    records = []
    for run in args.runs:
        validation = load_split(run, "validation")
        sets = held_out_sets(run, validation)
        reference = reference_of(validation)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            base = SebbPostProcessor.from_default(default_params(validation.checkpoint).reordered(validation.classes))
            ours = SebbPostProcessor.tune(validation.clip_scores, validation.frame_scores,
                                          read_strong_tsv(validation.ground_truth, validation.classes),
                                          validation.durations_by_file, validation.frame_hop, base, None,
                                          objective="psds1", progress=False).params
            ours_s = time.perf_counter() - start
            start = time.perf_counter()
            predictor = theirs_tuned(csebbs, raw_dataframes(validation), reference, validation.classes)
            theirs_s = time.perf_counter() - start
            row = {"run": str(run), "ours_params": postprocessor_to_dict(ours), "theirs_params": predictor.to_dict(),
                   "tuning_seconds": {"ours": round(ours_s, 1), "theirs": round(theirs_s, 1)},
                   "validation": {"ours": ours_metrics(ours, validation), "theirs": theirs_metrics(predictor, validation)},
                   "held_out": {name: {"ours": ours_metrics(ours, split), "theirs": theirs_metrics(predictor, split)}
                                for name, split in sets.items()}}
        records.append(row)
        for name, values in row["held_out"].items():
            print(f"{run.name} {name:10} " + "  ".join(
                f"{m}: ours {values['ours'][m]:.4f} sebbs {values['theirs'][m]:.4f}" for m in REPORTED), flush=True)
    summary = {}
    for who in ("ours", "theirs"):
        per_seed = {m: [float(np.mean([v[who][m] for v in r["held_out"].values()])) for r in records] for m in REPORTED}
        summary[who] = {m: {"mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0,
                            "per_seed": v} for m, v in per_seed.items()}
    print(f"\n{len(records)} seeds, mean over the held-out sets, then mean ± sd over the seeds")
    for who, label in (("ours", "jointsed SEBB"), ("theirs", "sebbs package")):
        print(f"{label:14} " + "  ".join(f"{m} {summary[who][m]['mean']:.4f} ± {summary[who][m]['sd']:.4f}"
                                         for m in REPORTED))
    atomic_write_json(args.out, {**provenance(load_before), "runs": [str(r) for r in args.runs],
                                 "summary": summary, "records": records})
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
