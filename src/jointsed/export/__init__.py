"""Deployment without PyTorch: ONNX export of a trained run and its onnxruntime detector.

* :mod:`.to_onnx` — ``jointsed export RUN --onnx DIR`` (needs torch, onnx, onnxruntime);
* :mod:`.bundle` — the export folder and its ``deployment.json`` (torch-free);
* :mod:`.frontend` — the log-mel front-end in numpy (torch-free);
* :mod:`.runtime` — :class:`~.runtime.OnnxDetector`, prediction with onnxruntime alone.

docs/deployment.md describes the folder, the commands and the minimal install.
"""

from jointsed.utils.lazy import lazy_attributes

_NAMES = {
    "export_onnx": "jointsed.export.to_onnx",
    "ExportError": "jointsed.export.bundle",
    "read_bundle": "jointsed.export.bundle",
    "NumpyLogMel": "jointsed.export.frontend",
    "OnnxDetector": "jointsed.export.runtime",
}

__getattr__, __dir__ = lazy_attributes(__name__, _NAMES)

__all__ = sorted(_NAMES)
