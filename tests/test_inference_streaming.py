"""Inference without Lightning, and long files in bounded memory.

- :class:`jointsed.runs.predictor.Predictor` (what ``Detector.from_checkpoint`` and ``jointsed
  predict`` use) gives bit-identical scores to ``SEDSystem.predict_scores`` of the reloaded
  Lightning system, for the guided-learning (with its distillation adapters in the checkpoint),
  mean-teacher and frame-teacher systems;
- ``import jointsed.inference`` and a whole ``jointsed predict`` run import no Lightning;
- streamed prediction (:meth:`Detector.predict_streamed`) equals the whole-file path, and a
  20-minute 44.1 kHz stereo file streams in a few MB of numpy memory.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from jointsed.audio.features import FeatureConfig, waveform_to_logmel
from jointsed.audio.io import fix_length, load_audio
from jointsed.audio.stream import StreamInfo, stream_logmel_windows
from jointsed.inference import Detector, _window_starts
from jointsed.systems import load_system
from jointsed.runs.checkpoint import CheckpointError, read_checkpoint
from jointsed.runs.predictor import Predictor
from jointsed.training.config import load_recipe
from jointsed.training.phases import frame_teacher_config
from jointsed.runs.checkpoint import CHECKPOINT_FORMAT
from jointsed.systems import ModelInfo, build_system
from jointsed.recipes import recipes_root

REPO = Path(__file__).resolve().parents[1]
CLASSES = ["Alarm_bell_ringing", "Blender", "Cat", "Dishes"]
SMALL = [f"data.classes=[{','.join(CLASSES)}]", "features.clip_duration=5.0"]
TINY_GL = SMALL + ["model.teacher.width=0.25", "model.student.channels=[8,8,8]"]
TINY_MT = SMALL + ["model.crnn.width=0.25", "model.crnn.rnn_hidden=16"]


def _checkpoint(config, path: Path, seed: int = 0) -> Path:
    """A checkpoint as the engine writes it, of a system with random weights, input statistics
    and batch-norm statistics (so that every stored tensor matters)."""
    fc = config.features
    info = ModelInfo(classes=CLASSES, class_ratios=[0.1, 0.4, 0.2, 0.9], median_windows=[3, 5, 7, 9],
                     frame_hop=fc.frame_hop, n_frames=fc.n_frames(), feature_config=fc.to_dict())
    torch.manual_seed(seed)
    system = build_system(config, info)
    with torch.no_grad():
        for name, tensor in system.state_dict().items():
            if tensor.is_floating_point():
                tensor.add_(0.05 * torch.randn_like(tensor))
                if "running_var" in name or name == "feature_std":
                    tensor.abs_().add_(0.5)
    ckpt = {"state_dict": system.state_dict(), "epoch": 0}
    system.on_save_checkpoint(ckpt)
    torch.save(ckpt, path)
    return path


def _systems(tmp_path: Path) -> dict[str, Path]:
    joint = load_recipe(recipes_root() / "cpu" / "joint.yaml", TINY_GL)  # GL + distillation adapters
    return {
        "guided_learning": _checkpoint(joint, tmp_path / "gl.ckpt", 1),
        "mean_teacher": _checkpoint(load_recipe(recipes_root() / "cpu" / "crnn_mean_teacher.yaml", TINY_MT),
                                    tmp_path / "mt.ckpt", 2),
        "frame_teacher": _checkpoint(frame_teacher_config(joint), tmp_path / "ft.ckpt", 3),
    }


@pytest.mark.parametrize("which", ["guided_learning", "mean_teacher", "frame_teacher"])
def test_predictor_scores_equal_the_lightning_system(which, tmp_path):
    path = _systems(tmp_path)[which]
    system = load_system(path)
    assert system.config.system == which
    features = torch.randn(3, system.info.n_frames, system.config.features.n_mels) * 4 - 8
    detector = Detector.from_checkpoint(path)
    assert isinstance(detector.system, Predictor)
    with torch.no_grad():
        expected = system.predict_scores(features)
        got = detector.system.predict_scores(features)
    for e, g in zip(expected, got):
        assert e.dtype == g.dtype == torch.float32 and torch.equal(e, g)
    assert detector.system.postprocess_params() == system.postprocess_params()
    # the other network / the EMA teacher, chosen at load time, also match
    if which == "guided_learning":
        system.config.guided_learning.clip_scores_from = "student"
        other = Detector.from_checkpoint(path, clip_scores_from="student").system
    elif which == "mean_teacher":
        system.config.mean_teacher.predict_with = "teacher"
        other = Detector.from_checkpoint(path, predict_with="teacher").system
    else:
        return
    with torch.no_grad():
        e_clip, _ = system.predict_scores(features)
        o_clip, _ = other.predict_scores(features)
    assert torch.equal(e_clip, o_clip) and not torch.equal(e_clip, expected[0])


@pytest.mark.parametrize("which", ["guided_learning", "mean_teacher"])
def test_bf16_precision_stays_near_fp32(which, tmp_path):
    """``precision="bf16"``: the fast path (guided-learning CNNs) and torch.autocast (the CRNN)
    give float32 scores within bfloat16's rounding of the fp32 ones; a wrong name is refused."""
    path = _systems(tmp_path)[which]
    fp32 = Detector.from_checkpoint(path).system
    bf16 = Detector.from_checkpoint(path, precision="bf16").system
    windows = torch.randn(4, fp32.info.n_frames, fp32.feature_mean.numel()) * 4 - 8
    starts = [0, 100, 200, 300]
    for scores in (lambda p: p.window_scores(windows, starts), lambda p: p.predict_scores(windows)):
        ref, got = scores(fp32), scores(bf16)
        for r, g in zip(ref, got):
            assert g.dtype == torch.float32 and g.shape == r.shape and r.std() > 1e-3
            assert 0 < (g - r).abs().max() < 0.03  # measured up to ~5e-3
    with pytest.raises(CheckpointError, match="precision 'fp16': choose one of fp32, bf16"):
        Detector.from_checkpoint(path, precision="fp16")


def test_bf16_on_a_cpu_without_bfloat16_instructions_warns(tmp_path, monkeypatch):
    path = _systems(tmp_path)["guided_learning"]
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    with pytest.warns(RuntimeWarning, match="no bfloat16 instructions"):
        Detector.from_checkpoint(path, precision="bf16")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Detector.from_checkpoint(path)  # fp32: nothing to say
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Detector.from_checkpoint(path, precision="bf16")  # AMX: fast


def test_systems_write_the_block_the_reader_reads(tmp_path):
    """Checkpoints written by the Lightning systems carry the format the reader requires, and
    their settings read back typed (the Predictor, without Lightning, builds from them)."""
    from jointsed.runs.settings import split_meta

    for name, path in _systems(tmp_path).items():
        block = read_checkpoint(path)["jointsed"]
        assert block["format"] == CHECKPOINT_FORMAT and block["system"] == name
        info, phase = split_meta(block["meta"])
        assert info.classes == CLASSES and info.median_windows == [3, 5, 7, 9] and phase.stage is None


def _write_noise(path: Path, seconds: float, sr: int, channels: int, seed: int = 0, subtype: str = "PCM_16") -> None:
    """Tones in noise, written block by block (never the whole file in memory): 10-s blocks of
    one of 4 tones, the noise drawn once and reused (keeps a 20-minute file quick to write)."""
    rng = np.random.default_rng(seed)
    block = 10 * sr
    noise = (0.05 * rng.standard_normal((block, channels))).astype(np.float32)
    t = np.arange(block) / sr
    tones = [(0.3 * np.sin(2 * np.pi * (500 + 300 * k) * t)).astype(np.float32)[:, None] for k in range(4)]
    with sf.SoundFile(path, "w", samplerate=sr, channels=channels, subtype=subtype) as f:
        done, i = 0, 0
        total = int(seconds * sr)
        while done < total:
            n = min(block, total - done)
            f.write(tones[i % 4][:n] + noise[:n])
            done, i = done + n, i + 1


@pytest.mark.parametrize("seconds,sr,channels", [(37.3, 44100, 2), (3.0, 22050, 1), (12.0, 16000, 1)])
def test_streamed_windows_equal_whole_file_features(tmp_path, seconds, sr, channels):
    fc = FeatureConfig(clip_duration=5.0)
    path = tmp_path / "a.wav"
    _write_noise(path, seconds, sr, channels, subtype="FLOAT")
    wav = load_audio(path, fc.sample_rate)
    n = wav.shape[-1]
    full = waveform_to_logmel(fix_length(wav, max(n, fc.clip_samples)), fc)
    window, hop = fc.n_frames(), fc.n_frames() // 2
    info = StreamInfo()
    got = list(stream_logmel_windows(path, fc, window, hop, info, block_seconds=2.0))
    assert [s for s, _ in got] == _window_starts(full.shape[0], window, hop)
    for start, w in got:
        assert np.array_equal(w, full[start : start + window])
    assert (info.num_samples, info.n_frames, info.total_frames) == (n, n // fc.hop_length, full.shape[0])


def test_streamed_prediction_equals_whole_file_prediction(tmp_path):
    ckpt = _systems(tmp_path)["guided_learning"]
    audio = tmp_path / "long.wav"
    _write_noise(audio, 23.7, 44100, 2)
    whole = Detector.from_checkpoint(ckpt, batch_size=3, stream_above=float("inf")).predict(audio)
    streamed = Detector.from_checkpoint(ckpt, batch_size=3, stream_above=0.0).predict(audio)
    assert np.array_equal(whole.frame_scores, streamed.frame_scores)
    assert np.array_equal(whole.clip_scores, streamed.clip_scores)
    assert whole.events == streamed.events and whole.duration == streamed.duration
    short = tmp_path / "short.wav"  # shorter than a clip: one zero-padded window either way
    _write_noise(short, 2.1, 16000, 1)
    a = Detector.from_checkpoint(ckpt, stream_above=float("inf")).predict(short)
    b = Detector.from_checkpoint(ckpt, stream_above=0.0).predict(short)
    assert np.array_equal(a.frame_scores, b.frame_scores) and np.array_equal(a.clip_scores, b.clip_scores)
    assert a.frame_scores.shape[0] == int(2.1 * 16000) // load_recipe(recipes_root() / "cpu" / "gl_baseline.yaml").features.hop_length


@pytest.mark.parametrize("hop", [None, 250])  # the default half-window hop; windows without overlap
def test_fast_path_equals_the_reference_path_on_the_full_size_model(hop, tmp_path, monkeypatch):
    """``jointsed predict``'s fast path for long files (``Predictor.window_scores``: folded batch
    norm, the PS once over overlapping windows) gives the reference ``predict_scores`` path's
    scores up to float round-off, on Lin's full-size PT and PS (5-s windows keep it quick)."""
    import jointsed.models.fast as fast

    ckpt = _checkpoint(load_recipe(recipes_root() / "dcase2019" / "joint.yaml", SMALL), tmp_path / "full.ckpt", 4)
    audio = tmp_path / "long.wav"
    _write_noise(audio, 23.7, 44100, 2)
    shared = []
    real = fast.overlapping_window_frames
    monkeypatch.setattr(fast, "overlapping_window_frames", lambda *a: shared.append(real(*a)) or shared[-1])
    for stream_above in (0.0, float("inf")):
        detector = Detector.from_checkpoint(ckpt, window_hop=hop, stream_above=stream_above)
        fast_pred = detector.predict(audio)
        detector.system.fast = False
        ref = detector.predict(audio)
        assert fast_pred.frame_scores.shape == ref.frame_scores.shape == (int(23.7 * 16000) // 320, len(CLASSES))
        np.testing.assert_allclose(fast_pred.frame_scores, ref.frame_scores, rtol=0, atol=1e-5)
        np.testing.assert_allclose(fast_pred.clip_scores, ref.clip_scores, rtol=0, atol=1e-5)
        assert ref.frame_scores.std() > 1e-3  # scores that vary: the comparison means something
    # with overlap the PS ran over the windows' union; without, window by window
    assert shared and all((frame is not None) == (hop is None) for frame in shared)


def test_twenty_minutes_of_stereo_stream_in_bounded_memory(tmp_path):
    # 64-ms frames (a third of the default 20-ms frames' front-end work: keeps the test quick)
    coarse = ["features.n_fft=1024", "features.win_length=1024", "features.hop_length=1024"]
    ckpt = _checkpoint(frame_teacher_config(load_recipe(recipes_root() / "cpu" / "joint.yaml", TINY_GL + coarse)),
                       tmp_path / "ft.ckpt")
    audio = tmp_path / "twenty_minutes.wav"
    _write_noise(audio, 20 * 60, 44100, 2)
    detector = Detector.from_checkpoint(ckpt, batch_size=16)
    assert detector._streams(audio)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    tracemalloc.start()
    try:
        pred = detector.predict(audio)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert pred.frame_scores.shape == (20 * 60 * 16000 // 1024, len(CLASSES))
    # the 4 tones take turns every 10 s: the scores follow the audio all the way to the end
    assert np.isfinite(pred.frame_scores).all() and pred.frame_scores[-100:].std(axis=0).max() > 0
    assert pred.duration == pytest.approx(1200.0)
    # the decoded file alone is 20 * 60 * 44100 * 2 * 4 B = 423 MB of float32; streamed, the
    # numpy peak is a few blocks of audio, one batch of windows and the (T, C) score accumulators
    assert peak < 40e6, f"numpy peak {peak / 1e6:.1f} MB"
    assert rss_growth_mb < 150, f"peak RSS grew by {rss_growth_mb:.0f} MB"


def test_predict_imports_no_lightning(tmp_path):
    ckpt = _systems(tmp_path)["mean_teacher"]
    audio = tmp_path / "clip.wav"
    _write_noise(audio, 7.0, 16000, 1)
    code = (
        "import sys\n"
        "import jointsed.inference\n"
        "assert 'lightning' not in sys.modules and 'jointsed.training' not in sys.modules, 'import'\n"
        "from jointsed.cli import main\n"
        f"rc = main(['predict', {str(ckpt)!r}, {str(audio)!r}, '--out', {str(tmp_path / 'out.tsv')!r}, '--no-progress'])\n"
        "assert rc == 0\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('lightning', 'pytorch_lightning', 'jointsed.training')))\n"
        "assert not bad, bad[:5]\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "out.tsv").read_text().startswith("filename\tonset\toffset\tevent_label")
