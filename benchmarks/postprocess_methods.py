#!/usr/bin/env python
"""Tuned Lin vs tuned SEBB post-processing of trained models, scored on held-out sets.

For every trained run (default: the demo recipe's three seeds in
/work/runs/demo_heldout/runs/demo/s{42,1,2}), both methods of the post-processor seam -- Lin et
al.'s pipeline (``lin``, event-specific tuning) and sound event bounding boxes (``sebb``, our
implementation of Ebbers et al., Interspeech 2024) -- are tuned on the run's validation split for
each objective of the metric table (event_f1, psds1, psds2) with their default grids, then scored
with the full evaluator (``jointsed.pipeline.evaluate_scores``: sed_eval, sed_scores_eval) on
every other split the run has raw scores of (the held-out sets: the dataset's eval split and
validation sets of demo datasets synthesised from other seeds). The untuned forms (Lin's defaults,
SEBB's defaults) are scored too.

The runs are used READ-ONLY: the raw scores are read from RUN/scores/<split>/ (refused if the
checkpoint changed since), nothing is written into a run folder. Prints a table (per method and
objective: held-out event F1, PSDS1, PSDS2, mean over the held-out sets, then mean ± standard
deviation over the seeds, and the per-seed paired difference SEBB − Lin) and saves
benchmarks/results/postprocess_methods.json with provenance.

    python benchmarks/postprocess_methods.py [--runs RUN ...] [--objectives event_f1 psds1 psds2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from jointsed.data.annotations import read_strong_tsv
from jointsed.pipeline.evaluation import evaluate_scores
from jointsed.pipeline.scoring import SplitScores
from jointsed.postprocess.base import postprocessor_class, postprocessor_to_dict
from jointsed.runs.checkpoint import checkpoint_identity
from jointsed.runs.layout import SCORES_DIR
from jointsed.runs.postprocess import default_params
from jointsed.runs.score_cache import load_raw_scores
from jointsed.utils.atomic import atomic_write_json
from provenance import provenance

DEFAULT_RUNS = [Path(f"/work/runs/demo_heldout/runs/demo/s{seed}") for seed in (42, 1, 2)]
METHODS = ("lin", "sebb")
REPORTED = (("event_f1", "event_based", "macro_f1"), ("psds1", "psds1", "value"), ("psds2", "psds2", "value"))


def load_split(run: Path, name: str) -> SplitScores:
    """The raw scores a run keeps for split ``name`` (read-only; refused if the model changed)."""
    folder = run / SCORES_DIR / name
    info = json.loads((folder / "info.json").read_text())
    checkpoint = Path(info["checkpoint"]["path"])
    if checkpoint_identity(checkpoint) != info["checkpoint"]:
        raise SystemExit(f"{folder}: made by another version of {checkpoint}; score it again first")
    source = info["source"]
    truth = read_strong_tsv(source["ground_truth"], info["classes"])
    cached = load_raw_scores(folder, info["checkpoint"], source, list(truth.filenames), info["classes"])
    if cached is None:
        raise SystemExit(f"{folder}: raw scores unreadable or not those of {source['ground_truth']}")
    clip, frame, durations, _ = cached
    durations_path = Path(source["durations"]) if source.get("durations") else folder / "durations.tsv"
    return SplitScores(clip_scores=clip, frame_scores=frame, frame_hop=float(info["frame_hop"]),
                       classes=list(info["classes"]), ground_truth=Path(source["ground_truth"]),
                       durations=durations_path, audio_dir=Path(source["audio_dir"]), split=name,
                       checkpoint=checkpoint, durations_by_file=durations, reused=True, folder=folder)


def held_out_sets(run: Path, validation: SplitScores) -> dict[str, SplitScores]:
    """Every other split the run keeps raw scores of, once per ground truth (the raw scores do not
    depend on the post-processing, so ``eval_default`` and ``eval_tuned`` are one set)."""
    sets: dict[str, SplitScores] = {}
    seen = {validation.ground_truth.resolve()}
    for folder in sorted(p for p in (run / SCORES_DIR).iterdir() if p.is_dir() and p.name != "validation"):
        split = load_split(run, folder.name)
        if split.ground_truth.resolve() in seen:
            continue
        seen.add(split.ground_truth.resolve())
        sets[folder.name.removesuffix("_tuned").removesuffix("_default")] = split
    if not sets:
        raise SystemExit(f"{run}: no held-out split with raw scores in {run / SCORES_DIR}")
    return sets


def held_out_metrics(pp: Any, sets: dict[str, SplitScores]) -> dict[str, dict[str, float]]:
    """Event F1 / PSDS1 / PSDS2 of ``pp`` on every held-out set (the full evaluator)."""
    out = {}
    for name, split in sets.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            metrics = evaluate_scores(split, pp)[0]
        out[name] = {key: float(metrics[family][field]) for key, family, field in REPORTED}
    return out


def mean_sd(values: list[float]) -> tuple[float, float]:
    return float(np.mean(values)), (float(statistics.stdev(values)) if len(values) > 1 else 0.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", type=Path, default=DEFAULT_RUNS, help="trained run folders (seeds)")
    parser.add_argument("--objectives", nargs="+", default=["event_f1", "psds1", "psds2"])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "postprocess_methods.json")
    args = parser.parse_args()
    load_before = os.getloadavg()
    missing = [str(r) for r in args.runs if not (r / "finished.json").is_file()]
    if missing:
        raise SystemExit(f"not finished (no finished.json): {', '.join(missing)}")
    records: list[dict[str, Any]] = []
    for run in args.runs:
        validation = load_split(run, "validation")
        sets = held_out_sets(run, validation)
        lin_default = default_params(validation.checkpoint).reordered(validation.classes)
        for method in METHODS:
            cls = postprocessor_class(method)
            base = cls.from_default(lin_default)
            records.append({"run": str(run), "method": method, "tuned_for": "untuned",
                            "params": postprocessor_to_dict(base), "held_out": held_out_metrics(base, sets)})
            for objective in args.objectives:
                start = time.perf_counter()
                result = cls.tune(validation.clip_scores, validation.frame_scores,
                                  read_strong_tsv(validation.ground_truth, validation.classes),
                                  validation.durations_by_file, validation.frame_hop, base, None,
                                  objective=objective, progress=False)
                seconds = time.perf_counter() - start
                records.append({"run": str(run), "method": method, "tuned_for": objective,
                                "validation": {"default": result.default_score, "tuned": result.tuned_score,
                                               "n_clips": result.n_clips, "n_candidates": result.n_candidates},
                                "tuning_seconds": round(seconds, 1), "params": postprocessor_to_dict(result.params),
                                "held_out": held_out_metrics(result.params, sets)})
                print(f"{run.name} {method:4} tuned for {objective:8}: validation {result.default_score:.4f} -> "
                      f"{result.tuned_score:.4f} ({seconds:.0f} s)", flush=True)
        atomic_write_json(args.out, {**provenance(load_before), "runs": [str(r) for r in args.runs],
                                     "complete": False, "records": records})

    # summary: per (method, tuned_for) the seed means of the held-out averages
    summary = []
    print(f"\n{len(args.runs)} seeds; each figure: the mean over the held-out sets "
          f"({', '.join(sets)}), then mean ± sd over the seeds")
    print(f"{'method':6} {'tuned for':10} " + " ".join(f"{k:>17}" for k, _, _ in REPORTED))
    by_key: dict[tuple[str, str], dict[str, list[float]]] = {}
    for r in records:
        per_seed = {k: float(np.mean([m[k] for m in r["held_out"].values()])) for k, _, _ in REPORTED}
        entry = by_key.setdefault((r["method"], r["tuned_for"]), {k: [] for k, _, _ in REPORTED})
        for k, v in per_seed.items():
            entry[k].append(v)
    for (method, tuned_for), values in by_key.items():
        cells = {k: mean_sd(v) for k, v in values.items()}
        summary.append({"method": method, "tuned_for": tuned_for, "per_seed": values,
                        **{k: {"mean": m, "sd": s} for k, (m, s) in cells.items()}})
        print(f"{method:6} {tuned_for:10} " + " ".join(
            f"{100 * m:8.2f} ± {100 * s:5.2f}" if k == "event_f1" else f"{m:8.4f} ± {s:6.4f}"
            for k, (m, s) in cells.items()))
    differences = []
    print("\nSEBB − Lin, same objective (per-seed paired differences: mean ± sd over seeds)")
    for tuned_for in ["untuned", *args.objectives]:
        lin, sebb = by_key.get(("lin", tuned_for)), by_key.get(("sebb", tuned_for))
        if not lin or not sebb:
            continue
        row = {"tuned_for": tuned_for}
        for k, _, _ in REPORTED:
            diffs = [b - a for a, b in zip(lin[k], sebb[k])]
            m, s = mean_sd(diffs)
            row[k] = {"mean": m, "sd": s, "per_seed": diffs}
        differences.append(row)
        print(f"{'':6} {tuned_for:10} " + " ".join(
            f"{100 * row[k]['mean']:+8.2f} ± {100 * row[k]['sd']:5.2f}" if k == "event_f1"
            else f"{row[k]['mean']:+8.4f} ± {row[k]['sd']:6.4f}" for k, _, _ in REPORTED))
    atomic_write_json(args.out, {**provenance(load_before), "runs": [str(r) for r in args.runs],
                                 "held_out_sets": list(sets), "complete": True, "summary": summary,
                                 "differences": differences, "records": records})
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
