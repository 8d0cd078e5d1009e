"""Run a comparison plan (:mod:`.compare_plan`): train every row with every seed (several
trainings at a time, each with its share of the CPU threads), tune each run's event-specific
post-processing on the validation split, score every run on every held-out set, and report
each row's mean and spread and each effect with a 95 % interval (:mod:`jointsed.evaluate.bootstrap`).

Output folder::

    OUT/data/                       the synthesised dataset (a plan with data.synth)
    OUT/runs/<row>/s<seed>/         one run folder per trained row and seed (jointsed train)
        postprocess_tuned.json      its tuned post-processing (jointsed tune, validation split)
        eval/<test set>_<tuned|default>/   its scores on a held-out set (jointsed evaluate --run)
    OUT/logs/                       every command's output
    OUT/comparison.json             plan, budgets, metrics per row/seed/set, effects
    OUT/comparison.md               the tables

Everything finished is reused when the command runs again (a longer plan only adds what is new).
Each step is a ``jointsed`` command in its own process: what a comparison measures is what a
user's commands give.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from jointsed.config import to_dict
from jointsed.errors import JointsedError
from jointsed.pipeline.compare_plan import ComparisonPlan
from jointsed.runs.layout import EVAL_DIR
from jointsed.utils.atomic import atomic_write_json, atomic_write_text, read_json_object

#: the reported metrics: name -> (metrics.json family, key, shown in percent)
METRICS: dict[str, tuple[str, str, bool]] = {
    "event_f1": ("event_based", "macro_f1", True),
    "segment_f1": ("segment_based", "macro_f1", True),
    "at_f1": ("tagging", "macro_f1", True),
    "intersection_f1": ("intersection", "macro_f1", True),
    "psds1": ("psds1", "value", False),
    "psds2": ("psds2", "value", False),
}
#: metrics whose effect interval comes from per-clip counts (clip x seed bootstrap)
COUNT_METRICS = {"event_f1": "event_based", "segment_f1": "segment_based", "at_f1": "tagging"}
TUNED_FILE = "postprocess_tuned.json"
RESULTS_FILE = "comparison.json"
TABLES_FILE = "comparison.md"


class ComparisonError(JointsedError):
    """A step of a comparison failed (the message names its log)."""


@dataclass(frozen=True)
class Job:
    """One training: a row of the plan with one seed."""

    row: str
    seed: int

    @property
    def name(self) -> str:
        return f"{self.row}_s{self.seed}"


def run_folder(out: Path, row: str, seed: int) -> Path:
    return out / "runs" / row / f"s{seed}"


def jointsed_command(args: list[str], log: Path) -> None:
    """``python -m jointsed ARGS`` in its own process, output to ``log``; a failure raises with
    the log's tail."""
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "jointsed", *args]
    with open(log, "w", encoding="utf-8") as out:
        out.write("$ " + shlex.join(cmd) + "\n")
        out.flush()
        code = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT).returncode
    if code != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-2500:]
        raise ComparisonError(f"`jointsed {args[0]}` failed (exit {code}); log {log}:\n{tail}")


def data_folder(plan: ComparisonPlan, out: Path, echo: Callable[[str], None]) -> Path:
    """The dataset: the plan's folder, or ``OUT/data`` synthesised once."""
    if plan.data.root is not None:
        root = Path(plan.data.root)
        if not root.is_dir():
            raise ComparisonError(f"data.root: {root} is not a folder")
        return root
    from jointsed.data.synth.generate import DESCRIPTION_FILE

    root = out / "data"
    if not (root / DESCRIPTION_FILE).is_file():
        synth = plan.data.synth
        assert synth is not None
        echo(f"synthesising the {synth.preset} dataset (seed {synth.seed}) into {root}")
        jointsed_command(["synth", "--preset", synth.preset, "--seed", str(synth.seed), "--out", str(root),
                          "--no-progress", *synth.args], out / "logs" / "synth.log")
    return root


def test_set_files(plan: ComparisonPlan, name: str, out: Path, data_root: Path) -> list[Path]:
    """``[ground truth, audio folder, durations]`` of a held-out set (a synthesised one is made
    the first time, into ``OUT/test_sets/<name>``)."""
    test = plan.test_sets[name]
    if test.synth is None:
        return [Path(p) if Path(p).is_absolute() else data_root / p for p in (test.tsv, test.audio, test.durations)]
    from jointsed.data.synth import dataset_files as files
    from jointsed.data.synth.generate import SPLIT_BY_NAME

    root = out / "test_sets" / name
    if not (root / files.DESCRIPTION_FILE).is_file():
        synth = test.synth
        jointsed_command(["synth", "--preset", synth.preset, "--seed", str(synth.seed), "--out", str(root),
                          "--no-progress", *synth.args], out / "logs" / f"synth_test_{name}.log")
    tables = {"validation": (files.VALIDATION_TSV, files.VALIDATION_DURATIONS_TSV),
              "public_eval": (files.EVAL_TSV, files.EVAL_DURATIONS_TSV)}[test.split]
    return [root / tables[0], root / SPLIT_BY_NAME[test.split].audio_dir, root / tables[1]]


def training_jobs(plan: ComparisonPlan) -> list[Job]:
    return [Job(row, seed) for row, spec in plan.rows.items() if spec.runs_of is None for seed in plan.seeds_of(row)]


def build_feature_caches(plan: ComparisonPlan, data_root: Path, echo: Callable[[str], None]) -> None:
    """Every trained row's front-end cached once, with every CPU, before trainings start side
    by side (else each would compute the same features)."""
    from jointsed.audio.cache import FeatureCache
    from jointsed.data.audio_files import list_audio_files
    from jointsed.training.config import load_recipe

    seen = set()
    paths = list_audio_files(data_root / "audio", recursive=True)
    for row, spec in plan.rows.items():
        if spec.runs_of is not None:
            continue
        config = load_recipe(spec.recipe, [*plan.set, *spec.set])
        key = (json.dumps(to_dict(config.features), sort_keys=True), config.data.cache_dir)
        if key in seen:
            continue
        seen.add(key)
        cache = FeatureCache(data_root / config.data.cache_dir, config.features)
        report = cache.build(paths, workers=os.cpu_count() or 1, on_error="fail", progress=False)
        echo(f"features ({row}'s front-end): {report.summary()}")


def train(plan: ComparisonPlan, job: Job, out: Path, data_root: Path, threads: int, accelerator: str) -> float:
    """Train one job unless its run folder is finished; returns the seconds it took (0: reused)."""
    spec = plan.rows[job.row]
    run = run_folder(out, job.row, job.seed)
    if (run / "finished.json").is_file():
        return 0.0
    sets = [*plan.set, *spec.set, f"seed={job.seed}", f"trainer.num_threads={threads}", "trainer.progress_bar=false"]
    started = time.perf_counter()
    jointsed_command(["train", str(spec.recipe), "--data-root", str(data_root), "--out", str(run), "--no-progress",
                      "--accelerator", accelerator, "--force", *[f"--set={s}" for s in sets]],
                     out / "logs" / f"train_{job.name}.log")
    return time.perf_counter() - started


def score(plan: ComparisonPlan, row: str, seed: int, out: Path, data_root: Path, device: str) -> dict[str, dict]:
    """Tune (once per run) and evaluate a row's run of ``seed`` on every held-out set; the
    metrics per set."""
    spec = plan.rows[row]
    run = run_folder(out, plan.trained_row(row), seed)
    tuned = run / TUNED_FILE
    logs = out / "logs"
    if spec.postprocess == "tuned" and not tuned.is_file():
        jointsed_command(["tune", str(run), "--data-root", str(data_root), "--out", str(tuned), "--device", device,
                          "--no-progress"], logs / f"tune_{plan.trained_row(row)}_s{seed}.log")
    results = {}
    for name in plan.test_sets:
        split = f"{name}_{spec.postprocess}"
        metrics_file = run / EVAL_DIR / split / "metrics.json"
        if not metrics_file.is_file():
            paths = test_set_files(plan, name, out, data_root)
            extra = ["--postprocess", str(tuned)] if spec.postprocess == "tuned" else []
            jointsed_command(["evaluate", "--run", str(run), "--data-root", str(data_root), "--split", split,
                              "--tsv", str(paths[0]), "--audio", str(paths[1]), "--durations", str(paths[2]),
                              *extra, "--device", device, "--no-progress"],
                             logs / f"evaluate_{row}_s{seed}_{split}.log")
        metrics = read_json_object(metrics_file)
        results[name] = {m: _metric(metrics, family, key) for m, (family, key, _) in METRICS.items()}
    return results


def _metric(metrics: dict, family: str, key: str) -> Optional[float]:
    value = (metrics.get(family) or {}).get(key)
    return None if value is None else float(value)


def budget(run: Path) -> dict[str, Any]:
    """Epochs, clip presentations and training seconds of a run, all its phases summed."""
    phases = {}
    for folder in sorted({run, *run.glob("*/")}):
        info = read_json_object(folder / "finished.json")
        if "epochs" in info:  # a trained phase (a two-stage run's own finished.json only sums up)
            phases["run" if folder == run else folder.name] = {
                k: info.get(k) for k in ("epochs", "clip_presentations", "seconds_last_session")}
    total = {"epochs": 0, "clip_presentations": 0, "seconds": 0.0}
    for info in phases.values():
        total["epochs"] += int(info.get("epochs") or 0)
        total["clip_presentations"] += int(info.get("clip_presentations") or 0)
        total["seconds"] += float(info.get("seconds_last_session") or 0.0)
    return {**total, "phases": phases}


def effect_intervals(plan: ComparisonPlan, out: Path, results: dict) -> dict[str, Any]:
    """Every effect of the plan on every held-out set: count metrics by the clip x seed
    bootstrap over the runs' own evaluation folders, PSDS by Welch's t over seeds."""
    from jointsed.evaluate.bootstrap import paired_effect, seed_interval

    counts_cache: dict[tuple[str, int, str, str], Any] = {}

    def counts(row: str, seed: int, test: str, family: str):
        key = (row, seed, test, family)
        if key not in counts_cache:
            counts_cache[key] = _clip_counts(plan, out, row, seed, test, family)
        return counts_cache[key]

    effects: dict[str, Any] = {}
    for name, effect in plan.effects.items():
        entry: dict[str, Any] = {"label": effect.label or name, "treatment": effect.treatment,
                                 "control": effect.control, "test_sets": {}}
        for test in plan.test_sets:
            per_metric = {}
            for metric in METRICS:
                if metric in COUNT_METRICS:
                    family = COUNT_METRICS[metric]
                    t = [counts(effect.treatment, s, test, family) for s in plan.seeds_of(effect.treatment)]
                    c = [counts(effect.control, s, test, family) for s in plan.seeds_of(effect.control)]
                    per_metric[metric] = paired_effect(t, c, replicates=plan.bootstrap).to_dict() if plan.bootstrap else None
                else:
                    values = [[results["rows"][r]["seeds"][str(s)]["test_sets"][test][metric]
                               for s in plan.seeds_of(r)] for r in (effect.treatment, effect.control)]
                    if any(v is None for side in values for v in side):
                        per_metric[metric] = None
                        continue
                    per_metric[metric] = seed_interval(*values).to_dict()
            entry["test_sets"][test] = per_metric
        effects[name] = entry
    return effects


def _clip_counts(plan: ComparisonPlan, out: Path, row: str, seed: int, test: str, family: str):
    from jointsed.evaluate.bootstrap import per_clip_counts
    from jointsed.evaluate.io import load_reference
    from jointsed.evaluate.summary import tags_from_clip_scores
    from jointsed.report.eval_folder import read_eval_folder

    folder = read_eval_folder(run_folder(out, plan.trained_row(row), seed) / EVAL_DIR
                              / f"{test}_{plan.rows[row].postprocess}")
    reference = load_reference(folder.info_path("ground_truth"), folder.info_path("durations"), folder.classes)
    detections = {key: [(e.onset, e.offset, e.event_label) for e in events]
                  for key, events in folder.predictions_by_id().items()}
    tags = None
    if family == "tagging" and folder.clip_scores:
        thresholds = [float(folder.metrics.get("tag_thresholds", {}).get(c, 0.5)) for c in reference.classes]
        tags = tags_from_clip_scores(folder.clip_scores, reference, thresholds)
    return per_clip_counts(reference, detections, family, tags=tags)


def summarize(values: list[Optional[float]]) -> dict[str, Any]:
    kept = np.array([v for v in values if v is not None], dtype=np.float64)
    if kept.size == 0:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": float(kept.mean()), "std": float(kept.std(ddof=1)) if kept.size > 1 else 0.0, "n": int(kept.size)}


def run_comparison(plan: ComparisonPlan, out: str | os.PathLike, *, jobs: int = 2, accelerator: str = "cpu",
                   echo: Callable[[str], None] = print, plan_file: Optional[str] = None) -> dict[str, Any]:
    """Run ``plan`` into ``out`` (see the module docstring); returns (and writes) the results."""
    from jointsed.data.synth.generate import DESCRIPTION_FILE

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    data_root = data_folder(plan, out, echo)
    for name in plan.test_sets:  # synthesised held-out sets: made before the trainings start
        test_set_files(plan, name, out, data_root)
    build_feature_caches(plan, data_root, echo)
    todo = training_jobs(plan)
    jobs = max(1, min(jobs, len(todo) or 1))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    device = "cuda" if accelerator in ("gpu", "cuda") else "cpu"
    echo(f"{len(todo)} trainings, {jobs} at a time with {threads} thread(s) each")
    done = 0

    def one(job: Job) -> None:
        nonlocal done
        seconds = train(plan, job, out, data_root, threads, accelerator)
        for row, spec in plan.rows.items():  # score as soon as trained: the next trainings overlap it
            if plan.trained_row(row) == job.row and job.seed in plan.seeds_of(row):
                score(plan, row, job.seed, out, data_root, device)
        done += 1
        echo(f"[{done}/{len(todo)}] {job.name}: " + (f"trained in {seconds:.0f} s, scored" if seconds else "reused"))

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for future in [pool.submit(one, job) for job in todo]:
            future.result()

    results: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "plan_file": plan_file,
        "plan": to_dict(plan),
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "jobs": jobs,
                    "threads_per_job": threads, "accelerator": accelerator},
        "data": {"root": str(data_root), "description": read_json_object(data_root / DESCRIPTION_FILE) or None},
        "rows": {},
    }
    for row, spec in plan.rows.items():
        seeds = {}
        for seed in plan.seeds_of(row):
            seeds[str(seed)] = {"budget": budget(run_folder(out, plan.trained_row(row), seed)),
                                "test_sets": score(plan, row, seed, out, data_root, device)}
        summary = {test: {m: summarize([s["test_sets"][test][m] for s in seeds.values()]) for m in METRICS}
                   for test in plan.test_sets}
        results["rows"][row] = {"label": plan.label(row), **to_dict(spec), "trained_row": plan.trained_row(row),
                                "seeds": seeds, "summary": summary}
    results["effects"] = effect_intervals(plan, out, results)
    results["wall_seconds"] = round(time.perf_counter() - started, 1)
    from jointsed.pipeline.compare_tables import markdown

    results["tables"] = markdown(plan, results)
    atomic_write_json(out / RESULTS_FILE, results)
    atomic_write_text(out / TABLES_FILE, results["tables"])
    return results
