"""Audio front-end: reading/resampling (:mod:`.io`), log-mel features (:mod:`.features`) and the
on-disk feature cache (:mod:`.cache`)."""

from jointsed.audio.cache import CacheError, CacheReport, FeatureCache
from jointsed.audio.features import (
    FeatureConfig,
    LogMel,
    extract_logmel,
    mel_filterbank,
    waveform_to_logmel,
)
from jointsed.audio.io import AudioError, AudioInfo, audio_info, fix_length, load_audio, resample

__all__ = [
    "AudioError",
    "AudioInfo",
    "CacheError",
    "CacheReport",
    "FeatureCache",
    "FeatureConfig",
    "LogMel",
    "audio_info",
    "extract_logmel",
    "fix_length",
    "load_audio",
    "mel_filterbank",
    "resample",
    "waveform_to_logmel",
]
