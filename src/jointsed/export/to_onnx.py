"""``jointsed export RUN --onnx DIR``: the predicting networks of a trained run as ONNX files.

Which networks: those :class:`jointsed.runs.predictor.Predictor` predicts with (guided
learning: the professional teacher for clip scores, the promising student for frame scores;
mean teacher: the student or the EMA teacher; frame teacher: its network), each wrapped with the
training statistics' standardisation so that it takes raw log-mel. They are exported with
torch's TorchScript-based exporter (``torch.onnx.export(dynamo=False)``: the dynamo exporter
needs onnxscript, one more dependency, and these plain CNNs / GRUs trace exactly). The
time-local frame network (Lin's PS) is exported with a dynamic frame axis (any length: the
streaming detector runs it on a sliding buffer); the others with the training clip's frame
count, which is all the windowed prediction gives them (their traced padding and pooling are
specific to that length: measured, a PT traced at 125 frames is off by 8e-4 at 300).

The front-end is not an ONNX graph (see :mod:`jointsed.export.frontend`): its window and mel
filters are written to ``frontend.npz``. The post-processing the run predicts with
(``postprocess.json`` of the run, else Lin's defaults) goes into ``deployment.json``.

Before the folder is moved into place, onnxruntime runs every network on random log-mel and the
largest differences from the torch networks are checked (at most :data:`PARITY_TOLERANCE`) and
stored in ``deployment.json`` under ``parity``. The folder is written atomically.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from torch import Tensor, nn

import jointsed
from jointsed.audio.features import LOG_EPS, mel_filterbank
from jointsed.export.bundle import BUNDLE_FORMAT, FRONTEND_FILE, SIDECAR, ExportError, NetworkEntry
from jointsed.postprocess.base import PostProcessor, postprocessor_to_dict
from jointsed.utils.atomic import atomic_dir, atomic_write_json

#: the largest difference from the torch networks an export may have (checked at export time)
PARITY_TOLERANCE = 1e-4
#: the ONNX operator set (17: LayerNormalization, STFT exist; onnxruntime >= 1.14 runs it)
OPSET = 17


def require_onnx() -> Any:
    """``onnxruntime``, or a clear error naming the extra to install."""
    try:
        import onnx  # noqa: F401  (torch's exporter checks the model with it)
        import onnxruntime
    except ImportError as exc:
        raise ExportError(f"the ONNX export needs onnx and onnxruntime ({exc}); install them with "
                          "pip install 'jointsed[onnx]'") from None
    return onnxruntime


class _Standardised(nn.Module):
    """A network of a :class:`Predictor` behind its input standardisation: raw log-mel in."""

    def __init__(self, predictor: nn.Module, name: str) -> None:
        super().__init__()
        self.net = predictor.nets[name]
        self.register_buffer("mean", predictor.feature_mean.detach().clone())
        self.register_buffer("std", predictor.feature_std.detach().clone())

    def forward(self, features: Tensor) -> tuple[Tensor, Tensor]:
        out = self.net((features - self.mean) / self.std)
        return out.clip, out.frame


def _export_network(module: nn.Module, path: Path, frames: int, n_mels: int, dynamic_frames: bool) -> None:
    example = torch.randn(2, frames, n_mels) * 4 - 8
    axes: dict[str, dict[int, str]] = {"features": {0: "batch"}, "clip": {0: "batch"}, "frame": {0: "batch"}}
    if dynamic_frames:
        axes["features"][1] = axes["frame"][1] = "frames"
    with warnings.catch_warnings():  # the TorchScript exporter's deprecation notice: chosen on purpose
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (example,), str(path), dynamo=False, opset_version=OPSET,
                          input_names=["features"], output_names=["clip", "frame"], dynamic_axes=axes)


def _parity(sessions: dict[str, Any], modules: dict[str, nn.Module], entries: dict[str, NetworkEntry],
            window: int, n_mels: int, seed: int = 0) -> dict[str, float]:
    """Largest |onnxruntime - torch| of clip and frame scores on random log-mel windows (and, for
    a dynamic frame axis, a length that is not the window's)."""
    gen = torch.Generator().manual_seed(seed)
    out = {"clip": 0.0, "frame": 0.0}
    for role, output in (("clip", "clip"), ("frame", "frame")):
        entry = entries[role]
        lengths = [window] if entry.frames is not None else [window, window + 37, 11]
        for frames in lengths:
            x = torch.randn(3, frames, n_mels, generator=gen) * 4 - 8
            with torch.no_grad():
                ref = modules[entry.file](x)[0 if output == "clip" else 1].numpy()
            got = sessions[entry.file].run([output], {"features": x.numpy()})[0]
            out[role] = max(out[role], float(np.abs(got - ref).max()))
    return out


def export_onnx(detector: Any, out_dir: str | os.PathLike, force: bool = False,
                source: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """Write the export folder of a torch :class:`jointsed.inference.Detector` (see the module
    docstring); returns the ``deployment.json`` written.

    Raises:
        ExportError: onnx / onnxruntime missing, a network onnxruntime disagrees with, a folder
            that exists (without ``force``).
    """
    from jointsed.models.fast import frame_halo

    ort = require_onnx()
    predictor = detector.system
    if not hasattr(predictor, "nets"):
        raise ExportError("export needs the plain-torch Predictor (Detector.from_checkpoint), not a Lightning system")
    params: PostProcessor = detector.params
    fc = detector.feature_config
    n_mels, window = int(fc.n_mels), int(detector.window)
    clip_name, frame_name = predictor._clip_net, predictor._frame_net
    frame_halo_ = frame_halo(predictor.nets[frame_name])
    if clip_name == frame_name:
        one = NetworkEntry("scores.onnx", "clip", None if frame_halo_ is not None else window)
        entries = {"clip": NetworkEntry("scores.onnx", "clip", window),
                   "frame": NetworkEntry("scores.onnx", "frame", one.frames, frame_halo_)}
        files = {"scores.onnx": (clip_name, one.frames is None)}
    else:
        entries = {"clip": NetworkEntry("clip.onnx", "clip", window),
                   "frame": NetworkEntry("frame.onnx", "frame", None if frame_halo_ is not None else window, frame_halo_)}
        files = {"clip.onnx": (clip_name, False), "frame.onnx": (frame_name, frame_halo_ is not None)}
    out_dir = Path(out_dir)
    try:
        with atomic_dir(out_dir, overwrite=force) as tmp:
            modules: dict[str, nn.Module] = {}
            sessions: dict[str, Any] = {}
            for file, (name, dynamic) in files.items():
                modules[file] = _Standardised(predictor, name).cpu().eval()
                _export_network(modules[file], tmp / file, window, n_mels, dynamic)
                sessions[file] = ort.InferenceSession(str(tmp / file), providers=["CPUExecutionProvider"])
            parity = _parity(sessions, modules, entries, window, n_mels)
            worst = max(parity.values())
            if not worst <= PARITY_TOLERANCE:
                raise ExportError(f"onnxruntime's scores differ from torch's by {worst:.2e} (> {PARITY_TOLERANCE:g}); "
                                  "the export is not written")
            n_fft, win = int(fc.n_fft), int(fc.win_length)
            hann = torch.hann_window(win, periodic=True).numpy()
            padded = np.zeros(n_fft, dtype=np.float32)  # torch.stft centres a shorter window in n_fft
            left = (n_fft - win) // 2
            padded[left : left + win] = hann
            np.savez(tmp / FRONTEND_FILE, window=padded, mel_fb=mel_filterbank(fc))
            sidecar = {
                "format": BUNDLE_FORMAT,
                "classes": list(detector.classes),
                "frame_hop": float(detector.frame_hop),
                "window_frames": window,
                "round_float16": bool(detector.round_float16),
                "features": fc.to_dict(),
                "frontend": {"kind": "numpy", "file": FRONTEND_FILE, "log_eps": LOG_EPS,
                             "note": "log(mel(|rfft(hann * frame)|^2) + log_eps), frames of jointsed.audio.features"},
                "networks": {role: entry.to_dict() for role, entry in entries.items()},
                "postprocess": postprocessor_to_dict(params),
                "postprocess_source": str(detector.postprocess_source),
                "parity": {"max_abs_diff_clip": parity["clip"], "max_abs_diff_frame": parity["frame"],
                           "tolerance": PARITY_TOLERANCE, "inputs": "random log-mel, N(-8, 4^2)"},
                "source": {"checkpoint": str(detector.checkpoint), "system": str(predictor.system),
                           "jointsed": jointsed.__version__, "torch": torch.__version__, "opset": OPSET},
            }
            atomic_write_json(tmp / SIDECAR, sidecar)
    except FileExistsError:
        raise ExportError(f"{out_dir} already exists (use --force to replace it)") from None
    return sidecar
