"""On-disk cache of log-mel features, one ``.npy`` file per clip, built in parallel.

Layout::

    <cache_dir>/<config_hash>/config.json     the FeatureConfig the folder was built with
    <cache_dir>/<config_hash>/<key>.npy        (n_frames, n_mels) float16, one per audio file

``config_hash`` is :meth:`FeatureConfig.config_hash` (changes with any setting that changes the
features, and with ``FRONTEND_VERSION``). ``key`` hashes the audio file's identity: its resolved
path, size and modification time in ns, so an edited or replaced file is recomputed (like
``make``: a file rewritten with identical size *and* mtime is not detected).

Storage is float16 (measured with ``benchmarks/feature_cache.py``): the features are natural-log
energies in about [-18.4, 20], where float16's rounding error is at most 0.004 (0.008 above 16),
far below the variation between frames; an entry is 64 KB instead of 128 KB per 10-s clip
(1.1 GB instead of 2.2 GB for the 17k DESED training clips), so a cold read from disk moves half
the bytes. From the page cache a float16 entry loads a little slower (~0.11 vs ~0.07 ms: the
conversion), negligible next to the ~6 ms it takes to compute one. :meth:`FeatureCache.get` returns the stored
values as float32 whether the entry was just computed or read back, so both give the same array.
Entries are written atomically (temporary file + rename) by the process that computes them, and
an entry of the wrong size (e.g. truncated by a crash of the file system) counts as missing.

Building runs in worker processes (``fork`` where available: workers inherit the imported torch,
no ~1-2 s re-import) with one torch thread each, or in this process for ``workers=1``, also with
one torch thread: more threads spin between the short STFTs and slow the decoding down ~3x. Per
10-s 44.1 kHz stereo clip the work is ~1.4 ms decoding, ~0.4 ms mixing, ~1.5 ms soxr, ~3 ms STFT
and mel, ~0.6 ms writing. ``benchmarks/feature_cache.py`` measured 200 such clips built in
0.75 s with 2 workers on a 2-core machine (~2700x real time; 1 worker: ~1600x).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import multiprocessing
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Literal, Sequence

import numpy as np
from tqdm.auto import tqdm

from jointsed.audio.features import FeatureConfig, waveform_to_logmel
from jointsed.audio.io import AudioError, audio_info, fix_length, load_audio
from jointsed.config import to_dict
from jointsed.errors import JointsedError
from jointsed.utils.atomic import atomic_path, atomic_write_json, remove_stale_temporaries
from jointsed.utils.workers import exit_with_parent

#: dtype of the stored feature files (see the module docstring for why float16).
STORAGE_DTYPE = np.float16


class CacheError(JointsedError):
    """The cache folder cannot be created or written."""


@dataclass
class CacheReport:
    """What :meth:`FeatureCache.build` did.

    ``built``: files computed now; ``reused``: files already cached and unchanged; ``failed``:
    (file, reason) for files that could not be used; ``cropped``: built files longer than the
    clip (only their first ``clip_duration`` seconds are cached); ``seconds``: wall time of the
    build; ``audio_seconds``: length of the ``built`` audio files.
    """

    built: list[Path] = field(default_factory=list)
    reused: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    cropped: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    audio_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no file failed."""
        return not self.failed

    @property
    def realtime_factor(self) -> float:
        """Seconds of audio processed per wall-clock second (0 when nothing was built)."""
        return self.audio_seconds / self.seconds if self.built and self.seconds > 0 else 0.0

    def summary(self) -> str:
        """One line: counts, wall time and speed."""
        text = (
            f"built {len(self.built)}, reused {len(self.reused)}, failed {len(self.failed)} "
            f"in {self.seconds:.2f} s"
        )
        if self.built:
            text += f" ({self.audio_seconds:.0f} s of audio, {self.realtime_factor:.0f}x real time)"
        if self.cropped:
            text += f"; {len(self.cropped)} file(s) longer than the clip, cropped"
        return text

    def failure_lines(self) -> list[str]:
        """``"<file>: <reason>"`` for each failed file."""
        return [f"{path}: {reason}" for path, reason in self.failed]


# ----- work done for one file (in a worker process or in-process) ---------------------------------
_WORKER_CONFIG: FeatureConfig | None = None


def _init_worker(config_dict: dict, parent_pid: int | None = None) -> None:
    """Process-pool initializer: one torch thread per worker (the pool is the parallelism); the
    worker ends when its parent dies (``kill -9`` would otherwise leave it blocked forever)."""
    global _WORKER_CONFIG
    import torch

    if parent_pid is not None:
        exit_with_parent(parent_pid)

    torch.set_num_threads(1)
    _WORKER_CONFIG = FeatureConfig(**config_dict)


def _init_worker_inline(config: FeatureConfig) -> None:
    """In-process equivalent of :func:`_init_worker` (the caller sets the torch threads)."""
    global _WORKER_CONFIG
    _WORKER_CONFIG = config


#: decoded past the clip's end so that resampling treats the kept end like the middle of a file
_READ_MARGIN_SECONDS = 0.05


def _compute_entry(audio_path: str, entry_path: str, config: FeatureConfig) -> float:
    """Compute one clip's features and write them atomically; return the file's length (s).

    Only the first ``clip_duration`` seconds are decoded: a 1-hour file given to the cache
    used to be decoded whole and then cropped (the build reports such files as cropped)."""
    seconds = audio_info(audio_path).duration
    wav = load_audio(audio_path, config.sample_rate, duration=config.clip_duration + _READ_MARGIN_SECONDS)
    feats = waveform_to_logmel(fix_length(wav, config.clip_samples), config).astype(STORAGE_DTYPE)
    with atomic_path(entry_path) as tmp, open(tmp, "wb") as fh:
        # np.save on a file object: given a path it would append ".npy" to our temporary name.
        np.save(fh, feats, allow_pickle=False)
    return seconds


def _worker_task(batch: list[tuple[int, str, str]]) -> list[tuple[int, float, str | None]]:
    """Process a batch of (index, audio path, entry path) -> (index, audio seconds, error or None).

    Only :class:`AudioError` (a problem with the file) becomes a reported failure; anything else
    (a bug, a full disk) propagates and stops the build.
    """
    assert _WORKER_CONFIG is not None
    out = []
    for index, audio_path, entry_path in batch:
        try:
            out.append((index, _compute_entry(audio_path, entry_path, _WORKER_CONFIG), None))
        except AudioError as exc:
            out.append((index, 0.0, exc.problem))
    return out


def _pool_context() -> multiprocessing.context.BaseContext:
    # fork shares the already imported torch/numpy (a worker is ready in ~10 ms); spawn would
    # re-import torch in every worker (~1-2 s). Workers only use the CPU, so fork is safe even if
    # the parent process has initialised CUDA.
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


# ----- the cache ----------------------------------------------------------------------------------
class FeatureCache:
    """Log-mel features of audio files, computed once and stored under ``cache_dir``.

    Args:
        cache_dir: root folder of the cache (created on first write); several front-end configs
            can share it, each gets its own sub-folder.
        config: front-end settings (default :class:`FeatureConfig`).

    Example::

        cache = FeatureCache("cache/features", FeatureConfig())
        report = cache.build(list_of_wavs, workers=2)      # parallel, skips unreadable files
        x = cache.get("clip.wav")                          # (500, 64) float32
    """

    def __init__(self, cache_dir: str | os.PathLike, config: FeatureConfig | None = None) -> None:
        self.config = config or FeatureConfig()
        self.config.validate()
        self.cache_dir = Path(cache_dir)
        self.folder = self.cache_dir / self.config.config_hash()
        self.shape = (self.config.n_frames(), self.config.n_mels)
        buf = io.BytesIO()
        np.save(buf, np.zeros(self.shape, STORAGE_DTYPE), allow_pickle=False)
        self._entry_size = buf.tell()  # a complete entry has exactly this many bytes

    def __repr__(self) -> str:
        return f"FeatureCache({str(self.cache_dir)!r}, config_hash={self.config.config_hash()!r})"

    # ----- keys -------------------------------------------------------------------------------
    def entry_path(self, path: str | os.PathLike) -> Path:
        """Where the features of audio file ``path`` (in its current version) are stored.

        Raises:
            AudioError: if ``path`` does not exist or is not a file.
        """
        resolved = Path(path).resolve()
        try:
            st = resolved.stat()
        except OSError:
            raise AudioError(path, "file not found") from None
        if not resolved.is_file():
            raise AudioError(path, "is not a file")
        identity = f"{resolved}\n{st.st_size}\n{st.st_mtime_ns}"
        key = hashlib.sha256(identity.encode("utf-8", "surrogateescape")).hexdigest()[:32]
        return self.folder / f"{key}.npy"

    def _entry_complete(self, entry: Path) -> bool:
        try:
            return entry.stat().st_size == self._entry_size
        except OSError:
            return False

    def has(self, path: str | os.PathLike) -> bool:
        """True if up-to-date features of ``path`` are cached (no computation)."""
        return self._entry_complete(self.entry_path(path))

    def _read(self, entry: Path, dtype: type[np.floating] = np.float32) -> np.ndarray | None:
        try:
            arr = np.load(entry, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None
        if arr.shape != self.shape:
            return None
        if not np.isfinite(arr).all():
            # log-mels of usable audio are finite (audio with NaN samples is refused before): a
            # damaged entry, not the audio's fault; it is computed again (and the audio checked)
            print(f"warning: {entry}: a feature cache entry holding NaN or infinite values (damaged); "
                  "computing it again", file=sys.stderr)
            with contextlib.suppress(OSError):
                entry.unlink()
            return None
        return arr.astype(dtype, copy=False)

    def _prepare_folder(self) -> None:
        """Create the folder and its config.json, with a clear error if that is not possible."""
        marker = self.folder / "config.json"
        if marker.is_file():
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write_json(marker, {"config_hash": self.config.config_hash(), "config": to_dict(self.config)})
        except OSError as exc:
            raise CacheError(f"{self.folder}: cannot write the feature cache ({exc.strerror or exc})") from None

    # ----- single clip ------------------------------------------------------------------------
    def get(self, path: str | os.PathLike) -> np.ndarray:
        """Features of ``path`` as ``(n_frames, n_mels)`` float32; computed and stored if missing.

        Raises:
            AudioError: naming the file when it is missing or not usable audio.
        """
        entry = self.entry_path(path)
        if self._entry_complete(entry):
            arr = self._read(entry)
            if arr is not None:
                return arr
        self._prepare_folder()
        _compute_entry(str(path), str(entry), self.config)
        arr = self._read(entry)
        if arr is None:  # pragma: no cover - we just wrote it
            raise RuntimeError(f"feature cache entry {entry} could not be read back")
        return arr

    # ----- many clips -------------------------------------------------------------------------
    def build(
        self,
        paths: Iterable[str | os.PathLike],
        workers: int | None = None,
        on_error: Literal["skip", "fail"] = "skip",
        progress: bool = True,
    ) -> CacheReport:
        """Compute and store the features of every file in ``paths`` not cached yet.

        Args:
            paths: audio files (duplicates are processed once).
            workers: worker processes (default: the CPU count; 0 or 1: in this process).
            on_error: ``"skip"``: unusable files are listed in the report and printed to stderr;
                ``"fail"``: the first one raises :class:`AudioError` (entries already written stay
                valid).
            progress: show a tqdm progress bar.
        Returns:
            :class:`CacheReport` (built / reused / failed, timings).
        """
        if on_error not in ("skip", "fail"):
            raise ValueError(f"on_error must be 'skip' or 'fail', got {on_error!r}")
        start = time.perf_counter()
        report = CacheReport()
        todo: list[tuple[Path, Path]] = []
        seen: set[Path] = set()
        for raw in paths:
            path = Path(raw)
            resolved = path.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            try:
                entry = self.entry_path(path)
            except AudioError as exc:
                if on_error == "fail":
                    raise
                report.failed.append((path, exc.problem))
                continue
            if self._entry_complete(entry):
                report.reused.append(path)
            else:
                todo.append((path, entry))

        if todo:
            self._prepare_folder()
            remove_stale_temporaries(self.folder)  # half-written entries of a killed earlier run
            n_workers = (os.cpu_count() or 1) if workers is None else max(0, int(workers))
            n_workers = min(n_workers, len(todo))
            tasks = [(i, str(p), str(e)) for i, (p, e) in enumerate(todo)]
            results: dict[int, tuple[float, str | None]] = {}
            with tqdm(total=len(todo), desc="log-mel features", unit="clip", disable=not progress) as bar:
                for index, seconds, error in self._run(tasks, n_workers, on_error, bar):
                    results[index] = (seconds, error)
            for i, (path, _) in enumerate(todo):
                seconds, error = results[i]
                if error is None:
                    report.built.append(path)
                    report.audio_seconds += seconds
                    if seconds > self.config.clip_duration + 1.0 / self.config.sample_rate:
                        report.cropped.append(path)
                else:
                    report.failed.append((path, error))
        report.seconds = time.perf_counter() - start
        if report.failed:
            lines = "\n".join(f"  {line}" for line in report.failure_lines())
            print(f"skipped {len(report.failed)} unusable audio file(s):\n{lines}", file=sys.stderr)
        if report.cropped:  # a warning: the cache holds fixed-length clips by design
            shown = ", ".join(str(p) for p in report.cropped[:3]) + (", ..." if len(report.cropped) > 3 else "")
            print(f"warning: {len(report.cropped)} file(s) longer than the clip ({self.config.clip_duration:g} s): "
                  f"only their first {self.config.clip_duration:g} s are cached ({shown}); "
                  "use `jointsed predict` for long recordings", file=sys.stderr)
        return report

    def _run(self, tasks, n_workers: int, on_error: str, bar):
        """Yield (index, seconds, error) for every task, in completion order."""

        def check(results):
            for index, seconds, error in results:
                if error is not None and on_error == "fail":
                    raise AudioError(tasks[index][1], error)
                yield index, seconds, error

        if n_workers <= 1:
            import torch

            # One torch thread: with more, idle OpenMP threads spin between the short STFTs and
            # slow the decoding/writing in between ~3x (measured: 24 vs 7 ms per clip on 2 cores).
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            _init_worker_inline(self.config)
            try:
                for task in tasks:
                    yield from check(_worker_task([task]))
                    bar.update(1)
            finally:
                torch.set_num_threads(threads)
            return
        # Small batches: amortise inter-process messages but keep the load balanced.
        batch = max(1, min(8, len(tasks) // (n_workers * 8)))
        batches = [tasks[i : i + batch] for i in range(0, len(tasks), batch)]
        executor = ProcessPoolExecutor(
            max_workers=n_workers, mp_context=_pool_context(), initializer=_init_worker,
            initargs=(to_dict(self.config), os.getpid()),
        )
        try:
            pending: set[Future] = {executor.submit(_worker_task, b) for b in batches}
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    results = fut.result()
                    yield from check(results)
                    bar.update(len(results))
        finally:
            executor.shutdown(wait=True, cancel_futures=True)

    def load_stack(
        self,
        paths: Sequence[str | os.PathLike],
        workers: int | None = None,
        progress: bool = False,
        dtype: type[np.floating] = np.float32,
    ) -> np.ndarray:
        """Features of all ``paths`` in one array (for datasets kept in memory).

        Missing entries are built first (``on_error="fail"``: a dataset cannot skip a clip silently).

        Args:
            dtype: ``np.float32`` (default) or ``np.float16`` to halve the memory (the stored values
                are float16 already, so nothing is lost; convert batches with ``.float()``).
        Returns:
            (len(paths), n_frames, n_mels) array of ``dtype``, in the order of ``paths``.
        """
        paths = list(paths)
        self.build(paths, workers=workers, on_error="fail", progress=progress)
        out = np.empty((len(paths), *self.shape), dtype=dtype)
        for i, path in enumerate(tqdm(paths, desc="loading features", unit="clip", disable=not progress)):
            arr = self._read(self.entry_path(path), dtype)
            out[i] = arr if arr is not None else self.get(path)
        return out

