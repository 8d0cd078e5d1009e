"""Synthetic DESED-like datasets: ``jointsed synth`` (offline, no DESED audio needed).

* :mod:`.generators` - class-like sound generators for the 10 DESED classes and backgrounds (their
  building blocks in :mod:`.dsp`);
* :mod:`.sources` - source banks: the generators, or real recordings in the DESED soundbank layout;
* :mod:`.mixer` - places events on a background at a target event-to-background ratio;
* :mod:`.layouts` - event layouts from the real DESED metadata (package data);
* :mod:`.presets` - dataset sizes (tiny, demo, proxy);
* :mod:`.generate` - writes the dataset (:func:`synthesize_dataset`).
"""

import importlib
from typing import Any

#: public name -> module (loaded on first use: ``jointsed --help`` needs only the presets, not the
#: generators and their scipy imports)
_NAMES = {
    "SPLITS": "generate", "SynthReport": "generate", "synthesize_dataset": "generate",
    "PlacedEvent": "mixer", "Soundscape": "mixer", "event_to_background_ratio_db": "mixer",
    "mix_soundscape": "mixer", "raised_cosine_fades": "mixer",
    "PRESETS": "presets", "SynthConfig": "presets", "resolve_config": "presets",
    "FOREGROUND_GENERATORS": "generators", "background": "generators",
    "RecordedSources": "sources", "SyntheticSources": "sources", "SynthError": "errors",
}


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        return getattr(importlib.import_module(f"jointsed.data.synth.{_NAMES[name]}"), name)
    raise AttributeError(f"module 'jointsed.data.synth' has no attribute {name!r}")


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
