"""The stable Python API of jointsed: one call per step of the command line.

::

    from jointsed import api

    api.synthesize("data/demo", preset="demo")
    result = api.train("cpu/gl_baseline", "data/demo", "runs/gl")
    api.tune("runs/gl", "data/demo")
    metrics = api.evaluate("runs/gl", "data/demo")
    predictions = api.predict("runs/gl", ["my_recording.flac"])

Every function is a thin, typed wrapper over the function the CLI command calls (named in each
docstring), with the same defaults except that progress bars and printed tables are off. The
names and parameters of this module are the stable surface (documented in docs/api.md); the
modules underneath may change between versions.

Importing this module is cheap: torch, Lightning and the metric libraries are imported by the
call that needs them. Errors caused by the input (a missing file, a bad recipe key, an unusable
device) are :class:`jointsed.errors.JointsedError` subclasses with a message naming the file,
line or key.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Literal, Mapping, Optional, Sequence, Union

from jointsed.errors import JointsedError
from jointsed.runs.precision import DEFAULT_PRECISION

if TYPE_CHECKING:  # only for the annotations: importing these pulls in torch / Lightning
    from jointsed.data.synth import SynthReport
    from jointsed.inference import Detector, Prediction
    from jointsed.postprocess import PostProcessor, TuningResult
    from jointsed.training.config import RecipeConfig
    from jointsed.runs.state import TrainResult

__all__ = [
    "Detector",
    "JointsedError",
    "evaluate",
    "evaluate_files",
    "load_recipe",
    "predict",
    "synthesize",
    "train",
    "tune",
]

PathLike = Union[str, os.PathLike]


def __getattr__(name: str) -> Any:
    # PEP 562: ``jointsed.api.Detector`` without importing torch when the module is imported
    if name == "Detector":
        from jointsed.inference import Detector

        return Detector
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_recipe(
    path: Optional[PathLike] = None,
    overrides: Sequence[str] = (),
    extra: Optional[Mapping[str, Any]] = None,
) -> "RecipeConfig":
    """Load and validate a recipe (:func:`jointsed.training.config.load_recipe`).

    Args:
        path: a packaged recipe's name (``dcase2019/joint``, ``cpu/gl_baseline``; the list:
            :func:`jointsed.recipes.list_recipes`) or the path of a recipe YAML (``base:``
            inheritance resolved); ``None``: every default.
        overrides: ``"section.key=value"`` strings, the CLI's ``--set``, applied in order.
        extra: a nested mapping merged last, e.g. ``{"trainer": {"max_epochs": 3}}``.
    Returns:
        The typed :class:`~jointsed.training.config.RecipeConfig` (dataclasses; edit its fields
        and pass it to :func:`train`).
    Raises:
        jointsed.config.ConfigError: an unknown recipe name (the closest are named), unreadable
            YAML, an unknown key or a wrong type (named).

    Example::

        config = api.load_recipe("cpu/gl_baseline", ["trainer.max_epochs=5"])
        config.data.classes = ["beep", "hum", "hiss"]
    """
    from jointsed.training.config import load_recipe as _load

    return _load(path, list(overrides), dict(extra) if extra else None)


def synthesize(
    out_dir: PathLike,
    preset: Literal["tiny", "demo", "proxy"] = "demo",
    seed: int = 0,
    *,
    sources: Optional[PathLike] = None,
    n_weak: Optional[int] = None,
    n_synthetic: Optional[int] = None,
    n_unlabelled: Optional[int] = None,
    n_validation: Optional[int] = None,
    n_eval: Optional[int] = None,
    clip_duration: Optional[float] = None,
    sample_rate: Optional[int] = None,
    stems: bool = False,
    force: bool = False,
    workers: Optional[int] = None,
    progress: bool = False,
) -> "SynthReport":
    """Write a synthetic DESED-layout dataset (``jointsed synth``;
    :func:`jointsed.data.synth.synthesize_dataset`).

    Args:
        out_dir: dataset folder to create (built under a temporary name, renamed when complete).
        preset: sizes (``tiny`` 6/6/6/6 clips + 6 eval clips, ``demo``, ``proxy``); the ``n_*``
            arguments, ``clip_duration`` (s) and ``sample_rate`` (Hz) override it. ``n_eval``:
            clips of the held-out ``public_eval`` split (DESED's public-evaluation layout,
            ``audio/eval/public``, ``metadata/eval/public.tsv``).
        seed: same seed and settings give byte-identical files.
        sources: a soundbank of recordings (``foreground/<DESED label>/*``,
            ``background/**/*``) instead of the built-in generators (docs/own_dataset.md).
        stems: also write every event's isolated stem.
        force: replace an existing ``out_dir``.
        workers: processes (the output does not depend on it).
        progress: show a progress bar.
    Returns:
        :class:`~jointsed.data.synth.SynthReport` (``clips``/``events`` per split, ``summary()``).
    Raises:
        jointsed.data.synth.SynthError: bad sizes, a bad soundbank, ``out_dir`` exists.

    Example::

        report = api.synthesize("data/tiny", preset="tiny", seed=1)
        report.clips["validation"]  # 6
    """
    from jointsed.data.synth import synthesize_dataset

    return synthesize_dataset(
        out_dir, preset=preset, seed=seed, n_weak=n_weak, n_synthetic=n_synthetic,
        n_unlabelled=n_unlabelled, n_validation=n_validation, n_eval=n_eval, clip_duration=clip_duration,
        sample_rate=sample_rate, stems=stems, sources=sources, force=force, workers=workers,
        progress=progress,
    )


def _as_config(recipe: "PathLike | RecipeConfig", overrides: Sequence[str]) -> "RecipeConfig":
    from jointsed.config import from_dict, merge, parse_override, to_dict
    from jointsed.training.config import RecipeConfig

    if not isinstance(recipe, RecipeConfig):
        return load_recipe(recipe, overrides)
    if not overrides:
        return recipe
    data = to_dict(recipe)
    for text in overrides:
        data = merge(data, parse_override(text))
    return from_dict(RecipeConfig, data)


def train(
    recipe: "PathLike | RecipeConfig",
    data_root: PathLike,
    run_dir: PathLike,
    *,
    overrides: Sequence[str] = (),
    resume: bool = False,
    stage: Optional[Literal[1, 2]] = None,
    init_checkpoint: Optional[PathLike] = None,
    force: bool = False,
    progress: bool = False,
) -> "TrainResult":
    """Train a recipe (``jointsed train``; :func:`jointsed.training.phases.train`).

    The joint framework's phases (frame-level teacher, stage 1, stage 2) run in order in one
    call; finished phases in ``run_dir`` are reused.

    Args:
        recipe: a packaged recipe's name (``dcase2019/joint``), a recipe YAML, or a
            :class:`RecipeConfig` from :func:`load_recipe`.
        data_root: dataset folder the recipe's ``data`` paths are relative to.
        run_dir: run folder (``config.yaml``, ``checkpoints/best.ckpt``, ``metrics.json``, logs).
        overrides: ``"section.key=value"`` strings applied to the recipe.
        resume: continue the run in ``run_dir`` from its last checkpoint.
        stage: two-stage recipes: run stage 1 or 2 only.
        init_checkpoint: stage 2's initial weights instead of stage 1's best.
        force: retrain phases that already ran in ``run_dir``.
        progress: progress bars and the model summary.
    Returns:
        :class:`~jointsed.runs.state.TrainResult`: ``run_dir``, ``best_checkpoint``,
        ``last_checkpoint``, ``metrics`` (``metrics["best"]``: the best epoch's scores).
    Raises:
        jointsed.config.ConfigError: a bad recipe key or override.
        jointsed.utils.device.DeviceError: ``trainer.accelerator`` asks for a GPU torch cannot use.
        jointsed.training.TrainingError: run-folder conflicts, missing data or checkpoints.

    Example::

        result = api.train("cpu/gl_baseline", "data/demo", "runs/gl",
                           overrides=["trainer.max_epochs=5"])
        result.metrics["best"]["event_f1"]
    """
    from jointsed.training.phases import train as _train
    from jointsed.utils.device import check_device

    config = _as_config(recipe, overrides)
    check_device(config.trainer.accelerator, "trainer.accelerator")
    with _lightning_quiet(not progress):
        return _train(config, data_root, run_dir, resume=resume, progress=progress, stage=stage,
                      init_checkpoint=init_checkpoint, force=force)


@contextmanager
def _lightning_quiet(quiet: bool) -> Iterator[None]:
    # Lightning logs its info lines ("`Trainer.fit` stopped: ...", the devices) at INFO to its own
    # stderr handler; the API is quiet unless progress is asked for, so they are raised to WARNING
    # for the call only (warnings and errors still show)
    if not quiet:
        yield
        return
    import logging

    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric",
                                                    "pytorch_lightning", "lightning_fabric")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def tune(
    run_dir: PathLike,
    data_root: Optional[PathLike] = None,
    split: Optional[str] = None,
    *,
    method: str = "lin",
    objective: str = "event_f1",
    grid: Optional[Any] = None,
    tsv: Optional[PathLike] = None,
    audio: Optional[PathLike] = None,
    durations: Optional[PathLike] = None,
    device: str = "cpu",
    batch_size: int = 16,
    out: Optional[PathLike] = None,
    progress: bool = False,
) -> "TuningResult":
    """Tune the per-class post-processing and save it (``jointsed tune``;
    :func:`jointsed.pipeline.tune_run`).

    Args:
        run_dir: run folder (or checkpoint file).
        data_root: dataset folder; with ``split`` (``validation``, the default, or
            ``synthetic``) it names the recipe's labelled set to tune on.
        split: see ``data_root``; with ``tsv``: the name of the scores folder.
        method: the post-processing method: ``lin`` (Lin et al.'s, event-specific tuning) or
            ``sebb`` (sound event bounding boxes), or any registered one
            (:func:`jointsed.postprocess.base.registered_postprocessors`).
        objective: what to maximise, a name of the metric table
            (:data:`jointsed.evaluate.metric_table.METRICS`): ``event_f1``, ``psds1``, ``psds2``.
        grid: candidate values, an instance of the method's ``grid_class()``
            (:class:`jointsed.postprocess.TuningGrid` for ``lin``; default grid if None).
        tsv, audio, durations: tune on this strongly labelled set instead (paths as given).
        device: ``cpu``, ``cuda``, ``cuda:1``, ...
        batch_size: 10-s windows per forward pass.
        out: where to write the parameters (default ``RUN_DIR/postprocess.json``, which
            :func:`evaluate`, :func:`predict` and the CLI then use).
        progress: progress bars.
    Returns:
        :class:`~jointsed.postprocess.TuningResult` (``params``, ``default_score``,
        ``tuned_score``, ``table()``).
    Raises:
        jointsed.utils.device.DeviceError: a GPU torch cannot use.
        jointsed.pipeline.PipelineError: no such split, run or checkpoint.

    Example::

        result = api.tune("runs/gl", "data/demo")
        result.default_score, result.tuned_score
    """
    from jointsed.utils.device import check_device
    from jointsed.pipeline import tune_run

    check_device(device)
    return tune_run(run_dir, data_root, split, objective, grid, method=method, tsv=tsv, audio=audio,
                    durations=durations, device=device, batch_size=batch_size, progress=progress, out=out,
                    echo=None)


def evaluate(
    run_dir: PathLike,
    data_root: Optional[PathLike] = None,
    split: Optional[str] = None,
    *,
    postprocess: "PathLike | PostProcessor | None" = None,
    tsv: Optional[PathLike] = None,
    audio: Optional[PathLike] = None,
    durations: Optional[PathLike] = None,
    device: str = "cpu",
    batch_size: int = 16,
    write: bool = True,
    progress: bool = False,
) -> dict[str, Any]:
    """Score a split with a trained model and evaluate it (``jointsed evaluate --run``;
    :func:`jointsed.pipeline.evaluate_checkpoint`).

    Args:
        run_dir: run folder (or checkpoint file).
        data_root, split, tsv, audio, durations: the evaluation set, as in :func:`tune`.
        postprocess: a post-processor or a JSON file of one (default ``RUN_DIR/postprocess.json``
            if present, else Lin's defaults stored in the checkpoint).
        device, batch_size: as in :func:`tune`.
        write: also write ``RUN_DIR/eval/<split>/`` (metrics.json, predictions, scores).
        progress: progress bars.
    Returns:
        A JSON-ready dict: ``event_based``, ``segment_based``, ``tagging``, ``intersection``
        (each with ``macro_f1``, ``micro_f1``, ``per_class``), ``psds1``, ``psds2``
        (``value``), ``classes``, ``n_clips``, ``postprocess``, ``eval_folder``.
    Raises:
        jointsed.utils.device.DeviceError, jointsed.pipeline.PipelineError,
        jointsed.evaluate.EvaluationError: bad device, split or files.

    Example::

        metrics = api.evaluate("runs/gl", "data/demo")
        metrics["event_based"]["macro_f1"], metrics["psds1"]["value"]
    """
    from jointsed.utils.device import check_device
    from jointsed.pipeline import evaluate_checkpoint

    check_device(device)
    return evaluate_checkpoint(run_dir, data_root, split, postprocess, tsv=tsv, audio=audio,
                               durations=durations, device=device, batch_size=batch_size,
                               progress=progress, write=write, echo=None)


def evaluate_files(
    ground_truth: PathLike,
    durations: PathLike,
    *,
    predictions: Optional[PathLike] = None,
    operating_points: Optional[PathLike] = None,
    scores: Optional[PathLike] = None,
    threshold: float = 0.5,
    classes: "str | PathLike | Sequence[str] | None" = None,
) -> dict[str, Any]:
    """Evaluate another system's output files (``jointsed evaluate GT_TSV ...``;
    :func:`jointsed.evaluate.evaluate_run`) with sed_eval, psds_eval and sed_scores_eval.

    Args:
        ground_truth: strong-label table of the evaluation set.
        durations: ``filename duration`` table of every ground-truth clip.
        predictions: one detection table: event-, segment-, tagging- and intersection-based F1.
        operating_points: a folder of detection tables ``*_<threshold>.tsv``: PSDS1/PSDS2.
        scores: a folder of sed_scores_eval frame-score files: threshold-free PSDS, and the
            F-scores at ``threshold`` that no detection table gave.
        threshold: decision threshold for F-scores from ``scores``.
        classes: the class list in order (names, ``"a,b,c"`` or a file of one per line);
            ``None``: DESED's if every ground-truth label is one of them, else the ground
            truth's labels sorted (``classes_inferred`` in the result then says so).
    Returns:
        The same dict as :func:`evaluate` (without the run fields).
    Raises:
        jointsed.evaluate.EvaluationError: unreadable or inconsistent files (named).

    Example::

        m = api.evaluate_files("validation.tsv", "validation_durations.tsv",
                               predictions="predictions.tsv")
        m["event_based"]["macro_f1"]
    """
    from jointsed.data.classes import explain_unknown_label, resolve_classes
    from jointsed.evaluate import evaluate_run

    names, note = resolve_classes(classes, ground_truth)
    try:
        results = evaluate_run(ground_truth, durations, predictions=predictions, operating_points=operating_points,
                               scores=scores, threshold=threshold, classes=names)
    except JointsedError as exc:
        raise explain_unknown_label(exc, note is not None, "classes=[...]") from None
    if note:  # the API prints nothing: the statement travels with the result
        results["classes_inferred"] = note
    return results


def predict(
    model: PathLike,
    audio: Union[PathLike, Sequence[PathLike]],
    *,
    device: str = "cpu",
    postprocess: "PathLike | PostProcessor | None" = None,
    batch_size: int = 16,
    precision: str = DEFAULT_PRECISION,
    progress: bool = False,
) -> list["Prediction"]:
    """Detect events in audio files (``jointsed predict``; :class:`jointsed.inference.Detector`).

    For repeated calls, keep a :class:`Detector` (``api.Detector.from_checkpoint(model)``) so
    the model is loaded once.

    Args:
        model: run folder (its ``checkpoints/best.ckpt``) or a ``.ckpt`` file.
        audio: an audio file or a folder (its audio files, as ``jointsed predict``), or a list
            of them: any length (long files are scored in overlapping windows), channel count,
            sample rate and libsndfile format. Audio in memory: ``Detector.predict((waveform,
            sample_rate))``.
        device: ``cpu``, ``cuda``, ``cuda:1``, ...
        postprocess: a post-processor or a JSON file of one (default: ``postprocess.json`` beside
            the model, else Lin's defaults).
        batch_size: windows per forward pass.
        precision: ``fp32`` or ``bf16`` (:mod:`jointsed.runs.precision`: faster on CPUs with
            AMX and on GPUs; scores move by ~1e-3).
        progress: progress bar.
    Returns:
        One :class:`~jointsed.inference.Prediction` per file, in order: ``events``,
        ``frame_scores`` (T, C), ``clip_scores`` (C,), ``classes``, ``frame_hop``, ``duration``;
        ``to_dataframe()`` (events), ``scores_dataframe()`` (sed_scores_eval's format).
    Raises:
        jointsed.utils.device.DeviceError, jointsed.errors.JointsedError: an unusable device, a
        file that is not a checkpoint, unreadable audio.

    Example::

        [p] = api.predict("runs/gl", "my_recording.flac")
        [(e.onset, e.offset, e.event_label) for e in p.events]
    """
    from jointsed.inference import Detector
    from jointsed.utils.device import check_device

    check_device(device)
    from jointsed.data.audio_files import list_audio_files

    given = [audio] if isinstance(audio, (str, os.PathLike)) else list(audio)
    files = [f for p in map(Path, given) for f in (list_audio_files(p) if p.is_dir() else [p])]
    if not files:
        raise JointsedError(f"no audio file in {', '.join(map(str, given)) or 'an empty list'}")
    detector = Detector.from_checkpoint(model, device=device, postprocess=postprocess, batch_size=batch_size,
                                        precision=precision)
    return detector.predict_many(files, progress=progress)
