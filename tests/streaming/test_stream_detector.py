"""Streaming detection (:class:`jointsed.streaming.StreamingDetector`, ``jointsed stream``).

Stated tolerances, checked here on synthetic audio (tones in noise, random-weight models):

- frame scores of the stream equal the frame network run over the whole file at once within
  1e-5 (measured 6e-8), whatever the chunking; they equal offline ``predict``'s within 1e-5
  away from its windows' edges (offline averages windows whose edges see zero padding: there
  the difference was up to 6e-3);
- with the gate open, the stream's events are exactly Lin's events on its frame scores;
- the onnxruntime engine streams the torch engine's events, scores within 1e-4;
- a short stream with a look-ahead past its end is gated by (nearly) offline's clip scores.
"""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
import soundfile as sf
import torch

from jointsed.audio.io import load_audio
from jointsed.cli import main
from jointsed.export.runtime import OnnxDetector
from jointsed.export.to_onnx import export_onnx
from jointsed.inference import Detector, _window_starts
from jointsed.postprocess.params import PostProcessingParams
from jointsed.streaming.detector import StreamFrames, StreamingDetector
from jointsed.streaming.engines import StreamingError
from jointsed.streaming.sources import file_chunks, pcm_chunks
from test_inference_streaming import _systems, _write_noise


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("stream")
    ckpts = _systems(root)
    audio = root / "long.wav"
    _write_noise(audio, 23.7, 44100, 2)
    export_onnx(Detector.from_checkpoint(ckpts["guided_learning"]), root / "x")
    return ckpts, audio, root / "x"


def _chunks(wav: np.ndarray, seed: int) -> list[np.ndarray]:
    cuts = np.sort(np.random.default_rng(seed).integers(0, wav.size, 60))
    return np.split(wav, cuts)


def _run(detector, wav, seed=0, **kwargs):
    out = list(StreamingDetector(detector, frame_scores=True, **kwargs).run(_chunks(wav, seed)))
    frames = np.concatenate([o.scores for o in out if isinstance(o, StreamFrames)])
    return frames, [o for o in out if not isinstance(o, StreamFrames)]


def test_stream_frame_scores_equal_the_whole_file_network_and_offline_predict(setup):
    ckpts, audio, _ = setup
    det = Detector.from_checkpoint(ckpts["guided_learning"])
    wav = load_audio(audio, 16000)
    frames, _ = _run(det, wav)
    again, _ = _run(det, wav, seed=5)  # other chunk boundaries: the same frames
    feats, n, _ = det.features(audio)
    p = det.system
    with torch.no_grad():
        whole = p.nets[p._frame_net](p.normalize(torch.from_numpy(feats[None]))).frame[0, :n].numpy()
    assert frames.shape == (n, 4) and np.abs(frames - whole).max() <= 1e-5 and np.abs(again - frames).max() <= 1e-5
    offline = det.predict(audio).frame_scores
    left, right = 5, 5  # the tiny PS: three 5x5/5x5/3x3 convolutions -> 2 + 2 + 1 frames each side
    edge = np.zeros(n, dtype=bool)
    for s in _window_starts(feats.shape[0], det.window, det.window_hop):
        for e in (s, s + det.window):
            edge[max(0, e - right - 1) : e + left + 1] = True
    assert np.abs(frames - offline)[~edge].max() <= 1e-5
    assert np.abs(frames - offline)[edge].max() > 1e-5  # the stated difference is real


@pytest.mark.parametrize("gating", ["event", "frame"])
def test_open_gate_events_are_lin_events_of_the_streamed_scores(setup, gating):
    ckpts, audio, _ = setup
    det = Detector.from_checkpoint(ckpts["guided_learning"])
    params = dataclasses.replace(det.params, tag_threshold=[0.0] * 4, frame_threshold=[0.5] * 4,
                                 median_window=[3, 7, 4, 11], max_gap=[0.0, 0.2, 0.0, 0.5],
                                 min_duration=[0.0, 0.0, 0.12, 0.0])
    det.params = params
    wav = load_audio(audio, 16000)
    frames, events = _run(det, wav, lookahead=0.0, gating=gating)
    expected = params.events(np.ones(4), frames, det.frame_hop)
    got = sorted(events, key=lambda e: (e.onset, det.classes.index(e.event_label)))
    assert [(e.onset, e.offset, e.event_label) for e in got] == expected and len(expected) >= 3
    # a class whose threshold no clip score reaches is gated off, the others untouched
    shut = expected[0][2]
    c = det.classes.index(shut)
    det.params = dataclasses.replace(params, tag_threshold=[1.0 + (i == c) if i == c else 0.0 for i in range(4)])
    _, gated = _run(det, wav, lookahead=0.0, gating=gating)
    assert sorted((e.onset, e.offset, e.event_label) for e in gated) == sorted(x for x in expected if x[2] != shut)
    det.params = params
    latency = {row["class"]: row["seconds"] for row in StreamingDetector(det, lookahead=0.0, gating=gating).latency()}
    for e in events:  # emitted no later than the stated latency after the event's end (+ a chunk)
        assert e.emitted_at - e.offset <= latency[e.event_label] + 1.0


def test_onnxruntime_engine_streams_the_torch_engine_events(setup):
    ckpts, audio, folder = setup
    wav = load_audio(audio, 16000)
    a_frames, a_events = _run(Detector.from_checkpoint(ckpts["guided_learning"]), wav)
    b_frames, b_events = _run(OnnxDetector(folder), wav)
    via_api = list(OnnxDetector(folder).stream(_chunks(wav, 0)))
    assert [(e.onset, e.event_label) for e in via_api] == [(e.onset, e.event_label) for e in b_events]
    assert np.abs(a_frames - b_frames).max() <= 1e-4
    assert [(e.onset, e.offset, e.event_label) for e in a_events] == [(e.onset, e.offset, e.event_label) for e in b_events]


def test_a_short_stream_with_lookahead_past_its_end_is_gated_like_offline(setup):
    ckpts, _, root = setup
    det = Detector.from_checkpoint(ckpts["guided_learning"])
    short = root.parent / "short.wav"
    _write_noise(short, 3.3, 16000, 1, seed=3)
    offline = det.predict(short)
    sd = StreamingDetector(det, lookahead=60.0)
    from jointsed.streaming.detector import _State

    st = _State(sd)
    st.add(load_audio(short, 16000))
    list(st.advance(last=True))
    last_clip = st.evals[-1][1]
    assert np.abs(last_clip - offline.clip_scores).max() <= 1e-3


def test_clear_errors(setup, tmp_path, capsys):
    ckpts, audio, _ = setup
    with pytest.raises(StreamingError, match="time-local frame network"):
        StreamingDetector(Detector.from_checkpoint(ckpts["mean_teacher"]))
    with pytest.raises(StreamingError, match="lookahead must be a non-negative"):
        StreamingDetector(Detector.from_checkpoint(ckpts["guided_learning"]), lookahead=-1)
    det = Detector.from_checkpoint(ckpts["guided_learning"])
    with pytest.raises(StreamingError, match="NaN"):
        list(StreamingDetector(det).run([np.full(1000, np.nan, dtype=np.float32)]))
    empty = tmp_path / "run"
    empty.mkdir()
    assert main(["stream", str(empty), str(audio), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "no checkpoints/best.ckpt" in err and "Traceback" not in err


def _wav_bytes(wav: np.ndarray, sr: int, subtype: str) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, wav, sr, format="WAV", subtype=subtype)
    return buf.getvalue()


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "FLOAT"])
def test_stdin_wav_and_raw_streams_decode_as_the_file_does(tmp_path, subtype):
    rng = np.random.default_rng(0)
    wav = (0.3 * rng.standard_normal((44100 * 2 + 17, 2))).astype(np.float32)
    path = tmp_path / "a.wav"
    sf.write(path, wav, 44100, subtype=subtype)
    ref = np.concatenate(list(file_chunks(path, 16000)))
    got = np.concatenate(list(pcm_chunks(io.BytesIO(_wav_bytes(wav, 44100, subtype)), 16000)))
    assert got.shape == ref.shape and np.abs(got - ref).max() <= 1e-6
    if subtype == "PCM_16":  # the same samples as raw PCM
        raw = (np.clip(np.round(wav * 32768), -32768, 32767)).astype("<i2").tobytes()
        got = np.concatenate(list(pcm_chunks(io.BytesIO(raw), 16000, "raw", 44100, 2, "s16le")))
        assert np.abs(got - ref).max() <= 1e-4


def test_stdin_errors_are_clear():
    wav = _wav_bytes(np.zeros(1600, dtype=np.float32), 16000, "PCM_16")
    cases = [
        (io.BytesIO(b"\x01\x02" * 100 + b"\x03"), dict(fmt="raw", rate=16000), "middle of a sample frame"),
        (io.BytesIO(b"\x01\x02" * 100), dict(fmt="raw"), "give its sample rate with --rate"),
        (io.BytesIO(b"\x01\x02" * 100), dict(fmt="wav"), "not a WAV stream"),
        (io.BytesIO(wav), dict(rate=44100), "--rate 44100 but the WAV header says 16000"),
        (io.BytesIO(wav[:30]), dict(), "ended inside the WAV header"),
        (io.BytesIO(_wav_bytes(np.zeros(160), 16000, "PCM_U8")), dict(), "not supported"),
    ]
    for stream, kwargs, message in cases:
        with pytest.raises(StreamingError, match=message):
            list(pcm_chunks(stream, 16000, **kwargs))


def test_cli_streams_a_file_as_the_api_does(setup, capsys):
    ckpts, audio, _ = setup
    det = Detector.from_checkpoint(ckpts["guided_learning"])
    det.params = PostProcessingParams.uniform(det.classes, tag_threshold=0.0, median_window=3)
    params = det.params
    events = list(det.stream(file_chunks(audio, 16000)))  # Detector.stream: the API
    pp = audio.parent / "pp.json"
    params.save_json(pp)
    assert main(["stream", str(ckpts["guided_learning"]), str(audio), "--postprocess", str(pp)]) == 0
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert lines[0] == "onset\toffset\tevent_label\tconfidence" and "latency" in out.err
    rows = [line.split("\t") for line in lines[1:]]
    assert [(float(a), float(b), c) for a, b, c, _ in rows] == [(round(e.onset, 3), round(e.offset, 3), e.event_label)
                                                               for e in events]
    assert len(rows) >= 2


def test_a_microphone_that_cannot_be_opened_is_a_clear_error(monkeypatch):
    import sys
    import types

    from jointsed.streaming.sources import microphone_chunks

    fake = types.ModuleType("sounddevice")

    def refuse(**kwargs):
        raise ValueError("No input device matching 'usb'")

    fake.InputStream = refuse
    monkeypatch.setitem(sys.modules, "sounddevice", fake)
    with pytest.raises(StreamingError, match="microphone usb cannot be opened: No input device matching 'usb'"):
        next(microphone_chunks(16000, "usb"))
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # not installed
    with pytest.raises(StreamingError, match="needs the sounddevice package"):
        next(microphone_chunks(16000))
