"""Benchmark: time of a full DCASE evaluation with ``jointsed.evaluate``.

1. The DCASE 2021 baseline's stored outputs on the real DESED validation set (1,168 clips):
   one detection table (event/segment/tagging/intersection F1) + 50 operating points (PSDS1,
   PSDS2 with psds_eval). Target: < 20 s.
2. A frame-score folder of the same size (synthetic scores: ground truth blurred with smooth
   noise, 500 frames x 10 classes per clip): writing, reading, and every metric computed from it
   (sed_scores_eval).

Prints a table and saves JSON to benchmarks/results/evaluate_speed.json.

    python benchmarks/evaluate_speed.py [--reference DIR] [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from jointsed.data.classes import DESED_CLASSES
from jointsed.data.label_encoder import LabelEncoder
from jointsed.evaluate import evaluate_run, load_reference, write_frame_scores
from jointsed.evaluate.io import detections_to_events
from jointsed.utils.atomic import atomic_write_json
from provenance import provenance

DEFAULT_REFERENCE = Path("/work/shared/reference_outputs/dcase2021_baseline_student")
RESULTS = Path(__file__).resolve().parent / "results" / "evaluate_speed.json"


def _synthetic_scores(reference, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    encoder = LabelEncoder(reference.classes, frame_hop=0.02, n_frames=500)
    scores = {}
    for key, events in reference.events.items():
        truth = encoder.encode_strong(detections_to_events({key: events}))
        noise = np.repeat(rng.uniform(0, 0.6, (20, len(reference.classes))), 25, axis=0)
        scores[f"{key}.wav"] = np.clip(0.5 * truth + noise, 0, 1)
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    if not args.reference.is_dir():
        print(f"reference outputs {args.reference} not found", file=sys.stderr)
        return 1
    gt = args.reference / "validation.tsv"
    durations = args.reference / "validation_durations.tsv"

    runs = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        results = evaluate_run(
            gt, durations, [args.reference / "predictions0.5.csv",
                            args.reference / "predictions_operating_points"]
        )
        runs.append({"total": time.perf_counter() - start, **results["seconds"]})
    metrics = {
        "event_f1_macro": results["event_based"]["macro_f1"],
        "segment_f1_macro": results["segment_based"]["macro_f1"],
        "intersection_f1_macro": results["intersection"]["macro_f1"],
        "tagging_f1_macro": results["tagging"]["macro_f1"],
        "psds1": results["psds1"]["value"],
        "psds2": results["psds2"]["value"],
    }

    reference = load_reference(gt, durations, DESED_CLASSES)
    scores = _synthetic_scores(reference)
    score_runs = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "scores"
        for index in range(args.repeats):
            start = time.perf_counter()
            write_frame_scores(folder, scores, 0.02, DESED_CLASSES, overwrite=True)
            written = time.perf_counter() - start
            start = time.perf_counter()
            score_results = evaluate_run(gt, durations, scores=folder)
            score_runs.append(
                {"write_scores": written, "total": time.perf_counter() - start,
                 **score_results["seconds"]}
            )

    def median(rows: list[dict[str, float]]) -> dict[str, float]:
        return {k: float(np.median([r[k] for r in rows])) for k in rows[0]}

    table = {"baseline outputs (csv + 50 operating points)": median(runs),
             "frame-score folder (1168 clips, synthetic)": median(score_runs)}
    for title, timings in table.items():
        print(f"\n{title}: median of {args.repeats} runs")
        print(f"  {'step':<24}{'seconds':>9}")
        for step, seconds in timings.items():
            print(f"  {step:<24}{seconds:>9.3f}")
    print("\nconformance figures:", ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
    print("from synthetic scores: PSDS1 {:.4f}, PSDS2 {:.4f}".format(
        score_results["psds1"]["value"], score_results["psds2"]["value"]))

    atomic_write_json(RESULTS, {
        "benchmark": "evaluate_speed",
        **provenance(load_before, argv),
        "processor": platform.processor(),
        "repeats": args.repeats,
        "median_seconds": table,
        "all_runs": {"baseline_outputs": runs, "frame_scores": score_runs},
        "metrics": metrics,
    })
    print(f"\nsaved {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
