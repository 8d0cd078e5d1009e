"""``jointsed demo``: the whole toolkit on a synthetic dataset — synthesize, train, tune,
evaluate (the validation set and the held-out eval split), report — with finished steps reused
when run again (``OUT/demo.json`` records what was done)."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Literal, Mapping, Optional, Sequence

from jointsed.config import to_dict
from jointsed.pipeline.demo_summary import DemoResult, DemoStep
from jointsed.pipeline.errors import PipelineError
from jointsed.pipeline.evaluation import evaluate_checkpoint, evaluate_scores
from jointsed.pipeline.scoring import Echo, PathLike, checkpoint_of, score_split
from jointsed.pipeline.tuning import tune_run
from jointsed.runs.checkpoint import run_dir_of
from jointsed.runs.layout import METRICS_FILE, last_checkpoint
from jointsed.runs.postprocess import DEFAULT_SOURCE, default_params
from jointsed.runs.state import is_finished, same_settings, saved_settings
from jointsed.utils.atomic import atomic_write_json, read_json_object

#: packaged recipe the demo trains (:mod:`jointsed.recipes`): the joint system when its CPU
#: recipe exists, else the guided-learning baseline
DEMO_RECIPE = "cpu/joint"
DEMO_FALLBACK_RECIPE = "cpu/gl_baseline"
DEMO_PRESET = "demo"
DEMO_STATE_FILE = "demo.json"


def demo_recipe() -> Path:
    """The recipe ``jointsed demo`` trains by default (:data:`DEMO_RECIPE`, else the fallback)."""
    from jointsed.recipes import list_recipes, packaged_recipe

    names = list_recipes()
    return packaged_recipe(DEMO_RECIPE if DEMO_RECIPE in names else DEMO_FALLBACK_RECIPE)


def _read_state(out: Path) -> dict[str, Any]:
    return read_json_object(out / DEMO_STATE_FILE)


def _dataset_complete(data_root: Path, preset: str, seed: int) -> Optional[str]:
    """``None`` if ``data_root`` holds the complete synthetic dataset of ``preset``/``seed``,
    else why not (``"missing"`` when it does not exist)."""
    from jointsed.data.synth.generate import DESCRIPTION_FILE

    if not data_root.exists():
        return "missing"
    try:
        desc = json.loads((data_root / DESCRIPTION_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f"{data_root} exists but holds no complete jointsed synth dataset (no {DESCRIPTION_FILE})"
    if desc.get("preset") != preset or desc.get("seed") != seed:
        return (f"{data_root} holds the '{desc.get('preset')}' preset with seed {desc.get('seed')}, "
                f"not '{preset}' with seed {seed}")
    return None


def _same_training(run_dir: Path, config: Any, record: Mapping[str, Any], recipe: Path,
                   overrides: Sequence[str]) -> Optional[bool]:
    """Whether ``run_dir`` holds (part of) a run of this recipe: compared on its saved
    ``config.yaml`` (:func:`jointsed.runs.state.same_settings`), else on the demo's record;
    ``None``: unknown."""
    saved = saved_settings(run_dir)
    if saved is not None:
        return same_settings(saved, to_dict(config))
    if record:
        return record.get("recipe") == str(recipe) and record.get("overrides") == list(overrides)
    return None


def _training_finished(run_dir: Path, record: Mapping[str, Any]) -> bool:
    """Whether the training in ``run_dir`` is complete: the demo recorded it, or the engine
    marked it (``finished.json``: a plain run at its last epoch, a multi-phase run once its
    final stage is published)."""
    if not (run_dir / METRICS_FILE).is_file():
        return False
    return bool(record.get("finished")) or is_finished(run_dir)


def _training_note(metrics: Mapping[str, Any]) -> str:
    """Best validation score (and epoch) of a run, stage by stage for a two-stage run."""
    monitor = metrics.get("monitor", "score")
    stages = metrics.get("stages")
    if isinstance(stages, Mapping) and stages:
        parts = [f"{name} best {monitor} {info.get('best_score') or 0:.3f} (epoch {info.get('best_epoch')})"
                 for name, info in stages.items() if isinstance(info, Mapping)]
        return "; ".join(parts) + f"; published: {metrics.get('published_stage', 'stage2')}'s best"
    if metrics.get("best_score") is not None:
        return f"best {monitor} {metrics['best_score']:.3f} (epoch {metrics.get('best_epoch')})"
    return ""


def _find_model_run(run_dir: Path, state: Mapping[str, Any]) -> Path:
    """The run whose model the demo uses, from ``demo.json`` (a path relative to the demo folder:
    a copied or moved demo folder uses its own run; an absolute path from an older demo.json is
    only used when it lies inside this demo folder)."""
    out = run_dir.parent
    recorded = state.get("train", {}).get("model_run")
    if recorded:
        path = Path(recorded)
        path = path if path.is_absolute() else out / path
        if path.is_dir() and path.resolve().is_relative_to(out.resolve()):
            return path
    return run_dir_of(checkpoint_of(run_dir))


def _relative_to_demo(path: Path, out: Path) -> str:
    """``demo.json`` stores paths relative to the demo folder (it may be copied or moved)."""
    return os.path.relpath(Path(path).resolve(), Path(out).resolve())


def run_demo(
    out: PathLike = "jointsed_demo",
    *,
    force: bool = False,
    recipe: Optional[PathLike] = None,
    overrides: Sequence[str] = (),
    device: Literal["cpu", "gpu"] = "cpu",
    preset: str = DEMO_PRESET,
    seed: int = 0,
    objective: str = "event_f1",
    report_clips: int = 6,
    progress: bool = True,
    echo: Echo = print,
) -> DemoResult:
    """The whole toolkit on a synthetic dataset: synthesize, train, tune, evaluate, report.

    Finished steps are skipped when run again (the dataset if complete, the training if the
    run finished with the same recipe and overrides; scores are reused), unless ``force``.

    Args:
        out: demo folder: ``OUT/data`` (dataset), ``OUT/run`` (training run, its ``eval/``,
            ``postprocess.json`` and ``report/``), ``OUT/demo.json`` (what was done).
        force: redo every step (replaces ``OUT/data`` and ``OUT/run``).
        recipe: recipe to train (default :func:`demo_recipe`).
        overrides: recipe overrides (``key.path=value``).
        device: ``cpu`` or ``gpu`` (training and inference).
        preset, seed: synthetic dataset (``jointsed synth``).
        objective: tuning objective.
        report_clips: example clips drawn in the report.
        progress: progress bars.
        echo: where to print progress messages.
    Returns:
        :class:`DemoResult` (``summary()`` gives the final table).
    """
    from jointsed.data.synth import synthesize_dataset
    from jointsed.training.config import load_recipe
    from jointsed.training.phases import is_multi_phase, train

    say = echo or (lambda _: None)
    out = Path(out)
    data_root, run_dir = out / "data", out / "run"
    if out.exists() and not out.is_dir():
        raise PipelineError(f"--out {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / DEMO_STATE_FILE).is_file() and not data_root.is_dir():
        raise PipelineError(f"--out {out}: folder exists and is not a jointsed demo folder; choose another --out")
    from jointsed.recipes import resolve_recipe

    recipe_path = resolve_recipe(recipe).resolve() if recipe is not None else demo_recipe()
    if device not in ("cpu", "gpu"):
        raise PipelineError(f"--device must be cpu or gpu, got {device!r}")
    user_overrides = list(overrides)
    inference_device = "cuda" if device == "gpu" else "cpu"
    # ConfigError naming a bad key before any work
    config = load_recipe(recipe_path, [*user_overrides, f"trainer.accelerator={device}"])
    out.mkdir(parents=True, exist_ok=True)
    state = {} if force else _read_state(out)
    steps: list[DemoStep] = []

    def save_state() -> None:
        atomic_write_json(out / DEMO_STATE_FILE, state)

    # 1. dataset
    say(f"[1/5] dataset: '{preset}' preset -> {data_root}")
    started = time.perf_counter()
    why = _dataset_complete(data_root, preset, seed)
    if why is None and not force:
        steps.append(DemoStep("1. synthesize dataset", time.perf_counter() - started, f"reused {data_root}"))
        say("      complete dataset found: reused")
    else:
        if why not in (None, "missing") and not force:
            raise PipelineError(f"{why}; use --force to replace it")
        report = synthesize_dataset(data_root, preset=preset, seed=seed, force=data_root.exists(),
                                    progress=progress)
        steps.append(DemoStep("1. synthesize dataset", time.perf_counter() - started,
                              f"{report.total_clips} clips"))
        state = {"data": {"preset": preset, "seed": seed}}  # a new dataset invalidates the rest
        save_state()

    # 2. training
    say(f"[2/5] training {recipe_path.name} -> {run_dir}")
    started = time.perf_counter()
    record = state.get("train", {})
    resume = False
    if run_dir.exists() and any(run_dir.iterdir()) and not force:
        same = _same_training(run_dir, config, record, recipe_path, user_overrides)
        if same is not True:
            what = "another recipe or overrides" if same is False else "a run this demo did not record"
            raise PipelineError(f"{run_dir} holds {what}; use --force to retrain, or choose another --out")
        finished = _training_finished(run_dir, record)
        # an interrupted run continues; the joint phases are resumed or reused by the engine
        resume = not finished and (is_multi_phase(config) or last_checkpoint(run_dir).is_file())
    else:
        finished = False
        if run_dir.exists():
            shutil.rmtree(run_dir)  # --force, or an empty folder (OUT is a demo folder: checked above)
    if finished:
        model_run = _find_model_run(run_dir, state)
        steps.append(DemoStep("2. train", time.perf_counter() - started, f"reused {model_run}"))
        say(f"      finished run found: reused ({model_run})")
    else:
        state["train"] = {"recipe": str(recipe_path), "overrides": user_overrides, "finished": False}
        save_state()
        if resume:
            say("      continuing the interrupted run (finished phases are reused)")
        result = train(config, data_root, run_dir, resume=resume, progress=progress)
        model_run = run_dir_of(result.best_checkpoint or result.last_checkpoint)
        steps.append(DemoStep("2. train", time.perf_counter() - started, _training_note(result.metrics)))
        state["train"] = {"recipe": str(recipe_path), "overrides": user_overrides, "finished": True,
                          "model_run": _relative_to_demo(model_run, out), "seconds": round(steps[-1].seconds, 1)}
        save_state()

    # 3. scoring + tuning (the raw scores are kept and reused by the evaluation)
    say(f"[3/5] tuning the post-processing on the validation set ({objective})")
    started = time.perf_counter()
    scores = score_split(model_run, data_root, "validation", device=inference_device, progress=progress)
    steps.append(DemoStep("3a. score validation set", time.perf_counter() - started,
                          "reused" if scores.reused else f"{len(scores.frame_scores)} clips"))
    started = time.perf_counter()
    tuning = tune_run(model_run, data_root, "validation", objective, device=inference_device,
                      progress=progress, echo=echo)
    steps.append(DemoStep("3b. tune post-processing", time.perf_counter() - started,
                          f"{tuning.n_candidates} candidates"))

    # 4. evaluation: Lin's defaults (for honesty) and tuned
    say("[4/5] evaluating on the validation set (Lin's defaults, then tuned) and the held-out eval split")
    started = time.perf_counter()
    default_metrics, _, _ = evaluate_scores(scores, default_params(checkpoint_of(model_run)), None, DEFAULT_SOURCE)
    tuned_metrics = evaluate_checkpoint(model_run, data_root, "validation", device=inference_device,
                                        progress=progress, echo=echo)
    heldout_metrics = None
    from jointsed.data.synth.generate import EVAL_DURATIONS_TSV, EVAL_TSV, SPLIT_BY_NAME

    if (data_root / EVAL_TSV).is_file():  # a dataset with an eval split: the fair, held-out figure
        heldout_metrics = evaluate_checkpoint(
            model_run, data_root, "heldout", tsv=data_root / EVAL_TSV,
            audio=data_root / SPLIT_BY_NAME["public_eval"].audio_dir, durations=data_root / EVAL_DURATIONS_TSV,
            device=inference_device, progress=progress, echo=echo)
    steps.append(DemoStep("4. evaluate", time.perf_counter() - started,
                          "default + tuned" + (" + held-out" if heldout_metrics else "")))

    # 5. report
    say("[5/5] writing the report")
    started = time.perf_counter()
    from jointsed.report import build_report

    index = build_report(model_run, split="validation", n_clips=report_clips, progress=progress)
    steps.append(DemoStep("5. report", time.perf_counter() - started, ""))
    state["last"] = {
        "report": _relative_to_demo(index, out),
        "steps": [{"name": s.name, "seconds": round(s.seconds, 2), "note": s.note} for s in steps],
    }
    save_state()
    return DemoResult(out=out, data_root=data_root, run_dir=run_dir, model_run=model_run, recipe=recipe_path,
                      default_metrics=default_metrics, tuned_metrics=tuned_metrics, tuning=tuning,
                      report=index, steps=steps, heldout_metrics=heldout_metrics)
