"""Write a complete DESED-layout dataset of synthetic soundscapes (``jointsed synth``).

Layout written under ``out_dir`` (the layout training reads by default)::

    audio/train/weak/*.wav               metadata/train/weak.tsv
    audio/train/synthetic/*.wav          metadata/train/synthetic.tsv, synthetic_durations.tsv
    audio/train/unlabel_in_domain/*.wav  metadata/train/unlabel_in_domain.tsv
    audio/validation/*.wav               metadata/validation/validation.tsv, validation_durations.tsv
    audio/eval/public/*.wav              metadata/eval/public.tsv, public_durations.tsv (``n_eval`` > 0:
                                         the held-out split on DESED's public-evaluation layout)
    synth.json                           what was generated (preset, seed, settings, counts)
    README.md                            provenance and attribution
    stems/<split>/...                    with ``stems=True`` only (see below)

Determinism: clip ``index`` of split ``s`` draws everything from
``SeedSequence(seed, spawn_key=(split_id, 1, index, part))`` (part 0 = background, k = k-th
event); layouts from ``spawn_key=(split_id, 0)``. Output therefore does not depend on the number of
worker processes, and the same seed gives byte-identical files (PCM_16 wav via soundfile; no
timestamps anywhere) on the same platform and library versions.

Stems (``stems=True``): ``stems/<split>/<clip>/background.wav`` and ``event_<k>_<label>.wav`` (the
k-th event of the clip, full clip length, zero outside its span, exactly as in the mix: mixture ==
background + sum of events up to PCM rounding), and ``stems/<split>/events.tsv`` with columns
``filename onset offset event_label ebr_db stem`` for every split, including the true strong
layout of weak and unlabelled clips.

The output folder is built under a temporary name and renamed at the end
(:func:`jointsed.utils.atomic.atomic_dir`): an existing dataset is never half-overwritten.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Optional

import numpy as np
import soundfile as sf
from tqdm.auto import tqdm

from jointsed import __version__
from jointsed.data.annotations import (
    Event,
    write_durations_tsv,
    write_filenames_tsv,
    write_strong_tsv,
    write_weak_tsv,
)
from jointsed.data.classes import DESED_CLASSES
from jointsed.data.synth import layouts as L
from jointsed.data.synth.dsp import rms
from jointsed.data.synth.mixer import PlacedEvent, Soundscape, mix_soundscape
from jointsed.data.synth.presets import SynthConfig, resolve_config
from jointsed.data.synth.sources import RecordedSources, SourceBank, SynthError, SyntheticSources
from jointsed.errors import JointsedError
from jointsed.utils.atomic import atomic_dir, atomic_write_json, atomic_write_text


@dataclass(frozen=True)
class SplitSpec:
    """One dataset split: its name, audio folder and id in the seed derivation."""

    name: str
    audio_dir: str
    split_id: int


SPLITS: tuple[SplitSpec, ...] = (
    SplitSpec("weak", "audio/train/weak", 1),
    SplitSpec("synthetic", "audio/train/synthetic", 2),
    SplitSpec("unlabel_in_domain", "audio/train/unlabel_in_domain", 3),
    SplitSpec("validation", "audio/validation", 4),
    SplitSpec("public_eval", "audio/eval/public", 5),
)
SPLIT_BY_NAME = {s.name: s for s in SPLITS}
#: the held-out eval split's tables (relative to the dataset root; DESED's names)
EVAL_TSV = "metadata/eval/public.tsv"
EVAL_DURATIONS_TSV = "metadata/eval/public_durations.tsv"
SAMPLE_SUBTYPE = "PCM_16"
#: the dataset's description (generator, preset, seed, settings, sources, clip and event counts)
DESCRIPTION_FILE = "synth.json"


@dataclass(frozen=True)
class ClipTask:
    """Everything a worker needs to render one clip: events as (label, start, stop) samples."""

    split: str
    index: int
    filename: str
    events: tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class ClipResult:
    split: str
    index: int
    ebr_db: tuple[float, ...]  # per event, in task order
    normalised: bool


@dataclass(frozen=True)
class SynthReport:
    """What :func:`synthesize_dataset` wrote.

    Attributes:
        clips / events: per split name (weak, synthetic, unlabel_in_domain, validation).
        peak_normalised: number of clips scaled down to avoid clipping.
        seconds: wall-clock time of the whole run.
    """

    out_dir: Path
    preset: str
    seed: int
    config: SynthConfig
    sources: str
    clips: dict[str, int]
    events: dict[str, int]
    peak_normalised: int
    seconds: float
    workers: int
    stems: bool

    @property
    def total_clips(self) -> int:
        return sum(self.clips.values())

    def summary(self) -> str:
        """A small text table for the command line."""
        rows = [f"{'split':<20}{'clips':>8}{'events':>8}"]
        rows += [f"{name:<20}{self.clips[name]:>8}{self.events[name]:>8}" for name in self.clips]
        audio_min = self.total_clips * self.config.clip_duration / 60
        rows.append(f"{self.total_clips} clips ({audio_min:.1f} min of audio at {self.config.sample_rate} Hz) "
                    f"in {self.seconds:.1f} s with {self.workers} worker(s); "
                    f"{self.peak_normalised} peak-normalised; written to {self.out_dir}")
        return "\n".join(rows)


# ----------------------------------------------------------------------------------------------
# seeds and planning
# ----------------------------------------------------------------------------------------------
def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def plan_layouts(config: SynthConfig, seed: int) -> dict[str, list[L.ClipLayout]]:
    """The clip layouts of every split (deterministic in ``seed``)."""
    d = config.clip_duration
    ids = {s.name: s.split_id for s in SPLITS}
    return {
        "weak": L.weak_layouts(config.n_weak, _rng(seed, ids["weak"], 0), d, prefix="weak"),
        "synthetic": L.synthetic_layouts(config.n_synthetic, _rng(seed, ids["synthetic"], 0), d),
        "unlabel_in_domain": L.weak_layouts(config.n_unlabelled, _rng(seed, ids["unlabel_in_domain"], 0), d,
                                            prefix="unlabel"),
        "validation": L.validation_layouts(config.n_validation, _rng(seed, ids["validation"], 0), d),
        "public_eval": L.validation_layouts(config.n_eval, _rng(seed, ids["public_eval"], 0), d,
                                            real=L.real_public_eval_layouts(), what="n_eval"),
    }


def layout_to_task(split: str, index: int, layout: L.ClipLayout, config: SynthConfig) -> ClipTask:
    """Convert a layout's times to sample spans of the clip."""
    sr, n = config.sample_rate, config.n_samples
    events = []
    for e in layout.events:
        start = min(int(round(e.onset * sr)), n - 1)
        stop = min(int(round(e.offset * sr)), n)
        if stop > start:
            events.append((e.label, start, stop))
    return ClipTask(split, index, layout.filename, tuple(events))


def task_events(task: ClipTask, sample_rate: int) -> list[Event]:
    """The task's events as annotation rows (times are the exact sample boundaries)."""
    return [Event(task.filename, start / sample_rate, stop / sample_rate, label)
            for label, start, stop in task.events]


# ----------------------------------------------------------------------------------------------
# rendering one clip
# ----------------------------------------------------------------------------------------------
def _write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    sf.write(str(path), audio.astype(np.float32), sample_rate, subtype=SAMPLE_SUBTYPE, format="WAV")


def stem_name(k: int, label: str) -> str:
    return f"event_{k:02d}_{label}.wav"


@dataclass(frozen=True)
class ClipRenderer:
    """Renders :class:`ClipTask` s into ``root`` (picklable: sent once to each worker)."""

    config: SynthConfig
    seed: int
    root: str
    sources: SourceBank
    stems: bool = False

    def soundscape(self, task: ClipTask) -> tuple[Soundscape, tuple[float, ...]]:
        """Mix one clip (no file written). Returns the soundscape and the per-event EBR targets."""
        cfg = self.config
        sr, n = cfg.sample_rate, cfg.n_samples
        split_id = SPLIT_BY_NAME[task.split].split_id
        clip_rng = _rng(self.seed, split_id, 1, task.index, 0)
        level = 10.0 ** (clip_rng.uniform(*cfg.background_dbfs) / 20.0)
        for _ in range(5):  # a recorded background may be silent under some event: draw another
            background = self.sources.background(clip_rng, n, sr)
            if all(rms(background[a:b]) > 0.0 for _, a, b in task.events):
                break
        background = background * (level / rms(background))
        placed = []
        for k, (label, start, stop) in enumerate(task.events):
            event_rng = _rng(self.seed, split_id, 1, task.index, k + 1)
            ebr = float(event_rng.uniform(*cfg.ebr_db))
            placed.append(PlacedEvent(label, start, stop, self.sources.event(label, event_rng, stop - start, sr), ebr))
        scape = mix_soundscape(background, placed, sr, fade_duration=cfg.fade_duration)
        return scape, tuple(e.ebr_db for e in placed)

    def __call__(self, task: ClipTask) -> ClipResult:
        sr = self.config.sample_rate
        scape, ebrs = self.soundscape(task)
        root = Path(self.root)
        _write_wav(root / SPLIT_BY_NAME[task.split].audio_dir / task.filename, scape.mixture, sr)
        if self.stems:
            folder = root / "stems" / task.split / Path(task.filename).stem
            folder.mkdir(parents=True, exist_ok=True)
            _write_wav(folder / "background.wav", scape.background, sr)
            for k, event in enumerate(scape.events):
                _write_wav(folder / stem_name(k, event.label), scape.stem(k), sr)
        return ClipResult(task.split, task.index, ebrs, scape.normalised)


_WORKER_RENDERER: ClipRenderer | None = None


def _init_worker(renderer: ClipRenderer, parent_pid: int | None = None) -> None:
    global _WORKER_RENDERER
    _WORKER_RENDERER = renderer
    if parent_pid is not None:  # end with the parent: kill -9 of synth must not leave orphans
        from jointsed.utils.workers import exit_with_parent

        exit_with_parent(parent_pid)


def _render_task(task: ClipTask, renderer: ClipRenderer | None = None) -> ClipResult:
    renderer = renderer or _WORKER_RENDERER
    try:
        return renderer(task)
    except JointsedError as exc:
        # re-raised as a plain SynthError: picklable across processes, names the clip
        raise SynthError(f"{task.split}/{task.filename}: {exc}") from None


def _run_tasks(tasks: list[ClipTask], renderer: ClipRenderer, workers: int) -> Iterator[ClipResult]:
    if workers <= 1:
        for task in tasks:
            yield _render_task(task, renderer)
        return
    context = multiprocessing.get_context("spawn")  # no fork: safe whatever the parent has loaded
    executor = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(renderer, os.getpid()))
    try:
        yield from executor.map(_render_task, tasks, chunksize=4)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


# ----------------------------------------------------------------------------------------------
# metadata
# ----------------------------------------------------------------------------------------------
def _write_metadata(root: Path, tasks: dict[str, list[ClipTask]], config: SynthConfig) -> None:
    sr, duration = config.sample_rate, config.n_samples / config.sample_rate
    meta = root / "metadata"
    weak = {t.filename: tuple(c for c in DESED_CLASSES if c in {label for label, _, _ in t.events})
            for t in tasks["weak"]}
    write_weak_tsv(meta / "train" / "weak.tsv", weak)
    for split, tsv, durations_tsv in (("synthetic", meta / "train" / "synthetic.tsv",
                                       meta / "train" / "synthetic_durations.tsv"),
                                      ("validation", meta / "validation" / "validation.tsv",
                                       meta / "validation" / "validation_durations.tsv"),
                                      ("public_eval", root / EVAL_TSV, root / EVAL_DURATIONS_TSV)):
        if split == "public_eval" and not tasks[split]:
            continue
        events = [e for t in tasks[split] for e in task_events(t, sr)]
        write_strong_tsv(tsv, events, empty_files=[t.filename for t in tasks[split]])
        write_durations_tsv(durations_tsv, {t.filename: duration for t in tasks[split]})
    write_filenames_tsv(meta / "train" / "unlabel_in_domain.tsv", [t.filename for t in tasks["unlabel_in_domain"]])


def _write_stem_tables(root: Path, tasks: dict[str, list[ClipTask]], results: dict[tuple[str, int], ClipResult],
                       sample_rate: int) -> None:
    for split, split_tasks in tasks.items():
        lines = ["filename\tonset\toffset\tevent_label\tebr_db\tstem"]
        for task in split_tasks:
            ebrs = results[(split, task.index)].ebr_db
            for k, ((label, start, stop), ebr) in enumerate(zip(task.events, ebrs)):
                stem = f"{Path(task.filename).stem}/{stem_name(k, label)}"
                lines.append(f"{task.filename}\t{start / sample_rate!r}\t{stop / sample_rate!r}\t{label}\t{ebr!r}\t{stem}")
        atomic_write_text(root / "stems" / split / "events.tsv", "\n".join(lines) + "\n")


_README = """# Synthetic DESED-like dataset

Generated by `jointsed synth` (jointsed {version}), preset `{preset}`, seed {seed}; settings in
`synth.json`. The audio is synthetic ({sources}); it is NOT the DESED audio.

Event layouts come from the real DESED metadata (Turpault et al., "Sound event detection in
domestic environments with weakly labeled data and soundscape synthesis", DCASE 2019 workshop;
MIT license; https://github.com/turpaultn/DESED and https://github.com/turpaultn/DCASE2019_task4):
validation clips reuse the real validation layout clip for clip (same file names, onsets,
offsets and labels), synthetic clips reuse layouts of the 2019 synthetic training set, weak and
unlabelled clips use real weak label sets with events placed from per-class statistics.

Event-to-background ratio (dB) = 20 log10(RMS(event) / RMS(background)) over the event's
labelled span; drawn uniformly in {ebr} dB per event.
"""


def _write_description(root: Path, report_fields: dict, config: SynthConfig) -> None:
    atomic_write_json(root / DESCRIPTION_FILE, report_fields)
    atomic_write_text(root / "README.md", _README.format(
        version=__version__, preset=report_fields["preset"], seed=report_fields["seed"],
        sources=report_fields["sources"], ebr=list(config.ebr_db)))


# ----------------------------------------------------------------------------------------------
# public entry point
# ----------------------------------------------------------------------------------------------
def synthesize_dataset(
    out_dir: str | os.PathLike,
    preset: str = "demo",
    seed: int = 0,
    *,
    n_weak: int | None = None,
    n_synthetic: int | None = None,
    n_unlabelled: int | None = None,
    n_validation: int | None = None,
    n_eval: int | None = None,
    clip_duration: float | None = None,
    sample_rate: int | None = None,
    ebr_db: tuple[float, float] | None = None,
    stems: bool = False,
    sources: str | os.PathLike | None = None,
    force: bool = False,
    workers: int | None = None,
    progress: bool = True,
) -> SynthReport:
    """Synthesise a DESED-layout dataset into ``out_dir`` (see the module docstring for the layout).

    Args:
        out_dir: dataset root to create; must not exist unless ``force`` (then it is replaced only
            once the new dataset is complete).
        preset: ``tiny``, ``demo`` or ``proxy`` (:mod:`jointsed.data.synth.presets`).
        seed: non-negative integer; same seed and settings -> byte-identical files.
        n_weak, n_synthetic, n_unlabelled, n_validation, n_eval, clip_duration, sample_rate, ebr_db:
            override the preset (None keeps the preset's value).
        stems: also write each event's isolated stem and the background (``stems/``).
        sources: folder of real recordings in the DESED soundbank layout
            (``foreground/<label>/*.wav``, ``background/**/*.wav``) instead of the built-in generators.
        workers: processes (default: 2 when there are many clips and 2+ cores, else 1); the
            output does not depend on it.
        progress: show a tqdm progress bar.
    Returns:
        :class:`SynthReport`.
    Raises:
        SynthError: bad settings, a bad sources folder, or ``out_dir`` exists without ``force``.
    """
    started = time.perf_counter()
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise SynthError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    config = resolve_config(preset, n_weak=n_weak, n_synthetic=n_synthetic, n_unlabelled=n_unlabelled,
                            n_validation=n_validation, n_eval=n_eval, clip_duration=clip_duration,
                            sample_rate=sample_rate,
                            ebr_db=ebr_db)
    bank: SourceBank = RecordedSources.from_folder(sources) if sources is not None else SyntheticSources()
    out_dir = Path(out_dir)
    _check_out_dir(out_dir, force, sources)

    layouts = plan_layouts(config, seed)
    tasks = {split: [layout_to_task(split, i, lay, config) for i, lay in enumerate(split_layouts)]
             for split, split_layouts in layouts.items()}
    all_tasks = [t for split_tasks in tasks.values() for t in split_tasks]
    if workers is None:
        workers = min(2, os.cpu_count() or 1) if len(all_tasks) >= 48 else 1
    workers = max(1, min(int(workers), len(all_tasks) or 1))

    try:
        with atomic_dir(out_dir, overwrite=force) as tmp:
            for spec in SPLITS:
                (tmp / spec.audio_dir).mkdir(parents=True, exist_ok=True)
            renderer = ClipRenderer(config, seed, str(tmp), bank, stems)
            results: dict[tuple[str, int], ClipResult] = {}
            with tqdm(total=len(all_tasks), unit="clip", desc="jointsed synth", disable=not progress) as bar:
                for result in _run_tasks(all_tasks, renderer, workers):
                    results[(result.split, result.index)] = result
                    bar.update(1)
            _write_metadata(tmp, tasks, config)
            if stems:
                _write_stem_tables(tmp, tasks, results, config.sample_rate)
            clips = {split: len(split_tasks) for split, split_tasks in tasks.items()}
            events = {split: sum(len(t.events) for t in split_tasks) for split, split_tasks in tasks.items()}
            normalised = sum(r.normalised for r in results.values())
            _write_description(tmp, {
                "generator": "jointsed synth",
                "jointsed_version": __version__,
                "preset": preset,
                "seed": seed,
                "settings": dataclasses.asdict(config),
                "sources": bank.describe(),
                "stems": stems,
                "clips": clips,
                "events": events,
                "peak_normalised_clips": normalised,
            }, config)
    except FileExistsError as exc:  # created by someone else meanwhile
        raise SynthError(str(exc)) from None
    return SynthReport(out_dir=out_dir, preset=preset, seed=seed, config=config, sources=bank.describe(),
                       clips=clips, events=events, peak_normalised=normalised,
                       seconds=time.perf_counter() - started, workers=workers, stems=stems)


def _check_out_dir(out_dir: Path, force: bool, sources: Optional[str | os.PathLike]) -> None:
    """Before any work: ``out_dir`` is new, or (``force``) a dataset jointsed synth wrote (it holds
    ``synth.json``; an empty folder too) that does not hold ``sources``. Any other folder is
    refused, saying what is in it: ``--force`` never deletes the user's files."""
    from jointsed.utils.outputs import OutputError, check_output_dir

    try:
        check_output_dir(out_dir, force=force, owner_files=(DESCRIPTION_FILE,),
                         inputs=[sources] if sources is not None else [], kind="synth dataset")
    except OutputError as exc:
        raise SynthError(str(exc)) from None


def iter_clip_tasks(config: SynthConfig, seed: int) -> Iterable[ClipTask]:
    """All clip tasks of a dataset, split by split (for tools that render clips themselves)."""
    for split, split_layouts in plan_layouts(config, seed).items():
        for i, layout in enumerate(split_layouts):
            yield layout_to_task(split, i, layout, config)
