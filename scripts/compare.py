#!/usr/bin/env python
"""Baselines vs the joint framework vs its ablations, several seeds, scored on a HELD-OUT split.

    python scripts/compare.py --out runs/compare --preset proxy --recipes dcase2019 \
        --seeds 42 43 44 --ablation-seeds 42 --device gpu --jobs 4

1. synthesises the ``--preset`` dataset (seed 0) with its held-out ``public_eval`` split: DESED's
   public-evaluation layout, so the test clips share no layout with the validation split that
   post-processing is tuned on (``--n-eval`` sets its size);
2. trains every system (the packaged recipe ``<--recipes>/<system>``) for every seed, ``--jobs`` at a
   time (each with ``cores / jobs`` CPU threads);
3. tunes the event-specific post-processing of each run on the dataset's validation split
   (``RUN/postprocess_tuned.json``) and scores the run on the held-out split twice: with Lin's
   default post-processing and with the tuned one;
4. writes ``--json`` (default ``OUT/compare.json``): preset, device, budget (epochs, clip
   presentations and wall time per system), per system and seed the held-out metrics (event F1,
   segment F1, AT F1, PSDS1, PSDS2), and prints the markdown table (mean ± std over seeds) used
   in docs/results.md.

"Joint without event-specific post-processing" is the joint runs scored with Lin's defaults (the
post-processing does not change training). Finished runs and evaluations are reused.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from jointsed.data.synth.generate import EVAL_DURATIONS_TSV, EVAL_TSV, SPLIT_BY_NAME

SYSTEMS = ("gl_baseline", "crnn_mean_teacher", "joint", "joint_no_dfd", "joint_no_afl")
MAIN_SYSTEMS = ("gl_baseline", "joint")  # every seed; the others: --ablation-seeds
ROWS = (  # label, system, scoring
    ("GL baseline (Lin et al.), Lin's post-processing", "gl_baseline", "default"),
    ("GL baseline + tuned post-processing", "gl_baseline", "tuned"),
    ("CRNN mean teacher (DCASE baseline), Lin's post-processing", "crnn_mean_teacher", "default"),
    ("CRNN mean teacher + tuned post-processing", "crnn_mean_teacher", "tuned"),
    ("**Joint framework** (DFD + AFL two-stage + event-specific PP)", "joint", "tuned"),
    ("joint without DFD", "joint_no_dfd", "tuned"),
    ("joint without AFL / single stage", "joint_no_afl", "tuned"),
    ("joint without event-specific PP (Lin's post-processing)", "joint", "default"),
)
METRICS = (  # name, (family, key), percent
    ("event_f1", ("event_based", "macro_f1"), True),
    ("segment_f1", ("segment_based", "macro_f1"), True),
    ("at_f1", ("tagging", "macro_f1"), True),
    ("psds1", ("psds1", "value"), False),
    ("psds2", ("psds2", "value"), False),
)


def jointsed(*args: str, log: Path | None = None, env: dict | None = None) -> None:
    """Run ``python -m jointsed ARGS`` (output to ``log``); raise with the log's tail on failure."""
    cmd = [sys.executable, "-m", "jointsed", *args]
    with open(log, "w") if log else open(os.devnull, "w") as out:
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        tail = log.read_text()[-3000:] if log else ""
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{tail}")


def train_overrides(system: str, args: argparse.Namespace, seed: int, threads: int) -> list[str]:
    sets = [f"seed={seed}", f"trainer.num_threads={threads}", "trainer.progress_bar=false"]
    if args.epochs is not None:
        two_stage = system in ("joint", "joint_no_dfd")
        stage1 = args.epochs - args.stage2_epochs if two_stage else args.epochs
        sets.append(f"trainer.max_epochs={stage1}")
        if two_stage:
            sets.append(f"joint.two_stage.epochs={args.stage2_epochs}")
    if args.teacher_epochs is not None and system.startswith("joint") and system != "joint_no_dfd":
        sets.append(f"joint.distillation.teacher_epochs={args.teacher_epochs}")
    return sets + list(args.overrides)


def train_one(system: str, seed: int, args: argparse.Namespace, data: Path, threads: int) -> dict:
    run = args.out / f"{system}_s{seed}"
    started = time.perf_counter()
    if not (run / "finished.json").is_file():
        recipe = f"{args.recipes}/{system}"  # a packaged recipe's name (jointsed recipes)
        sets = [f"--set={s}" for s in train_overrides(system, args, seed, threads)]
        jointsed("train", recipe, "--data-root", str(data), "--out", str(run), "--no-progress",
                 "--accelerator", args.device, "--force", *sets, log=args.out / f"{system}_s{seed}.train.log")
        print(f"[compare] {system} seed {seed} trained in {time.perf_counter() - started:.0f} s", flush=True)
    return json.loads((run / "finished.json").read_text())


def evaluate_one(system: str, seed: int, args: argparse.Namespace, data: Path) -> dict:
    run = args.out / f"{system}_s{seed}"
    device = "cuda" if args.device == "gpu" else "cpu"
    tuned = run / "postprocess_tuned.json"
    if not tuned.is_file():
        jointsed("tune", str(run), "--data-root", str(data), "--out", str(tuned), "--device", device, "--no-progress")
    test = ["--tsv", str(data / EVAL_TSV), "--audio", str(data / SPLIT_BY_NAME["public_eval"].audio_dir),
            "--durations", str(data / EVAL_DURATIONS_TSV)]
    out = {}
    for scoring, extra in (("default", []), ("tuned", ["--postprocess", str(tuned)])):
        split = f"heldout_{scoring}"
        metrics_file = run / "eval" / split / "metrics.json"
        if not metrics_file.is_file():
            jointsed("evaluate", "--run", str(run), "--data-root", str(data), "--split", split, *test, *extra,
                     "--device", device, "--no-progress")
        metrics = json.loads(metrics_file.read_text())
        out[scoring] = {name: (metrics.get(family) or {}).get(key) for name, (family, key), _ in METRICS}
    return out


def budget(finished: dict, run: Path) -> dict:
    """Epochs, clip presentations and seconds of a run (all its phases)."""
    phases = {}
    for folder in sorted({run, *run.glob("*/")}):
        info_file = folder / "finished.json"
        info = json.loads(info_file.read_text()) if info_file.is_file() else {}
        if "epochs" in info:  # a trained phase (a two-stage run's own finished.json only sums up)
            phases["run" if folder == run else folder.name] = info
    if not phases:
        phases["run"] = finished
    total = {"epochs": 0, "clip_presentations": 0, "seconds": 0.0}
    for info in phases.values():
        total["epochs"] += int(info.get("epochs") or 0)
        total["clip_presentations"] += int(info.get("clip_presentations") or 0)
        total["seconds"] += float(info.get("seconds_last_session") or 0.0)
    return {**total, "phases": {k: {f: v.get(f) for f in ("epochs", "clip_presentations", "seconds_last_session")}
                                for k, v in phases.items()}}


def table(results: dict) -> str:
    header = "| system | seeds | event F1 | segment F1 | AT F1 | PSDS1 | PSDS2 |"
    lines = [header, "|---|---:|---:|---:|---:|---:|---:|"]
    for label, system, scoring in ROWS:
        runs = results["systems"].get(system, {}).get("seeds", {})
        if not runs:
            continue
        cells = []
        for name, _, percent in METRICS:
            values = np.array([r[scoring][name] for r in runs.values() if r[scoring][name] is not None], float)
            scale = 100.0 if percent else 1.0
            if values.size == 0:
                cells.append("–")
            elif values.size == 1:
                cells.append(f"{scale * values[0]:.1f}" if percent else f"{values[0]:.3f}")
            else:
                fmt = "{:.1f} ± {:.1f}" if percent else "{:.3f} ± {:.3f}"
                cells.append(fmt.format(scale * values.mean(), scale * values.std(ddof=1)))
        lines.append(f"| {label} | {len(runs)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/compare"))
    parser.add_argument("--preset", default="proxy")
    parser.add_argument("--synth", nargs=argparse.REMAINDER, default=[], metavar="ARGS",
                        help="extra jointsed synth arguments (last on the command line), e.g. --n-synthetic 600")
    parser.add_argument("--recipes", default="dcase2019", help="packaged recipe folder: dcase2019 (full size) or cpu")
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 43, 44], help="seeds of GL and joint")
    parser.add_argument("--ablation-seeds", nargs="+", type=int, default=[42], help="seeds of the other systems")
    parser.add_argument("--epochs", type=int, help="total epochs per system (two-stage: stage 1 + stage 2)")
    parser.add_argument("--stage2-epochs", type=int, default=5)
    parser.add_argument("--teacher-epochs", type=int)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="recipe override for every run (repeatable)")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--jobs", type=int, default=2, help="trainings at a time")
    parser.add_argument("--json", type=Path, help="results file (default OUT/compare.json)")
    parser.add_argument("--note", default="", help="what this comparison is (kept in the JSON)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    data = args.out / "data"
    started = time.perf_counter()
    if not (data / "synth.json").is_file():
        jointsed("synth", "--preset", args.preset, "--seed", "0", "--out", str(data), "--no-progress", *args.synth)
    if not (data / EVAL_TSV).is_file():
        raise SystemExit(f"{data}: no held-out public_eval split (give --synth --n-eval N)")
    jointsed("features", str(data / "audio"), "--cache", str(data / ".jointsed_cache/features"), "--no-progress")

    jobs = [(system, seed) for system in args.systems
            for seed in (args.seeds if system in MAIN_SYSTEMS else args.ablation_seeds)]
    threads = max(1, (os.cpu_count() or 1) // max(1, args.jobs))
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        finished = dict(zip(jobs, pool.map(lambda job: train_one(*job, args, data, threads), jobs)))
    results: dict = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        "note": args.note, "preset": args.preset, "synth_args": args.synth, "recipes": args.recipes, "device": args.device,
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "jobs": args.jobs,
                    "threads_per_job": threads},
        "held_out_split": "public_eval (DESED public-evaluation layouts; post-processing tuned on validation)",
        "systems": {},
    }
    for (system, seed), info in finished.items():
        entry = results["systems"].setdefault(system, {"seeds": {}, "budget": {}})
        entry["seeds"][str(seed)] = evaluate_one(system, seed, args, data)
        entry["budget"][str(seed)] = budget(info, args.out / f"{system}_s{seed}")
    results["wall_seconds"] = round(time.perf_counter() - started, 1)
    results["table"] = table(results)
    target = args.json or args.out / "compare.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    tmp.replace(target)
    print(results["table"])
    print(f"[compare] written {target} ({results['wall_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
