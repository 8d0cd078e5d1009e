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
event); layouts from ``spawn_key=(split_id, 0)``; the recording chain from
``spawn_key=(split_id, 2, index, part)`` and its room bank from ``spawn_key=(0, room)``
(:mod:`.recording_chain`, :mod:`.rooms`). Output therefore does not depend on the number of
worker processes, and the same seed gives byte-identical files (PCM_16 wav via soundfile; no
timestamps anywhere) on the same platform and library versions.

Recording chain (``recording_chain.enabled``; the ``proxy`` preset): the splits of
:data:`~jointsed.data.synth.recording_chain.RECORDED_SPLITS` (all but ``synthetic``) sound like
real recordings (room, device, distractor sounds, richer backgrounds); labels are unchanged and
the ``synthetic`` split is byte-identical to the chain-off output. Off, nothing of it runs.

Stems (``stems=True``): ``stems/<split>/<clip>/background.wav`` and ``event_<k>_<label>.wav`` (the
k-th event of the clip, full clip length, zero outside its span, exactly as in the mix: mixture ==
background + sum of events up to PCM rounding), and ``stems/<split>/events.tsv`` with columns
``filename onset offset event_label ebr_db stem`` for every split, including the true strong
layout of weak and unlabelled clips. For recorded clips the stems are the sources before the room
and the device (so the mixture is not their sum), plus ``distractor_<k>_<kind>.wav`` listed in
``stems/<split>/distractors.tsv`` (``filename onset offset kind ebr_db stem``; never labels).

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
from typing import Any, Iterable, Iterator, Mapping, Optional

import numpy as np
import soundfile as sf
from tqdm.auto import tqdm

from jointsed import __version__
from jointsed.data.synth import layouts as L
from jointsed.data.synth.chain_config import RecordingChainConfig
from jointsed.data.synth.dataset_files import (  # noqa: F401 (EVAL_TSV, EVAL_DURATIONS_TSV, task_events: public here too)
    DESCRIPTION_FILE,
    EVAL_DURATIONS_TSV,
    EVAL_TSV,
    distractor_stem_name,
    stem_name,
    task_events,
    write_description,
    write_metadata,
    write_stem_tables,
)
from jointsed.data.synth.dsp import rms
from jointsed.data.synth.mixer import PlacedEvent, Soundscape, mix_soundscape
from jointsed.data.synth.presets import SynthConfig, resolve_config
from jointsed.data.synth.recording_chain import RECORDED_SPLITS, RecordingChain
from jointsed.data.synth.sources import RecordedSources, SourceBank, SynthError, SyntheticSources
from jointsed.errors import JointsedError
from jointsed.utils.atomic import atomic_dir


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
SAMPLE_SUBTYPE = "PCM_16"


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
    #: recorded clips: (kind, start, stop, ratio dB) per distractor, and the bank's room (None: no reverb)
    distractors: tuple[tuple[str, int, int, float], ...] = ()
    room: Optional[int] = None


@dataclass(frozen=True)
class SynthReport:
    """What :func:`synthesize_dataset` wrote.

    Attributes:
        clips / events: per split name (weak, synthetic, unlabel_in_domain, validation).
        peak_normalised: number of clips scaled down to avoid clipping.
        seconds: wall-clock time of the whole run.
        recording: with the recording chain on: its rooms, distractors and reverberant clips.
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
    recording: Optional[dict[str, Any]] = None

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
        if self.recording:
            bank = self.recording["rir_bank"]
            rooms = (f"{bank['rooms']} simulated rooms (RT60 {bank['rt60_measured_s']['min']:.2f}-"
                     f"{bank['rt60_measured_s']['max']:.2f} s)") if bank else "no rooms"
            rows.append(f"recording chain on {', '.join(self.recording['splits'])}: {rooms}, "
                        f"{sum(self.recording['reverberant_clips'].values())} reverberant clips, "
                        f"{sum(self.recording['distractors'].values())} distractor sounds")
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


# ----------------------------------------------------------------------------------------------
# rendering one clip
# ----------------------------------------------------------------------------------------------
def _write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    sf.write(str(path), audio.astype(np.float32), sample_rate, subtype=SAMPLE_SUBTYPE, format="WAV")


@dataclass(frozen=True)
class ClipRenderer:
    """Renders :class:`ClipTask` s into ``root`` (picklable: sent once to each worker)."""

    config: SynthConfig
    seed: int
    root: str
    sources: SourceBank
    stems: bool = False
    chain: Optional[RecordingChain] = None

    def records(self, split: str) -> bool:
        """Whether clips of ``split`` go through the recording chain."""
        return self.chain is not None and split in RECORDED_SPLITS

    def soundscape(self, task: ClipTask) -> tuple[Soundscape, tuple[float, ...]]:
        """Mix one clip (no file written; before the recording chain). Returns the soundscape and
        the per-event EBR targets."""
        cfg = self.config
        sr, n = cfg.sample_rate, cfg.n_samples
        split_id = SPLIT_BY_NAME[task.split].split_id
        clip_rng = _rng(self.seed, split_id, 1, task.index, 0)
        level = 10.0 ** (clip_rng.uniform(*cfg.background_dbfs) / 20.0)
        for _ in range(5):  # a recorded background may be silent under some event: draw another
            background = self.sources.background(clip_rng, n, sr)
            if all(rms(background[a:b]) > 0.0 for _, a, b in task.events):
                break
        if self.records(task.split):  # a real recording's richer background, before the events' ratios
            background = self.chain.background(background, split_id, task.index, sr)
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
        recording = None
        if self.records(task.split):
            recording = self.chain.record(scape, SPLIT_BY_NAME[task.split].split_id, task.index, sr,
                                          self.config.fade_duration)
        root = Path(self.root)
        mixture = scape.mixture if recording is None else recording.mixture
        _write_wav(root / SPLIT_BY_NAME[task.split].audio_dir / task.filename, mixture, sr)
        distractors = () if recording is None else recording.distractors
        if self.stems:
            folder = root / "stems" / task.split / Path(task.filename).stem
            folder.mkdir(parents=True, exist_ok=True)
            _write_wav(folder / "background.wav", scape.background, sr)
            for k, event in enumerate(scape.events):
                _write_wav(folder / stem_name(k, event.label), scape.stem(k), sr)
            for k, sound in enumerate(distractors):
                full = np.zeros_like(mixture)
                full[sound.start:sound.stop] = sound.signal
                _write_wav(folder / distractor_stem_name(k, sound.label), full, sr)
        if recording is None:
            return ClipResult(task.split, task.index, ebrs, scape.normalised)
        return ClipResult(task.split, task.index, ebrs, recording.normalised,
                          tuple((d.label, d.start, d.stop, d.ebr_db) for d in distractors), recording.room)


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
    recording_chain: bool | Mapping[str, Any] | RecordingChainConfig | None = None,
    settings: Mapping[str, Any] | None = None,
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
        recording_chain: True / False switches the recording chain on or off for the real splits
            (docs/synthetic_data.md); a mapping overrides its settings (``{"rt60": [0.3, 0.6]}``);
            None keeps the preset's (on for ``proxy`` only).
        settings: any setting as plain data, nested for the chain (``jointsed synth --set``),
            applied before the arguments above.
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
    config = resolve_config(preset, settings, n_weak=n_weak, n_synthetic=n_synthetic, n_unlabelled=n_unlabelled,
                            n_validation=n_validation, n_eval=n_eval, clip_duration=clip_duration,
                            sample_rate=sample_rate, ebr_db=ebr_db, recording_chain=recording_chain)
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
    chain = None
    if config.recording_chain.enabled and any(tasks[split] for split in RECORDED_SPLITS):
        chain = RecordingChain.build(config.recording_chain, seed, config.sample_rate, workers)

    try:
        with atomic_dir(out_dir, overwrite=force) as tmp:
            for spec in SPLITS:
                (tmp / spec.audio_dir).mkdir(parents=True, exist_ok=True)
            renderer = ClipRenderer(config, seed, str(tmp), bank, stems, chain)
            results: dict[tuple[str, int], ClipResult] = {}
            with tqdm(total=len(all_tasks), unit="clip", desc="jointsed synth", disable=not progress) as bar:
                for result in _run_tasks(all_tasks, renderer, workers):
                    results[(result.split, result.index)] = result
                    bar.update(1)
            write_metadata(tmp, tasks, config)
            if stems:
                write_stem_tables(tmp, tasks, results, config.sample_rate, recorded=chain is not None)
            clips = {split: len(split_tasks) for split, split_tasks in tasks.items()}
            events = {split: sum(len(t.events) for t in split_tasks) for split, split_tasks in tasks.items()}
            normalised = sum(r.normalised for r in results.values())
            recording = None if chain is None else {
                **chain.describe(),
                "distractors": {s: sum(len(r.distractors) for k, r in results.items() if k[0] == s) for s in RECORDED_SPLITS},
                "reverberant_clips": {s: sum(r.room is not None for k, r in results.items() if k[0] == s)
                                      for s in RECORDED_SPLITS},
            }
            write_description(tmp, {
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
                "recording_chain": recording,
            }, config)
    except FileExistsError as exc:  # created by someone else meanwhile
        raise SynthError(str(exc)) from None
    return SynthReport(out_dir=out_dir, preset=preset, seed=seed, config=config, sources=bank.describe(),
                       clips=clips, events=events, peak_normalised=normalised,
                       seconds=time.perf_counter() - started, workers=workers, stems=stems, recording=recording)


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
