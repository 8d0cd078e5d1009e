"""Event layouts (which classes sound when) drawn from the real DESED metadata.

The real tables ship with jointsed as package data (``jointsed/resources``, MIT licensed, see
``resources/ATTRIBUTION.md``):

* validation: the real validation layout, clip for clip (same onsets, offsets, labels and
  the 15 clips without events; the real file names are kept);
* public_eval: the real DESED public-evaluation layout (692 clips), clip for clip, for a
  held-out test set whose layouts are NOT the validation layouts (post-processing tuned on the
  validation split cannot fit them);
* synthetic (strong): layouts of the DCASE 2019 synthetic training clips (``synthetic2019.tsv``);
* weak: the label set of a real weak clip, with events placed by :func:`sample_event_layout` from
  per-class statistics of the synthetic strong labels (events per clip, event durations);
* unlabelled: drawn like weak clips; the labels are not written.

Layouts are expressed for 10 s clips; for another clip duration every time is scaled by
``clip_duration / 10``. Times are rounded to the millisecond and events are clipped to the clip
(a few real validation offsets run past 10 s).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Sequence

import numpy as np

from jointsed.data.annotations import read_strong_tsv, read_weak_tsv
from jointsed.data.classes import DESED_CLASSES
from jointsed.data.synth.errors import SynthError

REFERENCE_CLIP_DURATION = 10.0  # s, the duration of the DESED clips the layouts come from
MIN_EVENT_DURATION = 0.02  # s, shorter events (after scaling/clipping) are dropped


@dataclass(frozen=True)
class LayoutEvent:
    """One event of a layout: ``label`` from ``onset`` to ``offset`` seconds."""

    label: str
    onset: float
    offset: float


@dataclass(frozen=True)
class ClipLayout:
    """What one clip contains: its file name and events (possibly none)."""

    filename: str
    events: tuple[LayoutEvent, ...]

    @property
    def labels(self) -> tuple[str, ...]:
        """Classes present, in DESED order (the clip's weak label)."""
        present = {e.label for e in self.events}
        return tuple(c for c in DESED_CLASSES if c in present)


@dataclass(frozen=True)
class ClassStatistics:
    """Per-class statistics of strong labels, for placing events of weak/unlabelled clips.

    Attributes:
        durations: label -> (k,) event durations in seconds (empirical distribution).
        counts: label -> (m,) number of events of that class per clip, over clips containing it.
    """

    durations: dict[str, np.ndarray]
    counts: dict[str, np.ndarray]


def _resource(name: str):
    return resources.files("jointsed") / "resources" / name


@functools.lru_cache(maxsize=None)
def _bundled_layouts(table_name: str) -> tuple[ClipLayout, ...]:
    """The clips of a bundled strong-label table (file order), with their events."""
    with resources.as_file(_resource(table_name)) as path:
        table = read_strong_tsv(path)
    return tuple(
        ClipLayout(name, tuple(LayoutEvent(e.event_label, e.onset, e.offset) for e in events))
        for name, events in table.by_file().items()
    )


def real_validation_layouts() -> tuple[ClipLayout, ...]:
    """The 1,168 clips of DESED's validation set (file order), with their events."""
    return _bundled_layouts("validation.tsv")


def real_public_eval_layouts() -> tuple[ClipLayout, ...]:
    """The 692 clips of DESED's public evaluation set (file order), with their events."""
    return _bundled_layouts("public_eval.tsv")


def real_synthetic_layouts() -> tuple[ClipLayout, ...]:
    """The 2,045 DCASE 2019 synthetic training clips (file order), with their events."""
    return _bundled_layouts("synthetic2019.tsv")


@functools.lru_cache(maxsize=None)
def real_weak_label_sets() -> tuple[tuple[str, ...], ...]:
    """The label sets of DESED's 1,578 weakly labelled training clips (file order)."""
    with resources.as_file(_resource("weak.tsv")) as path:
        table = read_weak_tsv(path)
    return tuple(table.labels.values())


@functools.lru_cache(maxsize=None)
def class_statistics() -> ClassStatistics:
    """Event durations and events-per-clip of each class in the synthetic strong labels."""
    durations: dict[str, list[float]] = {c: [] for c in DESED_CLASSES}
    counts: dict[str, list[int]] = {c: [] for c in DESED_CLASSES}
    for clip in real_synthetic_layouts():
        per_class: dict[str, int] = {}
        for e in clip.events:
            durations[e.label].append(e.offset - e.onset)
            per_class[e.label] = per_class.get(e.label, 0) + 1
        for label, count in per_class.items():
            counts[label].append(count)
    return ClassStatistics(
        durations={c: np.asarray(v) for c, v in durations.items()},
        counts={c: np.asarray(v) for c, v in counts.items()},
    )


def sample_event_layout(rng: np.random.Generator, labels: Sequence[str], stats: ClassStatistics,
                        clip_duration: float = REFERENCE_CLIP_DURATION) -> tuple[LayoutEvent, ...]:
    """Place events of ``labels`` in a clip: counts and durations resampled from ``stats``.

    Every label gets at least one event; events of one class do not overlap (a later draw that
    would overlap is dropped); onsets are uniform over the clip. Times are for ``clip_duration``.
    """
    scale = clip_duration / REFERENCE_CLIP_DURATION
    events: list[LayoutEvent] = []
    for label in labels:
        n_events = int(rng.choice(stats.counts[label]))
        spans: list[tuple[float, float]] = []
        for attempt in range(4 * n_events):
            if len(spans) == n_events:
                break
            duration = min(float(rng.choice(stats.durations[label])) * scale, clip_duration)
            onset = float(rng.uniform(0.0, clip_duration - duration))
            if all(onset >= b or onset + duration <= a for a, b in spans):
                spans.append((onset, onset + duration))
        events += [LayoutEvent(label, a, b) for a, b in sorted(spans)]
    return tuple(sorted(events, key=lambda e: (e.onset, e.label)))


def fit_to_clip(events: Sequence[LayoutEvent], clip_duration: float) -> tuple[LayoutEvent, ...]:
    """Scale 10 s layout times to ``clip_duration``, clip to the clip, round to ms, drop tiny events."""
    scale = clip_duration / REFERENCE_CLIP_DURATION
    fitted = []
    for e in events:
        onset = round(min(max(e.onset * scale, 0.0), clip_duration), 3)
        offset = round(min(max(e.offset * scale, 0.0), clip_duration), 3)
        if offset - onset >= MIN_EVENT_DURATION:
            fitted.append(LayoutEvent(e.label, onset, offset))
    return tuple(fitted)


def _pick(rng: np.random.Generator, pool_size: int, n: int) -> np.ndarray:
    """n indices into a pool: without replacement (a fresh permutation per pass over the pool)."""
    passes = -(-n // pool_size) if n else 0
    return np.concatenate([rng.permutation(pool_size) for _ in range(passes)])[:n] if n else np.zeros(0, int)


def validation_layouts(n: int, rng: np.random.Generator, clip_duration: float,
                       real: Sequence[ClipLayout] | None = None, what: str = "n_validation") -> list[ClipLayout]:
    """``n`` clips of the real validation layout (all 1,168 in file order when n = 1,168; else a
    random subset kept in file order), or of the layouts ``real`` (e.g. the public evaluation
    set). Real file names are kept."""
    real = real_validation_layouts() if real is None else real
    if n > len(real):
        raise SynthError(f"{what}={n}: the real layout has only {len(real)} clips")
    chosen = range(len(real)) if n == len(real) else sorted(rng.choice(len(real), n, replace=False).tolist())
    return [ClipLayout(real[i].filename, fit_to_clip(real[i].events, clip_duration)) for i in chosen]


def synthetic_layouts(n: int, rng: np.random.Generator, clip_duration: float,
                      prefix: str = "synthetic") -> list[ClipLayout]:
    """``n`` strongly labelled clips taking the layouts of random DCASE 2019 synthetic clips
    (each layout used once before any is reused). Files are named ``{prefix}_{index:05d}.wav``."""
    real = real_synthetic_layouts()
    return [ClipLayout(f"{prefix}_{i:05d}.wav", fit_to_clip(real[j].events, clip_duration))
            for i, j in enumerate(_pick(rng, len(real), n))]


def weak_layouts(n: int, rng: np.random.Generator, clip_duration: float, prefix: str = "weak") -> list[ClipLayout]:
    """``n`` clips with real weak label sets and events placed by :func:`sample_event_layout`."""
    label_sets = real_weak_label_sets()
    stats = class_statistics()
    layouts = []
    for i, j in enumerate(_pick(rng, len(label_sets), n)):
        events = sample_event_layout(rng, label_sets[j], stats, REFERENCE_CLIP_DURATION)
        layouts.append(ClipLayout(f"{prefix}_{i:05d}.wav", fit_to_clip(events, clip_duration)))
    return layouts
