"""Shared test fixtures.

``tiny_dataset``: a DESED-layout dataset made once per test session. It uses ``jointsed synth
--preset tiny`` when that command is available, else a numpy fallback (noise + class tones).
``learnable_dataset``: a slightly larger set (numpy tones, one frequency band per class) on which
a few CPU epochs clearly learn; used by the training tests.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from jointsed.data.classes import DESED_CLASSES

SAMPLE_RATE = 16000
CLIP_SECONDS = 10.0


def _tone_class_frequencies() -> dict[str, float]:
    freqs = np.geomspace(300.0, 6000.0, len(DESED_CLASSES))
    return {c: float(f) for c, f in zip(DESED_CLASSES, freqs)}


def _render(events: list[tuple[str, float, float]], rng: np.random.Generator, seconds: float) -> np.ndarray:
    n = int(SAMPLE_RATE * seconds)
    t = np.arange(n) / SAMPLE_RATE
    wav = 0.01 * rng.standard_normal(n)
    freqs = _tone_class_frequencies()
    for label, onset, offset in events:
        a, b = int(onset * SAMPLE_RATE), int(offset * SAMPLE_RATE)
        f = freqs[label] * (1 + 0.02 * rng.standard_normal())
        wav[a:b] += 0.2 * np.sin(2 * np.pi * f * t[a:b])
    return wav.astype(np.float32)


def _random_events(rng: np.random.Generator, classes: list[str], seconds: float,
                   max_events: int = 3) -> list[tuple[str, float, float]]:
    events = []
    for _ in range(int(rng.integers(1, max_events + 1))):
        label = classes[int(rng.integers(len(classes)))]
        length = float(rng.uniform(0.1, 0.9)) * seconds
        onset = float(rng.uniform(0.0, seconds - length))
        events.append((label, round(onset, 3), round(onset + length, 3)))
    return events


def make_numpy_dataset(root: Path, n_weak: int, n_synthetic: int, n_unlabelled: int, n_validation: int,
                       seed: int = 0, classes: list[str] | None = None, clip_seconds: float = CLIP_SECONDS) -> Path:
    """Write a DESED-layout dataset of tone events in noise (see the module docstring)."""
    rng = np.random.default_rng(seed)
    classes = list(classes or DESED_CLASSES)
    for sub in ("audio/train/weak", "audio/train/synthetic", "audio/train/unlabel_in_domain",
                "audio/validation", "metadata/train", "metadata/validation"):
        (root / sub).mkdir(parents=True, exist_ok=True)

    weak_lines = ["filename\tevent_labels"]
    for i in range(n_weak):
        events = _random_events(rng, classes, clip_seconds)
        name = f"weak_{i:04d}.wav"
        sf.write(root / "audio/train/weak" / name, _render(events, rng, clip_seconds), SAMPLE_RATE)
        labels = [c for c in DESED_CLASSES if c in {e[0] for e in events}]
        weak_lines.append(f"{name}\t{','.join(labels)}")
    (root / "metadata/train/weak.tsv").write_text("\n".join(weak_lines) + "\n")

    def strong_set(n: int, folder: str, prefix: str, empty_every: int = 0) -> list[str]:
        lines = ["filename\tonset\toffset\tevent_label"]
        for i in range(n):
            events = [] if empty_every and i % empty_every == 0 else _random_events(rng, classes, clip_seconds)
            name = f"{prefix}_{i:04d}.wav"
            sf.write(root / folder / name, _render(events, rng, clip_seconds), SAMPLE_RATE)
            if not events:
                lines.append(f"{name}\t\t\t")
            for label, on, off in events:
                lines.append(f"{name}\t{on}\t{off}\t{label}")
        return lines

    syn = strong_set(n_synthetic, "audio/train/synthetic", "syn")
    (root / "metadata/train/synthetic.tsv").write_text("\n".join(syn) + "\n")
    val = strong_set(n_validation, "audio/validation", "val", empty_every=7)
    (root / "metadata/validation/validation.tsv").write_text("\n".join(val) + "\n")
    durations = ["filename\tduration"] + [f"val_{i:04d}.wav\t{clip_seconds}" for i in range(n_validation)]
    (root / "metadata/validation/validation_durations.tsv").write_text("\n".join(durations) + "\n")

    unl = ["filename"]
    for i in range(n_unlabelled):
        name = f"unl_{i:04d}.wav"
        sf.write(root / "audio/train/unlabel_in_domain" / name, _render(_random_events(rng, classes, clip_seconds), rng, clip_seconds), SAMPLE_RATE)
        unl.append(name)
    (root / "metadata/train/unlabel_in_domain.tsv").write_text("\n".join(unl) + "\n")
    return root


def _synth_available() -> bool:
    try:
        from jointsed.cli import COMMANDS
    except Exception:  # pragma: no cover
        return False
    return "synth" in COMMANDS


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """A tiny DESED-layout dataset (``jointsed synth --preset tiny``, or the numpy fallback)."""
    root = tmp_path_factory.mktemp("tiny_dataset") / "data"
    if _synth_available():
        subprocess.run([sys.executable, "-m", "jointsed", "synth", "--preset", "tiny", "--out", str(root)],
                       check=True, capture_output=True)
        return root
    return make_numpy_dataset(root, 6, 6, 6, 6, seed=0)


#: classes of :func:`learnable_dataset` (recipes trained on it set ``data.classes`` to these)
LEARNABLE_CLASSES = list(DESED_CLASSES[:4])
LEARNABLE_CLIP_SECONDS = 5.0


@pytest.fixture(scope="session")
def learnable_dataset(tmp_path_factory) -> Path:
    """5-s clips of tone events (one frequency per class) of 4 classes in noise: 32 weak,
    32 synthetic, 16 unlabelled, 24 validation clips."""
    root = tmp_path_factory.mktemp("learnable_dataset") / "data"
    return make_numpy_dataset(root, 32, 32, 16, 24, seed=1, classes=LEARNABLE_CLASSES,
                              clip_seconds=LEARNABLE_CLIP_SECONDS)
