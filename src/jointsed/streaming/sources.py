"""Audio sources for ``jointsed stream``: blocks of mono float32 samples at the model's rate.

* a file (any format soundfile reads), decoded block by block;
* standard input: a WAV stream (``arecord -f S16_LE -r 16000 -t wav``, ``ffmpeg ... -f wav -``;
  the header's data size may be unknown) or raw PCM (``--rate``, ``--channels``,
  ``--sample-format`` say what it is: raw bytes carry no header);
* a microphone (the optional ``sounddevice`` package).

Any channel count is mixed to mono; any rate is resampled (soxr's streaming resampler, the
quality of :func:`jointsed.audio.io.resample`). Bad input gets a :class:`StreamingError`: a
header that is no WAV or an unsupported encoding, a ``--rate`` contradicting the header, a raw
stream without ``--rate``, a stream that stops in the middle of a sample frame. Imports no torch.
"""

from __future__ import annotations

import queue
import struct
from pathlib import Path
from typing import BinaryIO, Iterator, Optional

import numpy as np
import soxr

from jointsed.audio.io import RESAMPLE_QUALITY, AudioError, _open, mix_to_mono
from jointsed.streaming.engines import StreamingError

#: raw sample formats: name -> (numpy dtype, bytes per sample)
SAMPLE_FORMATS = {"s16le": ("<i2", 2), "s24le": ("s24", 3), "s32le": ("<i4", 4), "f32le": ("<f4", 4)}
_SCALE = {"<i2": 32768.0, "s24": 8388608.0, "<i4": 2147483648.0, "<f4": 1.0}


class _Resampler:
    def __init__(self, rate: int, target: int) -> None:
        self.stream = None if rate == target else soxr.ResampleStream(rate, target, 1, dtype="float32",
                                                                       quality=RESAMPLE_QUALITY)

    def __call__(self, mono: np.ndarray, last: bool = False) -> np.ndarray:
        if self.stream is None:
            return mono
        return self.stream.resample_chunk(mono, last=last)


def file_chunks(path: str | Path, sample_rate: int, block_seconds: float = 1.0) -> Iterator[np.ndarray]:
    """Blocks of an audio file, mono at ``sample_rate`` (raises AudioError naming the file)."""
    import soundfile as sf

    path = Path(path)
    with _open(path) as f:
        if int(f.frames) <= 0:
            raise AudioError(path, "contains no audio samples (empty file)")
        resample = _Resampler(int(f.samplerate), sample_rate)
        try:
            for data in f.blocks(blocksize=max(256, int(block_seconds * f.samplerate)), dtype="float32", always_2d=True):
                mono = mix_to_mono(data)
                if not np.isfinite(mono).all():
                    raise AudioError(path, "contains NaN or infinite samples")
                yield resample(mono)
        except (sf.LibsndfileError, RuntimeError, ValueError, OSError) as exc:
            raise AudioError(path, f"cannot decode audio ({exc})") from None
        yield resample(np.zeros(0, dtype=np.float32), last=True)


def _decode(raw: bytes, dtype: str, channels: int) -> np.ndarray:
    if dtype == "s24":
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        ints = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        values = np.where(ints >= 1 << 23, ints - (1 << 24), ints).astype(np.float32)
    else:
        values = np.frombuffer(raw, dtype=dtype).astype(np.float32)
    values /= _SCALE[dtype]
    return mix_to_mono(values.reshape(-1, channels))


def _read_exact(stream: BinaryIO, n: int, what: str) -> bytes:
    data = b""
    while len(data) < n:
        more = stream.read(n - len(data))
        if not more:
            raise StreamingError(f"standard input: the stream ended inside the WAV header ({what}); is it a WAV stream? "
                                 "(raw PCM: --format raw --rate HZ)")
        data += more
    return data


def read_wav_header(stream: BinaryIO) -> tuple[int, int, str]:
    """``(rate, channels, dtype)`` of a WAV stream's header; the stream is left at the samples."""
    riff = _read_exact(stream, 12, "RIFF header")
    if riff[:4] not in (b"RIFF", b"RF64") or riff[8:12] != b"WAVE":
        raise StreamingError("standard input: not a WAV stream (no RIFF/WAVE header); for raw PCM give "
                             "--format raw --rate HZ [--channels N --sample-format s16le]")
    fmt: Optional[tuple[int, int, int, int]] = None
    while True:
        cid, size = struct.unpack("<4sI", _read_exact(stream, 8, "chunk header"))
        if cid == b"data":
            break
        body = _read_exact(stream, size + (size & 1), cid.decode("latin-1"))
        if cid == b"fmt ":
            code, channels, rate = struct.unpack("<HHI", body[:8])
            bits = struct.unpack("<H", body[14:16])[0]
            if code == 0xFFFE and len(body) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the sub-format's code
                code = struct.unpack("<H", body[24:26])[0]
            fmt = (code, channels, rate, bits)
    if fmt is None:
        raise StreamingError("standard input: WAV stream without a 'fmt ' chunk before its samples")
    code, channels, rate, bits = fmt
    dtypes = {(1, 16): "<i2", (1, 24): "s24", (1, 32): "<i4", (3, 32): "<f4"}
    if (code, bits) not in dtypes or channels < 1 or rate < 1:
        raise StreamingError(f"standard input: WAV encoding {code} with {bits}-bit samples, {channels} channel(s) at "
                             f"{rate} Hz is not supported (16/24/32-bit PCM or 32-bit float)")
    return rate, channels, dtypes[(code, bits)]


def pcm_chunks(stream: BinaryIO, sample_rate: int, fmt: str = "auto", rate: Optional[int] = None,
               channels: int = 1, sample_format: str = "s16le", block_seconds: float = 0.1) -> Iterator[np.ndarray]:
    """Blocks of a WAV or raw PCM byte stream (standard input), mono at ``sample_rate``.

    Args:
        fmt: "wav", "raw", or "auto" (WAV when the stream starts with a RIFF header).
        rate, channels, sample_format: raw PCM's layout (``rate`` required); with WAV, a ``rate``
            that contradicts the header is an error.
    """
    if fmt not in ("auto", "wav", "raw"):
        raise StreamingError(f"--format must be auto, wav or raw, got {fmt!r}")
    head = b""
    if fmt == "auto":  # the first bytes decide, and are put back in front
        while len(head) < 4:
            more = stream.read(4 - len(head))
            if not more:
                break
            head += more
        fmt = "wav" if head[:4] in (b"RIFF", b"RF64") else "raw"
    if fmt == "wav":
        if head:
            stream = _Prefixed(head, stream)
        file_rate, channels_, dtype = read_wav_header(stream)
        if rate is not None and rate != file_rate:
            raise StreamingError(f"--rate {rate} but the WAV header says {file_rate} Hz; leave --rate out for WAV input")
        rate, channels = file_rate, channels_
    else:
        if rate is None:
            raise StreamingError("raw PCM on standard input: give its sample rate with --rate HZ (and --channels, "
                                 "--sample-format if not mono s16le)")
        if sample_format not in SAMPLE_FORMATS:
            raise StreamingError(f"--sample-format must be one of {', '.join(SAMPLE_FORMATS)}, got {sample_format!r}")
        if rate < 1 or channels < 1:
            raise StreamingError(f"--rate and --channels must be positive, got {rate} and {channels}")
        dtype = SAMPLE_FORMATS[sample_format][0]
        if head:
            stream = _Prefixed(head, stream)
    width = {"<i2": 2, "s24": 3, "<i4": 4, "<f4": 4}[dtype] * channels
    resample = _Resampler(int(rate), sample_rate)
    block = max(1, int(block_seconds * rate)) * width
    rest = b""
    read = getattr(stream, "read1", stream.read)
    while True:
        data = read(block)
        if not data:
            break
        data = rest + data
        cut = len(data) - len(data) % width
        rest = data[cut:]
        if cut:
            mono = _decode(data[:cut], dtype, channels)
            if not np.isfinite(mono).all():
                raise StreamingError("standard input: NaN or infinite samples (is --sample-format right?)")
            yield resample(mono)
    if rest:
        raise StreamingError(f"standard input: the stream stopped in the middle of a sample frame ({len(rest)} of "
                             f"{width} bytes; {channels} channel(s) of {width // channels}-byte samples): truncated, or "
                             "--channels / --sample-format do not match it")
    yield resample(np.zeros(0, dtype=np.float32), last=True)


class _Prefixed:
    """A byte stream with some bytes already read put back in front."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self.head, self.stream = head, stream

    def read(self, n: int = -1) -> bytes:
        if self.head:
            out, self.head = self.head[:n], self.head[n:]
            return out
        return self.stream.read(n)

    read1 = read


def microphone_chunks(sample_rate: int, device: Optional[str] = None, block_seconds: float = 0.1) -> Iterator[np.ndarray]:
    """Blocks from a microphone (sounddevice), recorded at the model's rate; ends on Ctrl-C."""
    try:
        import sounddevice as sd
    except (ImportError, OSError) as exc:  # OSError: the package is there, PortAudio is not
        raise StreamingError(f"reading a microphone (--mic) needs the sounddevice package and PortAudio ({exc}); "
                             "pip install sounddevice") from None
    blocks: "queue.Queue[np.ndarray]" = queue.Queue()
    dev = int(device) if device is not None and device.isdigit() else device
    try:
        stream = sd.InputStream(samplerate=sample_rate, channels=1, dtype="float32", device=dev,
                                blocksize=max(1, int(block_seconds * sample_rate)),
                                callback=lambda data, frames, time, status: blocks.put(data[:, 0].copy()))
        stream.start()
    except Exception as exc:  # PortAudioError, ValueError (no such device): the device's own words
        raise StreamingError(f"the microphone {device or '(default)'} cannot be opened: {exc}") from None
    try:
        while True:
            yield blocks.get()
    except KeyboardInterrupt:
        return
    finally:
        stream.stop()
        stream.close()
