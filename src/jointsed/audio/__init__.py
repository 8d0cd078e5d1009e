"""Audio front-end: reading/resampling (:mod:`.io`), log-mel features (:mod:`.features`) and the
on-disk feature cache (:mod:`.cache`).

Names load on first use: :mod:`.io` needs no torch, so a deployment that runs an ONNX export
with onnxruntime alone (:mod:`jointsed.export.runtime`) can read audio without torch installed.
"""

from jointsed.utils.lazy import lazy_attributes

_NAMES = {
    "CacheError": "jointsed.audio.cache",
    "CacheReport": "jointsed.audio.cache",
    "FeatureCache": "jointsed.audio.cache",
    "FeatureConfig": "jointsed.audio.features",
    "LogMel": "jointsed.audio.features",
    "extract_logmel": "jointsed.audio.features",
    "mel_filterbank": "jointsed.audio.features",
    "waveform_to_logmel": "jointsed.audio.features",
    "AudioError": "jointsed.audio.io",
    "AudioInfo": "jointsed.audio.io",
    "audio_info": "jointsed.audio.io",
    "fix_length": "jointsed.audio.io",
    "load_audio": "jointsed.audio.io",
    "resample": "jointsed.audio.io",
}

__getattr__, __dir__ = lazy_attributes(__name__, _NAMES)

__all__ = sorted(_NAMES)
