"""Inference with a trained jointsed model: audio files of any length, format, channel count and
sample rate -> sound events, frame scores and clip scores.

Example::

    from jointsed.inference import Detector

    detector = Detector.from_checkpoint("runs/gl_baseline")       # run folder or .ckpt file
    pred = detector.predict("kitchen.flac")
    pred.events        # [Event(filename, onset, offset, event_label), ...] (post-processed)
    pred.frame_scores  # (T, C) frame probabilities, frame t covers [t, t + 1) * pred.frame_hop s
    pred.clip_scores   # (C,) clip (tagging) probabilities

How a file is processed:

1. decoded, mixed to mono and resampled to the model's rate (:func:`jointsed.audio.load_audio`);
2. a file no longer than the training clip is zero-padded to it, exactly as in training, and its
   outputs are cropped back to the file's ``N // hop`` frames;
3. a longer file is cut into windows of one training clip with ``window_hop`` frames between
   starts (default half a clip; the last window ends at the file's end); frame scores of
   overlapping windows are averaged, the clip score of a class is its maximum over the windows
   (present anywhere = present in the file). Files longer than ``stream_above`` seconds (default
   60) are streamed (:mod:`jointsed.audio.stream`): decoded, resampled and turned into windows
   block by block, so memory does not grow with the file's length; the windows are bit for bit
   those of the whole-file log-mel;
4. features are rounded to float16 like the training feature cache, so a clip gives exactly the
   scores it got during validation;
5. post-processing (any method of :mod:`jointsed.postprocess.base`): ``postprocess.json`` next
   to the checkpoint (or in its run folder) if there is one (``jointsed tune``), else Lin et al.'s
   (tag and frame thresholds 0.5, class-wise median windows from the strong training labels,
   stored in the checkpoint). Tag gating uses the file's clip scores.

For guided learning, clip scores come from the professional teacher (PT, the better tagger) and
frame scores from the promising student (PS, the better detector), as in Lin et al.; change with
``clip_scores_from`` / ``frame_scores_from``. For the mean teacher, ``predict_with`` picks the
student (default) or the EMA teacher.

Start-up: this module does not import Lightning or the training engine. The predicting network
is rebuilt from the checkpoint with plain torch modules (:class:`jointsed.runs.predictor.Predictor`,
scores bit-identical to the training system's ``predict_scores``); the whole Lightning system (for
training and analysis) is :func:`jointsed.systems.load_system`.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Literal, Optional, Sequence, Union

import numpy as np
import torch
from tqdm.auto import tqdm

from jointsed.audio.features import FeatureConfig, waveform_to_logmel
from jointsed.audio.io import audio_info, fix_length, load_audio, mix_to_mono, resample
from jointsed.audio.stream import StreamInfo, stream_logmel_windows
from jointsed.config import from_dict
from jointsed.data.annotations import Event
from jointsed.errors import JointsedError
from jointsed.postprocess.base import PostProcessor, clip_events, frame_form
# the one owner of reading checkpoints safely (weights_only, clear errors); CheckpointError is re-exported
from jointsed.runs.checkpoint import CheckpointError, read_checkpoint, resolve_checkpoint
from jointsed.runs.postprocess import choose_postprocess
from jointsed.runs.predictor import Predictor, PredictorError
from jointsed.runs.precision import DEFAULT_PRECISION, slow_warning

if TYPE_CHECKING:  # a trained Lightning system may be given; this module never imports Lightning
    import pandas as pd

    from jointsed.export.runtime import OnnxDetector
    from jointsed.streaming.detector import StreamEvent
    from jointsed.systems.base import SEDSystem





@dataclass
class Prediction:
    """Output of :meth:`Detector.predict` for one file.

    Attributes:
        filename: the file's name (as written in event tables).
        events: post-processed events, onsets/offsets in seconds within ``[0, duration]``.
        frame_scores: ``(T, C)`` frame probabilities, ``T = N // hop`` for ``N`` samples at the
            model's rate; frame ``t`` covers ``[t * frame_hop, (t + 1) * frame_hop)`` seconds.
        clip_scores: ``(C,)`` clip probabilities.
        frame_hop: seconds per frame.
        classes: class names (columns of the scores).
        duration: length of the file in seconds.
    """

    filename: str
    events: list[Event]
    frame_scores: np.ndarray
    clip_scores: np.ndarray
    frame_hop: float
    classes: list[str]
    duration: float
    #: the post-processing that gave ``events`` (for :meth:`postprocessed_frame_scores`)
    postprocessor: Optional[PostProcessor] = field(default=None, repr=False, compare=False)

    def to_dataframe(self) -> "pd.DataFrame":
        """The events as a DataFrame ``filename, onset, offset, event_label`` (the columns of a
        DCASE detection table; ``pd.concat`` of several is one table)."""
        import pandas as pd

        return pd.DataFrame([(e.filename, e.onset, e.offset, e.event_label) for e in self.events],
                            columns=["filename", "onset", "offset", "event_label"]
                            ).astype({"onset": float, "offset": float})

    def postprocessed_frame_scores(self) -> np.ndarray:
        """``(T, C)`` the scores ``jointsed evaluate`` computes PSDS from and ``predict --scores``
        writes: the post-processor's score form (tag gating, median filter; SEBB boxes) on the
        frame grid."""
        if self.postprocessor is None:
            raise JointsedError(f"{self.filename}: this prediction carries no post-processor; use frame_scores")
        form = self.postprocessor.scores(self.clip_scores, self.frame_scores, self.frame_hop)
        return frame_form(form, self.frame_hop, self.frame_scores.shape[0], self.classes)

    def scores_dataframe(self, postprocessed: bool = True) -> "pd.DataFrame":
        """The frame scores in ``sed_scores_eval``'s format: columns ``onset, offset`` (s) and one
        per class, one row per frame. ``{audio_id: df}`` of several files is what
        ``sed_scores_eval``'s PSDS and F-score functions take; with ``postprocessed`` (default)
        it gives the PSDS ``jointsed evaluate`` reports, without it the networks' probabilities."""
        from sed_scores_eval.base_modules.scores import create_score_dataframe

        from jointsed.evaluate.io import frame_timestamps  # the timestamps score files are written with

        values = self.postprocessed_frame_scores() if postprocessed else self.frame_scores
        values = np.asarray(values, dtype=np.float64)
        return create_score_dataframe(values, frame_timestamps(len(values), self.frame_hop), list(self.classes))


@dataclass
class _Waveform:
    """Audio given in memory, already mono at the model's rate (:meth:`Detector.predict`)."""

    name: str
    samples: np.ndarray


def _window_starts(n_frames: int, window: int, hop: int) -> list[int]:
    if n_frames <= window:
        return [0]
    starts = list(range(0, n_frames - window + 1, hop))
    if starts[-1] != n_frames - window:
        starts.append(n_frames - window)
    return starts


class Detector:
    """Sound event detector around a trained network (see the module docstring).

    Args:
        system: a :class:`~jointsed.runs.predictor.Predictor` (what :meth:`from_checkpoint`
            builds) or a trained :class:`~jointsed.systems.base.SEDSystem` (eval mode).
        params: the post-processor (its parameters; classes in the model's order).
        window_hop: frames between the starts of consecutive windows of a long file
            (default: half a training clip).
        batch_size: windows per forward pass.
        stream_above: files longer than this many seconds are streamed (bounded memory).
    """

    def __init__(self, system: Union[Predictor, "SEDSystem"], params: PostProcessor,
                 window_hop: Optional[int] = None, batch_size: int = 16, checkpoint: Optional[Path] = None,
                 postprocess_source: str = "default", stream_above: float = 60.0) -> None:
        self.system = system.eval()
        self.params = params
        self.checkpoint = checkpoint
        self.postprocess_source = postprocess_source
        self.classes: list[str] = list(system.classes)
        info = system.info
        self.feature_config: FeatureConfig = from_dict(FeatureConfig, dict(info.feature_config))
        self.frame_hop: float = float(info.frame_hop)
        self.window: int = int(info.n_frames)
        self.window_hop = int(window_hop or max(1, self.window // 2))
        if not 1 <= self.window_hop <= self.window:
            raise ValueError(f"window_hop must be in [1, {self.window}] frames, got {self.window_hop}")
        self.batch_size = int(batch_size)
        self.round_float16 = info.feature_storage == "float16"
        self.stream_above = float(stream_above)

    @property
    def device(self) -> torch.device:
        return self.system.feature_mean.device

    @classmethod
    def from_checkpoint(
        cls,
        path: str | os.PathLike,
        device: str | torch.device = "cpu",
        postprocess: str | os.PathLike | PostProcessor | None = None,
        clip_scores_from: Optional[Literal["teacher", "student"]] = None,
        frame_scores_from: Optional[Literal["teacher", "student"]] = None,
        predict_with: Optional[Literal["student", "teacher"]] = None,
        window_hop: Optional[int] = None,
        batch_size: int = 16,
        stream_above: float = 60.0,
        precision: str = DEFAULT_PRECISION,
    ) -> "Detector":
        """Load a checkpoint file or a run folder (``checkpoints/best.ckpt``, else ``last.ckpt``).

        Args:
            path: ``.ckpt`` file or run folder.
            device: "cpu", "cuda", "cuda:1", ...
            postprocess: a post-processor (e.g. Lin's ``PostProcessingParams``) or a JSON file of
                one; default: ``postprocess.json`` beside the checkpoint / in the run folder, else
                Lin's defaults from the checkpoint.
            clip_scores_from, frame_scores_from: guided learning: which network (PT "teacher" or
                PS "student") gives clip and frame scores (default: the recipe's, PT and PS).
            predict_with: mean teacher: "student" or "teacher" (EMA).
            window_hop, batch_size, stream_above: see the class.
            precision: the networks' arithmetic, "fp32" or "bf16" (:mod:`jointsed.runs.precision`:
                bf16 is faster on CPUs with AMX and on GPUs, and moves scores by ~1e-3).
        """
        checkpoint = resolve_checkpoint(path)
        try:
            system = Predictor(read_checkpoint(checkpoint), clip_scores_from=clip_scores_from,
                               frame_scores_from=frame_scores_from, predict_with=predict_with,
                               precision=precision).to(device)
        except PredictorError as exc:
            raise CheckpointError(f"{checkpoint}: {exc}") from None
        slow = slow_warning(precision, system.feature_mean.device)
        if slow is not None:
            warnings.warn(slow, RuntimeWarning, stacklevel=2)
        params, file, source = choose_postprocess(checkpoint, system.classes, postprocess,
                                                  default=system.postprocess_params())
        source = str(file) if file is not None else source
        return cls(system, params, window_hop=window_hop, batch_size=batch_size, checkpoint=checkpoint,
                   postprocess_source=source, stream_above=stream_above)

    @classmethod
    def from_onnx(cls, folder: str | os.PathLike, **kwargs) -> "OnnxDetector":
        """An ONNX export (``jointsed export RUN --onnx DIR``) run with onnxruntime: the same
        ``predict`` / ``predict_many`` / ``stream``; keyword arguments as
        :class:`jointsed.export.runtime.OnnxDetector` (import it from there where torch is absent)."""
        from jointsed.export.runtime import OnnxDetector

        return OnnxDetector(folder, **kwargs)

    def stream(self, chunks: Iterable[np.ndarray], **kwargs) -> Iterator["StreamEvent"]:
        """Events of an audio stream as they become final (``chunks``: mono float32 samples at
        the model's rate); keyword arguments as :class:`jointsed.streaming.StreamingDetector`."""
        from jointsed.streaming import StreamingDetector

        return StreamingDetector(self, **kwargs).run(chunks)

    # ----- features ---------------------------------------------------------------------------
    def features(self, path: str | os.PathLike) -> tuple[np.ndarray, int, float]:
        """Log-mel of a file: ``(features (T', F), n_frames T, duration s)``.

        ``T' = max(T, clip frames)``: short files are zero-padded to one training clip.
        """
        fc = self.feature_config
        wav = path.samples if isinstance(path, _Waveform) else load_audio(path, fc.sample_rate)
        duration = wav.shape[-1] / fc.sample_rate
        n_frames = max(1, fc.n_frames(wav.shape[-1]))
        if wav.shape[-1] < fc.clip_samples:
            wav = fix_length(wav, fc.clip_samples)
        feats = waveform_to_logmel(wav, fc)
        if self.round_float16:
            feats = feats.astype(np.float16).astype(np.float32)
        return feats, n_frames, duration

    def _fast_windows(self) -> bool:
        """Whether the windows of a long file take the Predictor's fast path (``window_scores``);
        ``detector.system.fast = False`` (or a Lightning system) keeps the reference path."""
        return bool(getattr(self.system, "fast", False)) and hasattr(self.system, "window_scores")

    @torch.inference_mode()
    def scores_of_windows(self, windows: torch.Tensor, starts: Optional[Sequence[int]] = None
                          ) -> tuple[np.ndarray, np.ndarray]:
        """``(W, window, F)`` raw log-mel -> clip ``(W, C)`` and frame ``(W, window, C)`` scores.

        ``starts``: the windows are those of ONE file, starting at these frames; they then take
        the fast path (:meth:`jointsed.runs.predictor.Predictor.window_scores`, equal up to float
        round-off) when the system has one. Without ``starts``: the reference ``predict_scores``.
        """
        fast = starts is not None and self._fast_windows()
        clips, frames = [], []
        for start in range(0, windows.shape[0], self.batch_size):
            chunk = windows[start : start + self.batch_size].to(self.device)
            if fast:
                clip, frame = self.system.window_scores(chunk, starts[start : start + self.batch_size])
            else:
                clip, frame = self.system.predict_scores(chunk)
            clips.append(clip.cpu())
            frames.append(frame.cpu())
        return torch.cat(clips).numpy(), torch.cat(frames).numpy()

    # ----- prediction ------------------------------------------------------------------------
    def _stitch(self, starts: Sequence[int], n_frames: int, total: int, clip: np.ndarray, frame: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
        if len(starts) == 1:
            return clip[0], frame[0, :n_frames]
        acc = np.zeros((total, frame.shape[-1]), dtype=np.float64)
        count = np.zeros((total, 1), dtype=np.float64)
        for s, f in zip(starts, frame):
            acc[s : s + self.window] += f
            count[s : s + self.window] += 1
        return clip.max(axis=0), (acc / count).astype(np.float32)[:n_frames]

    def _finish(self, path: Path, n_frames: int, duration: float, clip: np.ndarray, frame: np.ndarray) -> Prediction:
        events = clip_events(self.params, path.name, clip, frame, self.frame_hop)
        events = [
            Event(e.filename, max(0.0, e.onset), min(duration, e.offset), e.event_label)
            for e in events
            if e.onset < duration
        ]
        return Prediction(path.name, events, frame, clip, self.frame_hop, list(self.classes), duration,
                          postprocessor=self.params)

    def predict_streamed(self, path: str | os.PathLike, block_seconds: float = 10.0) -> Prediction:
        """:meth:`predict` in bounded memory: ``block_seconds`` of audio, ``batch_size`` windows
        and the ``(T, C)`` frame scores at a time. Same scores as the whole-file path (same
        windows, same batches, same order of accumulation)."""
        path = Path(path)
        info = StreamInfo()
        n_classes = len(self.classes)
        acc = np.zeros((0, n_classes), dtype=np.float64)
        count = np.zeros((0, 1), dtype=np.float64)
        clip_max: Optional[np.ndarray] = None
        batch: list[np.ndarray] = []
        starts: list[int] = []

        def run() -> None:
            nonlocal acc, count, clip_max
            clip, frame = self.scores_of_windows(torch.from_numpy(np.stack(batch)), starts)
            end = starts[-1] + self.window
            if end > acc.shape[0]:  # grow geometrically: O(T) copies in all
                size = max(end, 2 * acc.shape[0])
                acc = np.concatenate([acc, np.zeros((size - acc.shape[0], n_classes))])
                count = np.concatenate([count, np.zeros((size - count.shape[0], 1))])
            for s, f in zip(starts, frame):
                acc[s : s + self.window] += f
                count[s : s + self.window] += 1
            c = clip.max(axis=0)
            clip_max = c if clip_max is None else np.maximum(clip_max, c)
            batch.clear()
            starts.clear()

        n_windows = 0
        only: Optional[tuple[np.ndarray, np.ndarray]] = None
        for start, window in stream_logmel_windows(path, self.feature_config, self.window, self.window_hop, info,
                                                   block_seconds=block_seconds, round_float16=self.round_float16):
            batch.append(window)
            starts.append(start)
            n_windows += 1
            if len(batch) >= self.batch_size:
                run()
        if n_windows == 1:  # one window: its scores as they are (as _stitch)
            clip, frame = self.scores_of_windows(torch.from_numpy(np.stack(batch)))
            only = (clip[0], frame[0])
        elif batch:
            run()
        n_frames = max(1, info.n_frames)
        duration = info.num_samples / self.feature_config.sample_rate
        if only is not None:
            return self._finish(path, n_frames, duration, only[0], only[1][:n_frames])
        frame_scores = (acc[: info.total_frames] / count[: info.total_frames]).astype(np.float32)[:n_frames]
        return self._finish(path, n_frames, duration, clip_max, frame_scores)

    def _streams(self, path: Path) -> bool:
        if isinstance(path, _Waveform):
            return False  # in memory already
        try:
            return audio_info(path).duration > self.stream_above
        except JointsedError:
            return False  # unreadable: the whole-file path raises the clear error

    def predict(self, audio: Any, sample_rate: Optional[int] = None, *, name: str = "waveform") -> Prediction:
        """Events, frame scores and clip scores of one audio file, or of audio in memory.

        Args:
            audio: a file path; a ``(waveform, sample_rate)`` tuple; or a waveform (numpy array
                or torch tensor: ``(N,)`` mono, or 2-D with channels on the shorter axis) with
                ``sample_rate``. Waveforms are mixed to mono and resampled as files are.
            sample_rate: Hz of a waveform given alone.
            name: the ``filename`` of a waveform's events (default ``waveform``).
        Raises:
            TypeError: anything else (a waveform without its rate included).
        """
        if isinstance(audio, (str, os.PathLike)):
            if sample_rate is not None:
                raise TypeError("sample_rate goes with a waveform, not with a file path")
            return self.predict_many([audio], progress=False)[0]
        if isinstance(audio, tuple):
            if len(audio) != 2 or sample_rate is not None:
                raise TypeError("give (waveform, sample_rate), or waveform and sample_rate=, not both")
            audio, sample_rate = audio
        return self.predict_many([self._waveform(audio, sample_rate, name)], progress=False)[0]

    def _waveform(self, audio: Any, sample_rate: Any, name: str) -> _Waveform:
        if isinstance(audio, torch.Tensor):
            audio = audio.detach().cpu().numpy()
        if not isinstance(audio, np.ndarray):
            raise TypeError(f"predict takes an audio file path, (waveform, sample_rate) or a waveform with "
                            f"sample_rate=; got {type(audio).__name__}")
        if sample_rate is None:
            raise TypeError("a waveform needs its sample rate: predict(waveform, sample_rate) or "
                            "predict((waveform, sample_rate))")
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
            raise TypeError(f"sample_rate must be a positive integer (Hz), got {sample_rate!r}")
        if audio.ndim not in (1, 2) or audio.size == 0 or not np.issubdtype(audio.dtype, np.floating):
            raise TypeError(f"a waveform is a non-empty 1-D or 2-D float array; got {audio.dtype} {audio.shape}")
        if not np.isfinite(audio).all():
            raise JointsedError(f"{name}: the waveform contains NaN or infinite samples")
        frames = audio if audio.ndim == 1 or audio.shape[0] >= audio.shape[1] else audio.T  # (N, C)
        wav = resample(mix_to_mono(frames), int(sample_rate), self.feature_config.sample_rate)
        return _Waveform(name, wav)

    def predict_many(self, paths: Iterable[str | os.PathLike], batch_size: Optional[int] = None,
                     progress: bool = False) -> list[Prediction]:
        """:meth:`predict` for many files, batching windows across files.

        Args:
            paths: audio files.
            batch_size: windows per forward pass of this call (default: the detector's, which
                this call leaves as it is).
            progress: tqdm progress bar (off unless asked: the API is quiet).
        Raises:
            AudioError: naming the first file that cannot be read.
        """
        if batch_size is not None and int(batch_size) != self.batch_size:
            # this call's batch size only: the detector keeps its own for later calls
            saved, self.batch_size = self.batch_size, int(batch_size)
            try:
                return self.predict_many(paths, None, progress)
            finally:
                self.batch_size = saved
        paths = [p if isinstance(p, _Waveform) else Path(p) for p in paths]
        out: list[Prediction] = []
        pending: list[tuple[Path, list[int], int, int, float]] = []
        windows: list[np.ndarray] = []

        def flush() -> None:
            if not pending:
                return
            clip, frame = self.scores_of_windows(torch.from_numpy(np.stack(windows)))
            offset = 0
            for path, starts, n_frames, total, duration in pending:
                k = len(starts)
                c, f = self._stitch(starts, n_frames, total, clip[offset : offset + k], frame[offset : offset + k])
                out.append(self._finish(path, n_frames, duration, c, f))
                offset += k
            pending.clear()
            windows.clear()

        for path in tqdm(paths, desc="predicting", unit="file", disable=not progress):
            if self._streams(path):  # a long file: alone, in bounded memory, in input order
                flush()
                out.append(self.predict_streamed(path))
                continue
            feats, n_frames, duration = self.features(path)
            starts = _window_starts(feats.shape[0], self.window, self.window_hop)
            if len(starts) > 1 and self._fast_windows():
                # a file of several windows: alone, in the same batches as predict_streamed
                # (so both give the same bits), on the fast path
                flush()
                wins = torch.from_numpy(np.stack([feats[s : s + self.window] for s in starts]))
                clip, frame = self.scores_of_windows(wins, starts)
                c, f = self._stitch(starts, n_frames, feats.shape[0], clip, frame)
                out.append(self._finish(path, n_frames, duration, c, f))
                continue
            for s in starts:
                windows.append(feats[s : s + self.window])
            pending.append((path, starts, n_frames, feats.shape[0], duration))
            if len(windows) >= self.batch_size:
                flush()
        flush()
        return out
