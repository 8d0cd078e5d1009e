"""Log-mel front-end: :class:`FeatureConfig`, the mel filter bank and the :class:`LogMel` module.

Time grid (shared contract of jointsed)
---------------------------------------
A waveform of ``N`` samples gives ``T = N // hop_length`` frames, and frame ``t`` stands for the
samples ``[t * hop, (t + 1) * hop)`` (seconds ``[t, t + 1) * frame_hop``): 10 s at 16 kHz with a
hop of 320 -> 500 frames of 20 ms. Label encoders, models and post-processing all use this grid.

``torch.stft(center=True)`` would give ``1 + N // hop`` frames with frame ``t`` *centred on* sample
``t * hop`` (the left edge of its interval) and a last frame centred on the clip end, which
belongs to no interval. We instead zero-pad ``(n_fft - hop) / 2`` samples on each side and call
``torch.stft(center=False)``: that gives exactly ``1 + (N + n_fft - hop - n_fft) // hop = N // hop``
frames, and frame ``t`` is centred on ``(t + 0.5) * hop``, the middle of its interval (its
``win_length`` window spans ``[(t + 0.5) * hop - win / 2, (t + 0.5) * hop + win / 2)``). It is
the ``center=True`` STFT of the signal advanced by half a hop, minus the extra last frame.
Zero (not reflect) padding keeps every length valid and matches the zero padding of short clips.

Spectrum and mel scale
----------------------
Periodic Hann window of ``win_length`` samples, centred in an ``n_fft``-point FFT; power spectrum
``|X|^2``; triangular mel filters on the **Slaney** mel scale (linear below 1 kHz, logarithmic
above; Slaney's Auditory Toolbox, the default of ``librosa.filters.mel``) with Slaney area
normalisation (each triangle scaled by ``2 / (f_right - f_left)``), so every band has the same
total weight per Hz. ``mel_scale="htk"`` switches to the HTK formula ``2595 log10(1 + f / 700)``
(still area-normalised), which equals ``librosa.filters.mel(htk=True)``.
Compression: natural log, ``log(mel + 1e-8)`` (floor -18.42). This is 10*log10 up to the constant
factor 4.343, so either is fine for networks that normalise their input; we keep the natural log
of Lin et al.'s guided-learning front-end. No torchaudio/librosa is used at run time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from jointsed.audio.io import fix_length, load_audio
from jointsed.config import ConfigError

#: Bump when the front-end computation changes in a way that changes its output: every cached
#: feature file is keyed by :meth:`FeatureConfig.config_hash`, which includes this number.
FRONTEND_VERSION = 1

#: Added to the mel energies before the log (floor of the features: log(1e-8) = -18.42).
LOG_EPS = 1e-8


@dataclass
class FeatureConfig:
    """Settings of the log-mel front-end (config section ``features``).

    Defaults keep Lin et al.'s 20 ms frames and 64 bands at 16 kHz: 10 s -> (500, 64).
    """

    sample_rate: int = 16000  # Hz; audio is resampled to this rate
    n_fft: int = 1024  # FFT size (samples)
    win_length: int = 640  # Hann window length (samples), 40 ms
    hop_length: int = 320  # frame hop (samples), 20 ms
    n_mels: int = 64  # mel bands
    f_min: float = 0.0  # Hz, lowest mel filter edge
    f_max: float | None = None  # Hz, highest mel filter edge; None = sample_rate / 2
    clip_duration: float = 10.0  # seconds; clips are zero-padded / cropped to this length
    mel_scale: Literal["slaney", "htk"] = "slaney"  # see the module docstring

    # ----- derived values ---------------------------------------------------------------------
    @property
    def frame_hop(self) -> float:
        """Seconds between frames (hop_length / sample_rate): 0.02 by default."""
        return self.hop_length / self.sample_rate

    @property
    def clip_samples(self) -> int:
        """Samples in one clip (clip_duration * sample_rate, rounded): 160000 by default."""
        return int(round(self.clip_duration * self.sample_rate))

    @property
    def f_max_hz(self) -> float:
        """``f_max`` with ``None`` resolved to the Nyquist frequency."""
        return float(self.sample_rate) / 2 if self.f_max is None else float(self.f_max)

    @property
    def n_freqs(self) -> int:
        """FFT bins of the one-sided spectrum: n_fft // 2 + 1."""
        return self.n_fft // 2 + 1

    def n_frames(self, num_samples: int | None = None) -> int:
        """Frames for ``num_samples`` samples (default: one clip) = num_samples // hop_length.

        See the module docstring for why it is not torch's ``1 + N // hop``.
        """
        n = self.clip_samples if num_samples is None else int(num_samples)
        if n < 0:
            raise ValueError(f"num_samples must be >= 0, got {n}")
        return n // self.hop_length

    # ----- checks and identity ----------------------------------------------------------------
    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the key of the first nonsensical value."""
        for key in ("sample_rate", "n_fft", "win_length", "hop_length", "n_mels"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"features.{key} must be positive, got {getattr(self, key)}")
        if self.win_length > self.n_fft:
            raise ConfigError(
                f"features.win_length ({self.win_length}) must be <= features.n_fft ({self.n_fft})"
            )
        if self.hop_length > self.n_fft:
            raise ConfigError(
                f"features.hop_length ({self.hop_length}) must be <= features.n_fft ({self.n_fft})"
            )
        nyquist = self.sample_rate / 2
        if self.f_min < 0:
            raise ConfigError(f"features.f_min must be >= 0, got {self.f_min}")
        if self.f_max is not None and not (0 < self.f_max <= nyquist):
            raise ConfigError(f"features.f_max must be in (0, {nyquist:g}] (sample_rate / 2), got {self.f_max}")
        if self.f_min >= self.f_max_hz:
            raise ConfigError(f"features.f_min ({self.f_min}) must be below f_max ({self.f_max_hz})")
        if not self.clip_duration > 0:
            raise ConfigError(f"features.clip_duration must be positive, got {self.clip_duration}")
        if self.n_frames() < 1:
            raise ConfigError(
                f"features.clip_duration ({self.clip_duration} s) is shorter than one hop "
                f"({self.frame_hop} s)"
            )
        if self.mel_scale not in ("slaney", "htk"):
            raise ConfigError(f"features.mel_scale must be 'slaney' or 'htk', got {self.mel_scale!r}")
        empty = np.flatnonzero(mel_filterbank(self).max(axis=0) <= 0)
        if empty.size:
            raise ConfigError(
                f"features.n_mels ({self.n_mels}) is too large for n_fft {self.n_fft} between "
                f"{self.f_min:g} and {self.f_max_hz:g} Hz: mel band(s) {empty.tolist()[:5]} get no FFT bin"
            )

    def identity(self) -> dict:
        """The values that determine the features (``f_max`` resolved, numbers normalised)."""
        return {
            "frontend_version": FRONTEND_VERSION,
            "sample_rate": int(self.sample_rate),
            "n_fft": int(self.n_fft),
            "win_length": int(self.win_length),
            "hop_length": int(self.hop_length),
            "n_mels": int(self.n_mels),
            "f_min": float(self.f_min),
            "f_max": self.f_max_hz,
            "clip_samples": self.clip_samples,
            "mel_scale": self.mel_scale,
        }

    def config_hash(self) -> str:
        """Stable 16-hex-digit hash of :meth:`identity` (same features <=> same hash).

        ``f_max=None`` and ``f_max=sample_rate/2`` hash alike, as do ``10`` and ``10.0``.
        """
        text = json.dumps(self.identity(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# ----- mel filter bank ----------------------------------------------------------------------------
_SLANEY_F_SP = 200.0 / 3  # Hz per mel in the linear part
_SLANEY_MIN_LOG_HZ = 1000.0  # start of the log part
_SLANEY_MIN_LOG_MEL = _SLANEY_MIN_LOG_HZ / _SLANEY_F_SP  # = 15 mel
_SLANEY_LOGSTEP = np.log(6.4) / 27.0  # 27 mel per factor 6.4 in frequency


def hz_to_mel(freqs: np.ndarray | float, scale: str = "slaney") -> np.ndarray:
    """Hertz -> mel on the Slaney (Auditory Toolbox) or HTK scale."""
    f = np.asarray(freqs, dtype=np.float64)
    if scale == "htk":
        return 2595.0 * np.log10(1.0 + f / 700.0)
    mel = f / _SLANEY_F_SP
    high = f >= _SLANEY_MIN_LOG_HZ
    return np.where(
        high,
        _SLANEY_MIN_LOG_MEL + np.log(np.maximum(f, _SLANEY_MIN_LOG_HZ) / _SLANEY_MIN_LOG_HZ) / _SLANEY_LOGSTEP,
        mel,
    )


def mel_to_hz(mels: np.ndarray | float, scale: str = "slaney") -> np.ndarray:
    """Mel -> hertz, inverse of :func:`hz_to_mel`."""
    m = np.asarray(mels, dtype=np.float64)
    if scale == "htk":
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    return np.where(
        m >= _SLANEY_MIN_LOG_MEL,
        _SLANEY_MIN_LOG_HZ * np.exp(_SLANEY_LOGSTEP * (m - _SLANEY_MIN_LOG_MEL)),
        _SLANEY_F_SP * m,
    )


def mel_filterbank(config: FeatureConfig) -> np.ndarray:
    """Triangular, area-normalised mel filters as an ``(n_freqs, n_mels)`` float32 matrix.

    ``power_spectrum (..., n_freqs) @ fb -> (..., n_mels)``. Band ``m`` rises linearly from the
    edge ``e[m]`` to ``e[m+1]`` and falls to ``e[m+2]``, with ``n_mels + 2`` edges equally spaced in
    mel between ``f_min`` and ``f_max``; it is scaled by ``2 / (e[m+2] - e[m])`` (Slaney norm).
    Equals ``librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax, htk=(mel_scale == "htk")).T``.
    """
    scale = config.mel_scale
    fft_freqs = np.linspace(0.0, config.sample_rate / 2, config.n_freqs)
    edges_mel = np.linspace(hz_to_mel(config.f_min, scale), hz_to_mel(config.f_max_hz, scale), config.n_mels + 2)
    edges = mel_to_hz(edges_mel, scale)  # (n_mels + 2,) Hz
    widths = np.diff(edges)  # (n_mels + 1,)
    # distance of every FFT bin from every edge: (n_mels + 2, n_freqs)
    dist = edges[:, None] - fft_freqs[None, :]
    rising = -dist[:-2] / widths[:-1, None]  # 0 at left edge, 1 at centre
    falling = dist[2:] / widths[1:, None]  # 1 at centre, 0 at right edge
    weights = np.maximum(0.0, np.minimum(rising, falling))  # (n_mels, n_freqs)
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return np.ascontiguousarray(weights.T, dtype=np.float32)


# ----- the module ---------------------------------------------------------------------------------
class LogMel(torch.nn.Module):
    """Waveform -> log-mel spectrogram on the jointsed time grid (see the module docstring).

    Args:
        config: front-end settings (validated here).
    Shapes:
        forward(wav: (B, N) or (N,) float) -> (B, T, n_mels) or (T, n_mels) float32,
        T = N // hop_length. Runs on whatever device the module and input are on (CPU, CUDA).
    """

    def __init__(self, config: FeatureConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or FeatureConfig()
        config.validate()
        self.n_fft = config.n_fft
        self.hop_length = config.hop_length
        self.win_length = config.win_length
        # Zero padding that centres frame t on (t + 0.5) * hop and yields N // hop frames.
        self.pad_left = (config.n_fft - config.hop_length) // 2
        self.pad_right = config.n_fft - config.hop_length - self.pad_left
        self.register_buffer("window", torch.hann_window(config.win_length, periodic=True), persistent=False)
        self.register_buffer("mel_fb", torch.from_numpy(mel_filterbank(config)), persistent=False)

    def extra_repr(self) -> str:
        c = self.config
        return (
            f"sample_rate={c.sample_rate}, n_fft={c.n_fft}, win_length={c.win_length}, "
            f"hop_length={c.hop_length}, n_mels={c.n_mels}, f_min={c.f_min}, f_max={c.f_max_hz}, "
            f"mel_scale={c.mel_scale!r}"
        )

    def power_spectrogram(self, wav: torch.Tensor) -> torch.Tensor:
        """(B, N) -> (B, T, n_freqs) power spectrum |X|^2 on the jointsed frame grid."""
        frames = wav.shape[-1] // self.hop_length
        if frames == 0:
            return wav.new_zeros(wav.shape[0], 0, self.n_fft // 2 + 1)
        padded = F.pad(wav, (self.pad_left, self.pad_right))
        spec = torch.stft(
            padded,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window,
            center=False,
            return_complex=True,
        )  # (B, n_freqs, T)
        # re^2 + im^2: the same bits as view_as_real(spec).pow(2).sum(-1) (tests/audio/test_features.py),
        # without its slow size-2 reduction (~5x faster; it was most of the front-end's time), so
        # cached features stay valid (FRONTEND_VERSION unchanged)
        power = spec.real.square() + spec.imag.square()
        return power.transpose(1, 2)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        squeeze = wav.dim() == 1
        if squeeze:
            wav = wav.unsqueeze(0)
        if wav.dim() != 2:
            raise ValueError(f"LogMel expects (B, N) or (N,) waveforms, got shape {tuple(wav.shape)}")
        wav = wav.to(dtype=torch.float32)
        mel = torch.matmul(self.power_spectrogram(wav), self.mel_fb)  # (B, T, n_mels)
        out = torch.log(mel + LOG_EPS)
        return out[0] if squeeze else out


_LOGMEL_CPU: dict[str, LogMel] = {}


def _cpu_logmel(config: FeatureConfig) -> LogMel:
    key = config.config_hash()
    module = _LOGMEL_CPU.get(key)
    if module is None:
        module = _LOGMEL_CPU[key] = LogMel(config).eval()
    return module


def waveform_to_logmel(wav: np.ndarray, config: FeatureConfig | None = None) -> np.ndarray:
    """Log-mel of a mono waveform already at ``config.sample_rate`` (no padding / cropping).

    Args:
        wav: (N,) float.
    Returns:
        (N // hop_length, n_mels) float32.
    """
    config = config or FeatureConfig()
    with torch.inference_mode():
        out = _cpu_logmel(config)(torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32)))
    return out.numpy()


def extract_logmel(path: str | os.PathLike, config: FeatureConfig | None = None) -> np.ndarray:
    """Load one clip, resample, zero-pad / crop it to ``clip_duration``, return its log-mel.

    Returns:
        (config.n_frames(), n_mels) float32 (500 x 64 by default).
    Raises:
        AudioError: naming the file when it cannot be used.
    """
    config = config or FeatureConfig()
    wav = fix_length(load_audio(path, config.sample_rate), config.clip_samples)
    return waveform_to_logmel(wav, config)
