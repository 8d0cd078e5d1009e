"""Synthetic DESED-like datasets: ``jointsed synth`` (offline, no DESED audio needed).

* :mod:`.generators` - class-like sound generators for the 10 DESED classes and backgrounds (their
  building blocks in :mod:`.dsp`);
* :mod:`.sources` - source banks: the generators, or real recordings in the DESED soundbank layout;
* :mod:`.mixer` - places events on a background at a target event-to-background ratio;
* :mod:`.layouts` - event layouts from the real DESED metadata (package data);
* :mod:`.presets` - dataset sizes (tiny, demo, proxy);
* :mod:`.generate` - writes the dataset (:func:`synthesize_dataset`), :mod:`.dataset_files` its
  tables and description;
* the recording chain of the splits that stand for real recordings (docs/synthetic_data.md):
  :mod:`.chain_config` (its settings), :mod:`.recording_chain` (the chain), :mod:`.rooms`
  (simulated room impulse responses), :mod:`.device` (microphone and device),
  :mod:`.distractors` (unlabelled sounds of no target class), :mod:`.ambience` (richer backgrounds).
"""

from jointsed.utils.lazy import lazy_attributes

#: public name -> module (loaded on first use: ``jointsed --help`` needs only the presets, not the
#: generators and their scipy imports)
_NAMES = {
    "SPLITS": "jointsed.data.synth.generate",
    "SynthReport": "jointsed.data.synth.generate",
    "synthesize_dataset": "jointsed.data.synth.generate",
    "PlacedEvent": "jointsed.data.synth.mixer",
    "Soundscape": "jointsed.data.synth.mixer",
    "event_to_background_ratio_db": "jointsed.data.synth.mixer",
    "mix_soundscape": "jointsed.data.synth.mixer",
    "raised_cosine_fades": "jointsed.data.synth.mixer",
    "PRESETS": "jointsed.data.synth.presets",
    "SynthConfig": "jointsed.data.synth.presets",
    "resolve_config": "jointsed.data.synth.presets",
    "FOREGROUND_GENERATORS": "jointsed.data.synth.generators",
    "background": "jointsed.data.synth.generators",
    "RecordedSources": "jointsed.data.synth.sources",
    "SyntheticSources": "jointsed.data.synth.sources",
    "SynthError": "jointsed.data.synth.errors",
    "RecordingChainConfig": "jointsed.data.synth.chain_config",
    "RECORDED_SPLITS": "jointsed.data.synth.recording_chain",
    "DISTRACTOR_GENERATORS": "jointsed.data.synth.distractors",
    "AMBIENCE_GENERATORS": "jointsed.data.synth.ambience",
}
__getattr__, __dir__ = lazy_attributes(__name__, _NAMES)


__all__ = [
    "AMBIENCE_GENERATORS",
    "DISTRACTOR_GENERATORS",
    "FOREGROUND_GENERATORS",
    "PRESETS",
    "PlacedEvent",
    "RECORDED_SPLITS",
    "RecordedSources",
    "RecordingChainConfig",
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
