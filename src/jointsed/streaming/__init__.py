"""Real-time detection: events of an audio stream as they become final (``jointsed stream``).

* :mod:`.detector` — :class:`~.detector.StreamingDetector` (features, frame network, clip gating
  on the recent past, post-processing, each incremental; latency per class);
* :mod:`.postprocess` — Lin's post-processing applied incrementally in bounded memory;
* :mod:`.engines` — the torch and onnxruntime engines it runs on;
* :mod:`.sources` — audio sources: files, standard input (raw PCM or WAV), a microphone.
"""

from jointsed.utils.lazy import lazy_attributes

_NAMES = {
    "StreamingDetector": "jointsed.streaming.detector",
    "StreamFrames": "jointsed.streaming.detector",
    "StreamEvent": "jointsed.streaming.postprocess",
    "IncrementalLin": "jointsed.streaming.postprocess",
    "StreamingError": "jointsed.streaming.engines",
}

__getattr__, __dir__ = lazy_attributes(__name__, _NAMES)

__all__ = sorted(_NAMES)
