"""The log-mel front-end in numpy, for deployments without torch (the onnxruntime engine).

It computes what :class:`jointsed.audio.features.LogMel` computes (same time grid: ``N // hop``
frames, frame ``t`` centred on ``(t + 0.5) * hop``; periodic Hann window of ``win_length``
centred in the ``n_fft``-point FFT, as ``torch.stft`` pads it; power spectrum; mel matrix;
``log(mel + 1e-8)``), up to float round-off: the FFT runs in float64 here, in float32 in torch.

Why numpy and not the ONNX ``STFT`` operator: the mel matrix and the window are data written by
the export (``frontend.npz``, computed by the one owner of the mel filters,
:func:`jointsed.audio.features.mel_filterbank`), and a numpy FFT needs no operator support from
the runtime; the front-end is a small share of predict's time (the networks are most of it).

The filters are not recomputed here (they are read from the export), so this module imports
neither torch nor :mod:`jointsed.audio.features`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: as :data:`jointsed.audio.features.LOG_EPS` (written into the export and checked on load)
LOG_EPS = 1e-8


@dataclass
class NumpyLogMel:
    """Waveform -> log-mel on the jointsed frame grid, from the export's window and mel matrix.

    Args:
        n_fft, hop_length: FFT size and hop (samples).
        window: ``(n_fft,)`` analysis window, zero-padded to ``n_fft`` (centred).
        mel_fb: ``(n_fft // 2 + 1, n_mels)`` mel filters.
        log_eps: added before the log.
    """

    n_fft: int
    hop_length: int
    window: np.ndarray
    mel_fb: np.ndarray
    log_eps: float = LOG_EPS

    @property
    def pad_left(self) -> int:
        """Zero samples before the signal (``(n_fft - hop) // 2``, as ``LogMel``)."""
        return (self.n_fft - self.hop_length) // 2

    @property
    def pad_right(self) -> int:
        """Zero samples after the signal (``n_fft - hop - pad_left``)."""
        return self.n_fft - self.hop_length - self.pad_left

    @property
    def n_mels(self) -> int:
        return int(self.mel_fb.shape[1])

    def __call__(self, wav: np.ndarray) -> np.ndarray:
        """``(N,)`` mono float samples -> ``(N // hop, n_mels)`` float32 log-mel."""
        wav = np.asarray(wav, dtype=np.float64).reshape(-1)
        n_frames = wav.shape[0] // self.hop_length
        if n_frames == 0:
            return np.zeros((0, self.n_mels), dtype=np.float32)
        padded = np.concatenate([np.zeros(self.pad_left), wav, np.zeros(self.pad_right)])
        # frames as a strided view, then FFT in blocks (bounded temporary memory for long inputs)
        frames = np.lib.stride_tricks.sliding_window_view(padded, self.n_fft)[:: self.hop_length][:n_frames]
        out = np.empty((n_frames, self.n_mels), dtype=np.float32)
        window = self.window.astype(np.float64)
        fb = self.mel_fb.astype(np.float64)
        block = 4096
        for s in range(0, n_frames, block):
            spec = np.fft.rfft(frames[s : s + block] * window, n=self.n_fft, axis=-1)
            power = spec.real * spec.real + spec.imag * spec.imag
            out[s : s + block] = np.log(power @ fb + self.log_eps)
        return out
