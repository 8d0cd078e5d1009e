"""Source banks: where the synthesis takes its event and background audio from.

:class:`SourceBank` is the interface; :class:`SyntheticSources` bundles the built-in generators
(:mod:`.generators`); :class:`RecordedSources` takes real recordings laid out like the DESED
soundbank (``foreground/<label>/*.wav``, ``background/**/*.wav``; ``jointsed synth --sources``).
:class:`SynthError` is the error of the whole synthesis package.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Protocol

import numpy as np

from jointsed.data.classes import DESED_CLASSES
from jointsed.data.synth.dsp import rms
from jointsed.data.synth.generators import FOREGROUND_GENERATORS, background
from jointsed.data.synth.errors import SynthError


class SourceBank(Protocol):
    """Where event and background audio comes from. Implementations must be picklable."""

    def event(self, label: str, rng: np.random.Generator, n_samples: int, sample_rate: int) -> np.ndarray:
        """(n_samples,) float64 sound of class ``label`` (any level)."""

    def background(self, rng: np.random.Generator, n_samples: int, sample_rate: int) -> np.ndarray:
        """(n_samples,) float64 background (any level)."""

    def describe(self) -> str:
        """One line saying what the sources are (written to the dataset's synth.json)."""


@dataclass(frozen=True)
class SyntheticSources:
    """The built-in generators of :mod:`.generators` (:data:`FOREGROUND_GENERATORS`, :func:`background`)."""

    def event(self, label: str, rng: np.random.Generator, n_samples: int, sample_rate: int) -> np.ndarray:
        try:
            generator = FOREGROUND_GENERATORS[label]
        except KeyError:
            raise SynthError(f"no sound generator for class {label!r}; known: {', '.join(DESED_CLASSES)}") from None
        out = generator(rng, n_samples, sample_rate)
        if out.shape != (n_samples,) or not np.all(np.isfinite(out)) or rms(out) == 0.0:
            raise RuntimeError(f"generator for {label} produced invalid audio ({n_samples} samples)")
        return out

    def background(self, rng: np.random.Generator, n_samples: int, sample_rate: int) -> np.ndarray:
        return background(rng, n_samples, sample_rate)

    def describe(self) -> str:
        return "builtin generators (jointsed.data.synth.sources)"


def _audio_files(folder: Path, recursive: bool) -> list[Path]:
    from jointsed.data.audio_files import AUDIO_EXTENSIONS

    pattern = "**/*" if recursive else "*"
    return sorted(p for p in folder.glob(pattern) if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)


@functools.lru_cache(maxsize=64)
def _load_cached(path: str, sample_rate: int) -> np.ndarray:
    from jointsed.audio import load_audio

    return load_audio(path, sample_rate).astype(np.float64)


def _segment(rng: np.random.Generator, audio: np.ndarray, n: int) -> np.ndarray:
    """A random n-sample stretch of ``audio``, looped when the recording is shorter."""
    if audio.size >= n:
        start = int(rng.integers(0, audio.size - n + 1))
        return audio[start:start + n].copy()
    reps = -(-n // audio.size)
    return np.tile(audio, reps)[:n]


@dataclass(frozen=True)
class RecordedSources:
    """Real recordings in the DESED soundbank layout.

    ``root/foreground/<label>/*.wav`` (one folder per DESED class, any audio format libsndfile
    reads) and ``root/background/**/*.wav``. Each event takes a random stretch of a random file of
    its class (looped if the file is shorter than the event), each clip a random background stretch.
    Files are read with :func:`jointsed.audio.load_audio` (mono, resampled).
    """

    root: Path
    foreground: Mapping[str, tuple[str, ...]]
    backgrounds: tuple[str, ...]

    @classmethod
    def from_folder(cls, root: str | os.PathLike, labels: tuple[str, ...] = DESED_CLASSES) -> "RecordedSources":
        """Index ``root``; raises :class:`SynthError` naming any missing folder or empty class."""
        root = Path(root)
        if not root.is_dir():
            raise SynthError(f"sources folder {root} does not exist")
        fg_root, bg_root = root / "foreground", root / "background"
        for folder in (fg_root, bg_root):
            if not folder.is_dir():
                raise SynthError(f"sources folder {root} has no {folder.name}/ subfolder "
                                 "(expected the DESED soundbank layout: foreground/<label>/*.wav, background/**/*.wav)")
        foreground = {}
        missing = []
        for label in labels:
            files = _audio_files(fg_root / label, recursive=False) if (fg_root / label).is_dir() else []
            if not files:
                missing.append(str(fg_root / label))
            foreground[label] = tuple(str(p) for p in files)
        if missing:
            raise SynthError("no audio files for these classes: " + ", ".join(missing))
        backgrounds = tuple(str(p) for p in _audio_files(bg_root, recursive=True))
        if not backgrounds:
            raise SynthError(f"no audio files under {bg_root}")
        return cls(root=root, foreground=foreground, backgrounds=backgrounds)

    def _draw(self, files: tuple[str, ...], rng: np.random.Generator, n: int, sample_rate: int) -> np.ndarray:
        for _ in range(8):  # skip silent stretches (EBR needs energy)
            path = files[int(rng.integers(len(files)))]
            out = _segment(rng, _load_cached(path, sample_rate), n)
            if rms(out) > 1e-6:
                return out
        raise SynthError(f"recordings in {Path(path).parent} are silent (e.g. {path})")

    def event(self, label: str, rng: np.random.Generator, n_samples: int, sample_rate: int) -> np.ndarray:
        if label not in self.foreground:
            raise SynthError(f"no recordings for class {label!r} in {self.root / 'foreground'}")
        return self._draw(self.foreground[label], rng, n_samples, sample_rate)

    def background(self, rng: np.random.Generator, n_samples: int, sample_rate: int) -> np.ndarray:
        return self._draw(self.backgrounds, rng, n_samples, sample_rate)

    def describe(self) -> str:
        return f"recordings from {self.root}"
