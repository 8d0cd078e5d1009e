"""What the streaming detector needs of a detector, for the torch and the onnxruntime engine.

An engine offers: the front-end on a segment of samples (``logmel``), the frame network over a
frame sequence with zero padding only at its ends (``frames``; the network must be time-local,
``halo`` = its left/right context in frames), the clip network on windows of one training clip
(``clips``), and the model's settings (rate, hop, FFT size, classes, window, post-processor).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jointsed.errors import JointsedError


class StreamingError(JointsedError):
    """A detector or an input the streaming detector cannot use."""


class Engine:
    """The common settings (filled in by the subclasses)."""

    sample_rate: int
    hop_length: int
    n_fft: int
    classes: list[str]
    frame_hop: float
    window: int
    halo: tuple[int, int]
    params: Any

    def logmel(self, segment: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def frames(self, feats: np.ndarray) -> np.ndarray:
        """``(T, F)`` -> ``(T, C)`` frame scores."""
        raise NotImplementedError

    def clips(self, windows: np.ndarray) -> np.ndarray:
        """``(B, window, F)`` -> ``(B, C)`` clip scores."""
        raise NotImplementedError


def _not_local(what: str) -> StreamingError:
    return StreamingError(f"streaming needs a time-local frame network (Lin's promising student: no time "
                          f"pooling); this model's frame scores come from {what}, which sees whole windows: use "
                          "jointsed predict, or a guided-learning run")


class TorchEngine(Engine):
    """A :class:`jointsed.inference.Detector` built by ``from_checkpoint`` (plain-torch Predictor)."""

    def __init__(self, detector: Any) -> None:
        import torch

        from jointsed.audio.features import waveform_to_logmel
        from jointsed.models.fast import frame_halo

        predictor = detector.system
        if not hasattr(predictor, "nets"):
            raise StreamingError("streaming runs on Detector.from_checkpoint's plain-torch predictor, not a Lightning system")
        self._torch = torch
        self._waveform_to_logmel = waveform_to_logmel
        self.predictor = predictor
        fc = detector.feature_config
        self.fc = fc
        self.sample_rate, self.hop_length, self.n_fft = int(fc.sample_rate), int(fc.hop_length), int(fc.n_fft)
        self.classes, self.frame_hop, self.window = list(detector.classes), float(detector.frame_hop), int(detector.window)
        self.params = detector.params
        self.round_float16 = bool(detector.round_float16)
        frame_net = predictor.nets[predictor._frame_net]
        halo = frame_halo(frame_net)
        if halo is None:
            raise _not_local(f"the {type(frame_net).__name__} ({predictor._frame_net})")
        self.halo = halo
        self._frame_name, self._clip_name = predictor._frame_net, predictor._clip_net

    def logmel(self, segment: np.ndarray) -> np.ndarray:
        feats = self._waveform_to_logmel(segment, self.fc)
        if self.round_float16:
            feats = feats.astype(np.float16).astype(np.float32)
        return feats

    def _net(self, name: str, x: np.ndarray) -> tuple[Any, Any]:
        torch = self._torch
        with torch.inference_mode():
            xt = self.predictor.normalize(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
            fast = self.predictor._fast(name)
            if fast is not None:
                return fast(xt)
            out = self.predictor.nets[name](xt)
            return out.clip, out.frame

    def frames(self, feats: np.ndarray) -> np.ndarray:
        return self._net(self._frame_name, feats[None])[1][0].float().numpy()

    def clips(self, windows: np.ndarray) -> np.ndarray:
        return self._net(self._clip_name, windows)[0].float().numpy()


class OnnxEngine(Engine):
    """A :class:`jointsed.export.runtime.OnnxDetector` (no torch)."""

    def __init__(self, detector: Any) -> None:
        nets = detector.networks
        if nets.halo is None:
            raise _not_local("a network exported for whole windows")
        self.detector = detector
        self.sample_rate, self.hop_length = int(detector.sample_rate), int(detector.hop_length)
        self.n_fft = int(detector.frontend.n_fft)
        self.classes, self.frame_hop, self.window = list(detector.classes), float(detector.frame_hop), int(detector.window)
        self.params = detector.params
        self.halo = nets.halo

    def logmel(self, segment: np.ndarray) -> np.ndarray:
        return self.detector.logmel(segment)

    def frames(self, feats: np.ndarray) -> np.ndarray:
        return self.detector.networks.frame(feats[None])[0]

    def clips(self, windows: np.ndarray) -> np.ndarray:
        return self.detector.networks.clip(windows)


def engine_of(detector: Any) -> Engine:
    """The engine of a torch or onnxruntime detector."""
    if getattr(detector, "engine", None) == "onnxruntime":
        return OnnxEngine(detector)
    return TorchEngine(detector)


def lin_params(params: Any) -> Any:
    """``params`` if it is Lin's post-processor (the only one applied incrementally), else a clear error."""
    if getattr(params, "method", None) != "lin" or not hasattr(params, "median_window"):
        raise StreamingError(f"streaming applies Lin et al.'s post-processing incrementally; this model's is "
                             f"{getattr(params, 'method', type(params).__name__)!r}: give --postprocess with a Lin file")
    return params
