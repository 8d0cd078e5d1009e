"""Long files in bounded memory: decode, mix, resample and compute log-mel windows block by block.

:func:`stream_logmel_windows` gives the analysis windows of a file of any length while holding
only a few seconds of audio and a clip's worth of features: blocks of the file are decoded with
``soundfile``, mixed to mono, resampled with soxr's streaming resampler (``ResampleStream``,
same quality as :func:`jointsed.audio.io.resample`; fed block by block it returns exactly the
samples of a one-shot resampling), and log-mel frames are computed for a range of frames at a
time from the samples around it. Every frame sees exactly the samples (and the zero padding at
the file's ends) it sees in :func:`jointsed.audio.features.waveform_to_logmel` over the whole
file, so the windows equal those cut from the whole-file features, bit for bit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import numpy as np
import soundfile as sf
import soxr

from jointsed.audio.features import FeatureConfig, waveform_to_logmel
from jointsed.audio.io import RESAMPLE_QUALITY, AudioError, _open, _reason, _warn_if_truncated, mix_to_mono


@dataclass
class StreamInfo:
    """Filled in while a file streams; final once the generator is exhausted."""

    num_samples: int = 0  # samples at the model's rate
    n_frames: int = 0  # num_samples // hop (frames of the file)
    total_frames: int = 0  # frames the windows cover: max(n_frames, window), short files zero-padded


def stream_mono(path: str | os.PathLike, sample_rate: int, block_seconds: float = 10.0) -> Iterator[np.ndarray]:
    """Blocks of ``path`` as mono float32 at ``sample_rate`` (their concatenation equals
    :func:`jointsed.audio.io.load_audio`'s output), decoding ``block_seconds`` of the file at a time.

    Raises:
        AudioError: naming the file (missing, unreadable, empty, NaN/inf samples).
    """
    path = Path(path)
    with _open(path) as f:
        _warn_if_truncated(path, f)
        file_sr = int(f.samplerate)
        if int(f.frames) <= 0:
            raise AudioError(path, "contains no audio samples (empty file)")
        stream = None if file_sr == sample_rate else soxr.ResampleStream(
            file_sr, sample_rate, 1, dtype="float32", quality=RESAMPLE_QUALITY)
        block = max(1024, int(block_seconds * file_sr))
        got = 0
        try:
            for data in f.blocks(blocksize=block, dtype="float32", always_2d=True):
                got += data.shape[0]
                mono = mix_to_mono(data)
                del data
                if not np.isfinite(mono).all():
                    raise AudioError(path, "contains NaN or infinite samples")
                yield mono if stream is None else stream.resample_chunk(mono, last=False)
        except (sf.LibsndfileError, RuntimeError, ValueError, OSError) as exc:
            raise AudioError(path, f"cannot decode audio ({_reason(exc)})") from None
        if got == 0:
            raise AudioError(path, "contains no decodable audio samples (corrupt file?)")
        if stream is not None:
            yield stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)


def stream_logmel_windows(
    path: str | os.PathLike,
    config: FeatureConfig,
    window: int,
    hop: int,
    info: Optional[StreamInfo] = None,
    block_seconds: float = 10.0,
    round_float16: bool = False,
) -> Iterator[tuple[int, np.ndarray]]:
    """``(start frame, (window, n_mels) float32 log-mel)`` of every analysis window of a file.

    Windows start every ``hop`` frames, the last one ends at the file's last frame (as
    :func:`jointsed.inference._window_starts`); a file shorter than a window gives one window,
    zero-padded like a training clip. ``info`` receives the file's length when the generator ends.
    Memory: ``block_seconds`` of decoded audio plus about one window of features.
    """
    info = info if info is not None else StreamInfo()
    h, n_fft = config.hop_length, config.n_fft
    pad_left = (n_fft - h) // 2
    k = -(-n_fft // h)  # context frames on each side: covers the STFT frame and its padding
    samples = np.zeros(0, dtype=np.float32)  # samples [s0, s0 + len) at the model's rate
    s0 = 0
    n_avail = 0
    feats: list[np.ndarray] = []  # frames [f0, done)
    f0 = done = 0
    next_start, last_start = 0, -1

    def compute(upto: int) -> None:
        """Frames [done, upto) from the samples held (zeros outside the file)."""
        nonlocal done
        a, b = (done - k) * h, (upto + k) * h
        seg = np.zeros(b - a, dtype=np.float32)
        lo, hi = max(a, s0), min(b, s0 + samples.shape[0])
        if hi > lo:
            seg[lo - a : hi - a] = samples[lo - s0 : hi - s0]
        out = waveform_to_logmel(seg, config)[k : k + upto - done]
        if round_float16:
            out = out.astype(np.float16).astype(np.float32)
        feats.append(out)
        done = upto

    def window_at(start: int) -> np.ndarray:
        nonlocal feats
        held = np.concatenate(feats) if len(feats) > 1 else feats[0]
        feats = [held]
        return held[start - f0 : start - f0 + window].copy()

    def trim() -> None:
        """Drop samples and frames no later window or frame needs."""
        nonlocal samples, s0, feats, f0
        keep_from = max(0, (done - k) * h)
        if keep_from > s0:
            samples = samples[keep_from - s0 :].copy()
            s0 = keep_from
        first_needed = min(next_start, max(0, done - window))
        if first_needed > f0 and feats:
            held = np.concatenate(feats)
            feats = [held[first_needed - f0 :].copy()]
            f0 = first_needed

    def ready_windows() -> Iterator[tuple[int, np.ndarray]]:
        nonlocal next_start, last_start
        while next_start + window <= done:
            yield next_start, window_at(next_start)
            last_start = next_start
            next_start += hop

    for block in stream_mono(path, config.sample_rate, block_seconds):
        if block.size:
            samples = np.concatenate([samples, block]) if samples.size else block
            n_avail += block.shape[0]
        # frame t needs samples up to t * h - pad_left + n_fft (exclusive)
        upto = (n_avail + pad_left - n_fft) // h + 1
        if upto - done >= window:
            compute(upto)
            yield from ready_windows()
            trim()
    n_frames = n_avail // h
    total = max(n_frames, window)
    if total > done:
        compute(total)
    info.num_samples, info.n_frames, info.total_frames = n_avail, n_frames, total
    yield from ready_windows()
    if last_start != total - window:
        yield total - window, window_at(total - window)
