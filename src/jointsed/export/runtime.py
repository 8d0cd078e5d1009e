"""Run an ONNX export with onnxruntime alone: no torch, no Lightning (``jointsed predict --engine
onnxruntime``, :meth:`jointsed.inference.Detector.from_onnx`).

Example (an environment with numpy, scipy, soundfile, soxr, onnxruntime and jointsed, without
torch)::

    from jointsed.export.runtime import OnnxDetector

    detector = OnnxDetector("exported/")          # a folder written by jointsed export --onnx
    pred = detector.predict("kitchen.flac")        # the fields of jointsed.inference.Prediction

What it computes is what :class:`jointsed.inference.Detector` computes (the same windows of one
training clip, frame scores of overlapping windows averaged, clip scores maxed over windows,
short files zero-padded to a clip, features rounded to float16 when the training cache was, the
run's post-processing from ``deployment.json``), with the front-end of
:mod:`jointsed.export.frontend`. A time-local frame network (Lin's PS) is run once over the
file's frames in segments plus the few frames at each window's edges, which see the window's
zero padding (as :func:`jointsed.models.fast.overlapping_window_frames`), instead of once per
window. tests/export/ check that scores equal the torch detector's within 1e-4 and events are
identical. The whole file is decoded at once (``jointsed stream`` streams in bounded memory).

This module and what it imports need no torch: tests/export/ run it with torch blocked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

import numpy as np

from jointsed.audio.io import fix_length, load_audio
from jointsed.data.annotations import Event
from jointsed.export.bundle import Bundle, ExportError, read_bundle
from jointsed.export.frontend import NumpyLogMel
from jointsed.postprocess.base import PostProcessor, clip_events, postprocessor_from_dict

#: frames of a time-local network's input per onnxruntime call over a long file (bounded memory:
#: the full-size PS's first layer holds 160 x 64 floats per frame, ~80 MB at 2000 frames)
SEGMENT_FRAMES = 2000


@dataclass
class Prediction:
    """One file's output; the fields of :class:`jointsed.inference.Prediction` (which needs torch)."""

    filename: str
    events: list[Event]
    frame_scores: np.ndarray
    clip_scores: np.ndarray
    frame_hop: float
    classes: list[str]
    duration: float


def window_starts(n_frames: int, window: int, hop: int) -> list[int]:
    """Window starts every ``hop`` frames, the last ending at the last frame (as ``jointsed.inference``)."""
    if n_frames <= window:
        return [0]
    starts = list(range(0, n_frames - window + 1, hop))
    if starts[-1] != n_frames - window:
        starts.append(n_frames - window)
    return starts


def _session(path: Path, threads: Optional[int]) -> Any:
    try:
        import onnxruntime as ort
    except ImportError:
        raise ExportError("the onnxruntime engine needs onnxruntime: pip install onnxruntime "
                          "(or pip install 'jointsed[onnx]')") from None
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own classes for a corrupt or foreign file
        raise ExportError(f"{path}: onnxruntime cannot load it ({str(exc).splitlines()[0]})") from None


class OnnxNetworks:
    """The export's networks behind onnxruntime: clip scores of windows, frame scores of windows
    or of a whole frame sequence (time-local frame network)."""

    def __init__(self, bundle: Bundle, threads: Optional[int] = None) -> None:
        self.clip_entry, self.frame_entry = bundle.network("clip"), bundle.network("frame")
        files = {self.clip_entry.file, self.frame_entry.file}
        self.sessions = {f: _session(bundle.root / f, threads) for f in files}
        self.window = bundle.window_frames
        self.halo = self.frame_entry.halo if self.frame_entry.frames is None else None

    def _run(self, file: str, output: str, x: np.ndarray) -> np.ndarray:
        return self.sessions[file].run([output], {"features": np.ascontiguousarray(x, dtype=np.float32)})[0]

    def clip(self, windows: np.ndarray) -> np.ndarray:
        """``(B, window, F)`` -> ``(B, C)``."""
        return self._run(self.clip_entry.file, "clip", windows)

    def frame(self, x: np.ndarray) -> np.ndarray:
        """``(B, T, F)`` -> ``(B, T, C)``; ``T`` must be the window unless the network is time-local."""
        return self._run(self.frame_entry.file, "frame", x)

    def sequence_frames(self, feats: np.ndarray, lo: int = 0, hi: Optional[int] = None) -> np.ndarray:
        """Frames ``[lo, hi)`` of the time-local network over the whole sequence ``feats (T, F)``
        (zero padding only at the sequence's ends), in segments of :data:`SEGMENT_FRAMES`."""
        assert self.halo is not None
        left, right = self.halo
        hi = feats.shape[0] if hi is None else hi
        outs = []
        for a in range(lo, hi, SEGMENT_FRAMES):
            b = min(hi, a + SEGMENT_FRAMES)
            a0, b0 = max(0, a - left), min(feats.shape[0], b + right)
            outs.append(self.frame(feats[None, a0:b0])[0, a - a0 : b - a0])
        return np.concatenate(outs) if outs else np.zeros((0, 0), dtype=np.float32)

    def window_frames(self, feats: np.ndarray, starts: list[int]) -> np.ndarray:
        """``(W, window, C)`` frame scores of the windows of ``feats`` at ``starts``, each as the
        network sees the window alone (zero padding at the window's edges)."""
        window = self.window
        wins = np.stack([feats[s : s + window] for s in starts])
        crop = 0 if self.halo is None else sum(self.halo)
        if self.halo is None or len(starts) < 2 or crop == 0 or crop >= window:
            return self.frame(wins)
        left, right = self.halo
        whole = self.sequence_frames(feats, starts[0], starts[-1] + window)
        edges = self.frame(np.concatenate([wins[:, :crop], wins[:, window - crop :]]))
        n = len(starts)
        out = np.stack([whole[s - starts[0] : s - starts[0] + window] for s in starts])
        if left:
            out[:, :left] = edges[:n, :left]
        if right:
            out[:, window - right :] = edges[n:, crop - right :]
        return out


class OnnxDetector:
    """Sound event detector on an ONNX export (see the module docstring).

    Args:
        folder: the export folder.
        window_hop: frames between window starts (default: half a clip, as the torch detector).
        batch_size: windows per onnxruntime call (clip network; frame network without a halo).
        threads: onnxruntime's intra-op threads (default: onnxruntime's choice, all cores).
        postprocess: a post-processor to use instead of the export's.
    """

    engine = "onnxruntime"

    def __init__(self, folder: str | os.PathLike, window_hop: Optional[int] = None, batch_size: int = 16,
                 threads: Optional[int] = None, postprocess: Optional[PostProcessor] = None) -> None:
        self.bundle = bundle = read_bundle(folder)
        self.classes: list[str] = bundle.classes
        self.frame_hop: float = bundle.frame_hop
        self.window: int = bundle.window_frames
        self.window_hop = int(window_hop or max(1, self.window // 2))
        if not 1 <= self.window_hop <= self.window:
            raise ValueError(f"window_hop must be in [1, {self.window}] frames, got {self.window_hop}")
        self.batch_size = int(batch_size)
        self.round_float16 = bundle.round_float16
        fc = bundle.features
        self.sample_rate = int(fc["sample_rate"])
        self.hop_length = int(fc["hop_length"])
        self.clip_samples = int(round(float(fc["clip_duration"]) * self.sample_rate))
        window, mel_fb = bundle.frontend_arrays()
        self.frontend = NumpyLogMel(int(fc["n_fft"]), self.hop_length, window, mel_fb,
                                    float(bundle.data["frontend"].get("log_eps", 1e-8)))
        self.networks = OnnxNetworks(bundle, threads)
        if postprocess is not None:
            self.params = postprocess.reordered(self.classes)
            self.postprocess_source = "given parameters"
        else:
            self.params = postprocessor_from_dict(bundle.data["postprocess"], source=str(bundle.root / "deployment.json"))
            self.params = self.params.reordered(self.classes)
            self.postprocess_source = str(bundle.data.get("postprocess_source", "export"))
        self.checkpoint = Path(folder)

    # ----- features ---------------------------------------------------------------------------
    def logmel(self, wav: np.ndarray) -> np.ndarray:
        """Log-mel of samples at the model's rate (rounded to float16 when training stored it so)."""
        feats = self.frontend(wav)
        if self.round_float16:
            feats = feats.astype(np.float16).astype(np.float32)
        return feats

    def features(self, path: str | os.PathLike) -> tuple[np.ndarray, int, float]:
        """``(features (T', F), n_frames T, duration s)``, short files zero-padded to a clip."""
        wav = load_audio(path, self.sample_rate)
        duration = wav.shape[-1] / self.sample_rate
        n_frames = max(1, wav.shape[-1] // self.hop_length)
        if wav.shape[-1] < self.clip_samples:
            wav = fix_length(wav, self.clip_samples)
        return self.logmel(wav), n_frames, duration

    # ----- prediction ------------------------------------------------------------------------
    def scores(self, feats: np.ndarray, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
        """Clip ``(C,)`` and frame ``(n_frames, C)`` scores of a file's features, windowed."""
        starts = window_starts(feats.shape[0], self.window, self.window_hop)
        wins = np.stack([feats[s : s + self.window] for s in starts])
        clip = np.concatenate([self.networks.clip(wins[i : i + self.batch_size])
                               for i in range(0, len(starts), self.batch_size)])
        if self.networks.halo is not None and len(starts) > 1:
            frame = self.networks.window_frames(feats, starts)
        else:
            frame = np.concatenate([self.networks.frame(wins[i : i + self.batch_size])
                                    for i in range(0, len(starts), self.batch_size)])
        if len(starts) == 1:
            return clip[0], frame[0, :n_frames]
        acc = np.zeros((feats.shape[0], frame.shape[-1]), dtype=np.float64)
        count = np.zeros((feats.shape[0], 1), dtype=np.float64)
        for s, f in zip(starts, frame):
            acc[s : s + self.window] += f
            count[s : s + self.window] += 1
        return clip.max(axis=0), (acc / count).astype(np.float32)[:n_frames]

    def predict(self, path: str | os.PathLike) -> Prediction:
        """Events, frame scores and clip scores of one audio file."""
        path = Path(path)
        feats, n_frames, duration = self.features(path)
        clip, frame = self.scores(feats, n_frames)
        events = [Event(e.filename, max(0.0, e.onset), min(duration, e.offset), e.event_label)
                  for e in clip_events(self.params, path.name, clip, frame, self.frame_hop) if e.onset < duration]
        return Prediction(path.name, events, frame, clip, self.frame_hop, list(self.classes), duration)

    def stream(self, chunks: Iterable[np.ndarray], **kwargs: Any) -> Iterator[Any]:
        """Events of an audio stream as they become final (mono float32 blocks at the model's
        rate); keyword arguments as :class:`jointsed.streaming.detector.StreamingDetector`."""
        from jointsed.streaming.detector import StreamingDetector

        return StreamingDetector(self, **kwargs).run(chunks)

    def predict_many(self, paths: Iterable[str | os.PathLike], batch_size: Optional[int] = None,
                     progress: bool = True) -> list[Prediction]:
        """:meth:`predict` for many files (in order; ``progress`` draws a bar when tqdm is there)."""
        if batch_size is not None:
            self.batch_size = int(batch_size)
        paths = list(paths)
        try:
            from tqdm.auto import tqdm

            paths = tqdm(paths, desc="predicting", unit="file", disable=not progress)
        except ImportError:
            pass
        return [self.predict(p) for p in paths]


def onnx_detector_for_cli(args: Any) -> OnnxDetector:
    """The detector of ``jointsed predict --engine onnxruntime`` (options the export fixes refused)."""
    from jointsed.errors import JointsedError
    from jointsed.postprocess.base import load_postprocessor

    fixed = [(flag, value) for flag, value, default in (
        ("--device", getattr(args, "device", "cpu"), "cpu"), ("--precision", getattr(args, "precision", "fp32"), "fp32"),
        ("--clip-scores-from", getattr(args, "clip_scores_from", None), None),
        ("--frame-scores-from", getattr(args, "frame_scores_from", None), None)) if value != default]
    if fixed:
        flag, value = fixed[0]
        raise JointsedError(f"{flag} {value}: the onnxruntime engine runs the exported networks on the CPU in float32; "
                            "choose the networks at export time (jointsed export --help)")
    bundle = read_bundle(args.model)  # a clear error before anything else when it is no export
    post = load_postprocessor(args.postprocess, bundle.classes) if getattr(args, "postprocess", None) else None
    detector = OnnxDetector(args.model, batch_size=args.batch_size, postprocess=post)
    if post is not None:
        detector.postprocess_source = str(args.postprocess)
    return detector
