#!/usr/bin/env python
"""Time event-specific post-processing tuning at DESED validation size.

Ground truth: the real DESED validation layout bundled with jointsed (1,168 clips); scores: noisy
versions of the truth (500 frames x 10 classes per clip). Prints a table and saves
benchmarks/results/postprocess_tuning.json.

    python benchmarks/postprocess_tuning.py [--psds1]
"""

from __future__ import annotations

import argparse
import os
import time
from importlib import resources
from pathlib import Path

import numpy as np
from scipy import ndimage

from jointsed.data.annotations import read_strong_tsv
from jointsed.data.classes import DESED_CLASSES
from jointsed.data.label_encoder import LabelEncoder
from jointsed.postprocess import TuningGrid, lin_default_params, lin_median_windows, tune_event_specific
from jointsed.utils.atomic import atomic_write_json
from provenance import provenance

HOP = 0.02


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--psds1", action="store_true", help="also time the PSDS1 objective (slow)")
    args = parser.parse_args()
    load_before = os.getloadavg()
    classes = list(DESED_CLASSES)
    package = resources.files("jointsed") / "resources"
    with resources.as_file(package / "validation.tsv") as gt_path, \
            resources.as_file(package / "synthetic2019.tsv") as strong_path:
        truth_table = read_strong_tsv(gt_path)
        base = lin_default_params(classes, lin_median_windows(read_strong_tsv(strong_path), classes, HOP))
    encoder = LabelEncoder(classes, HOP, 500)
    rng = np.random.default_rng(0)
    frame, clip = {}, {}
    for name, events in truth_table.by_file().items():
        truth = encoder.encode_strong([e for e in events if e.offset > e.onset])
        noisy = ndimage.uniform_filter1d(0.6 * truth + 0.5 * rng.random(truth.shape), 9, axis=0)
        frame[name] = np.clip(noisy, 0, 1).astype(np.float32)
        clip[name] = np.clip(0.5 * truth.max(0) + 0.5 * rng.random(len(classes)), 0, 1).astype(np.float32)
    durations = {name: 10.0 for name in truth_table.filenames}
    cases = [("event_f1", "default grid", TuningGrid()),
             ("event_f1", "+ gaps x min durations", TuningGrid(max_gaps=[0, 0.1, 0.2], min_durations=[0, 0.1, 0.2]))]
    if args.psds1:
        cases.append(("psds1", "default grid", TuningGrid()))
    rows = []
    for objective, grid_name, grid in cases:
        start = time.perf_counter()
        result = tune_event_specific(clip, frame, truth_table, durations, HOP, base, grid,
                                     objective=objective, progress=False)
        rows.append({"objective": objective, "grid": grid_name, "clips": len(frame),
                     "candidates": result.n_candidates, "seconds": round(time.perf_counter() - start, 2),
                     "default": round(result.default_score, 4), "tuned": round(result.tuned_score, 4)})
    print(f"{'objective':10} {'grid':24} {'clips':>6} {'candidates':>10} {'seconds':>8} {'default':>8} {'tuned':>8}")
    for r in rows:
        print(f"{r['objective']:10} {r['grid']:24} {r['clips']:6d} {r['candidates']:10d} {r['seconds']:8.2f} "
              f"{r['default']:8.4f} {r['tuned']:8.4f}")
    out = Path(__file__).resolve().parent / "results" / "postprocess_tuning.json"
    out.parent.mkdir(exist_ok=True)
    atomic_write_json(out, {**provenance(load_before), "results": rows})
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
