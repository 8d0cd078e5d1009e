"""Synthetic DESED-like datasets: ``jointsed synth`` (offline, no DESED audio needed).

* :mod:`.generators` - class-like sound generators for the 10 DESED classes and backgrounds (their
  building blocks in :mod:`.dsp`);
* :mod:`.sources` - source banks: the generators, or real recordings in the DESED soundbank layout;
* :mod:`.mixer` - places events on a background at a target event-to-background ratio;
* :mod:`.layouts` - event layouts from the real DESED metadata (package data);
* :mod:`.presets` - dataset sizes (tiny, demo, proxy);
* :mod:`.generate` - writes the dataset (:func:`synthesize_dataset`).
"""

from jointsed.data.synth.generate import SPLITS, SynthReport, synthesize_dataset
from jointsed.data.synth.mixer import (
    PlacedEvent,
    Soundscape,
    event_to_background_ratio_db,
    mix_soundscape,
    raised_cosine_fades,
)
from jointsed.data.synth.presets import PRESETS, SynthConfig, resolve_config
from jointsed.data.synth.generators import FOREGROUND_GENERATORS, background
from jointsed.data.synth.sources import RecordedSources, SynthError, SyntheticSources

__all__ = [
    "FOREGROUND_GENERATORS",
    "PRESETS",
    "PlacedEvent",
    "RecordedSources",
    "SPLITS",
    "Soundscape",
    "SynthConfig",
    "SynthError",
    "SynthReport",
    "SyntheticSources",
    "background",
    "event_to_background_ratio_db",
    "mix_soundscape",
    "raised_cosine_fades",
    "resolve_config",
    "synthesize_dataset",
]
