"""Shared test constants and small builders (importable from every test folder: pyproject.toml
puts ``tests/`` on ``sys.path``). Fixtures are in ``conftest.py``.

- :func:`make_numpy_dataset`: a DESED-layout dataset of tone events in noise (the fixtures
  ``tiny_dataset``'s fallback and ``learnable_dataset`` use it);
- recipes and the overrides that make them tiny (``TINY_GL``, ``TINY_MT``, ``TINY_JOINT``...),
  so that each training run takes seconds on a 2-core CPU;
- checkpoint helpers (:func:`state_of`, :func:`assert_same_weights`) and :class:`FitRecorder`.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from lightning.pytorch.callbacks import Callback

from jointsed.data.annotations import Event, write_durations_tsv, write_strong_tsv
from jointsed.data.classes import DESED_CLASSES
from jointsed.recipes import recipes_root
from jointsed.runs.checkpoint import weights_checksum
from jointsed.systems.frame_teacher import FrameTeacherSystem
SAMPLE_RATE = 16000


CLIP_SECONDS = 10.0


def _tone_class_frequencies() -> dict[str, float]:
    freqs = np.geomspace(300.0, 6000.0, len(DESED_CLASSES))
    return {c: float(f) for c, f in zip(DESED_CLASSES, freqs)}


def _render(events: list[tuple[str, float, float]], rng: np.random.Generator, seconds: float) -> np.ndarray:
    n = int(SAMPLE_RATE * seconds)
    t = np.arange(n) / SAMPLE_RATE
    wav = 0.01 * rng.standard_normal(n)
    freqs = _tone_class_frequencies()
    for label, onset, offset in events:
        a, b = int(onset * SAMPLE_RATE), int(offset * SAMPLE_RATE)
        f = freqs[label] * (1 + 0.02 * rng.standard_normal())
        wav[a:b] += 0.2 * np.sin(2 * np.pi * f * t[a:b])
    return wav.astype(np.float32)


def _random_events(rng: np.random.Generator, classes: list[str], seconds: float,
                   max_events: int = 3) -> list[tuple[str, float, float]]:
    events = []
    for _ in range(int(rng.integers(1, max_events + 1))):
        label = classes[int(rng.integers(len(classes)))]
        length = float(rng.uniform(0.1, 0.9)) * seconds
        onset = float(rng.uniform(0.0, seconds - length))
        events.append((label, round(onset, 3), round(onset + length, 3)))
    return events


def make_numpy_dataset(root: Path, n_weak: int, n_synthetic: int, n_unlabelled: int, n_validation: int,
                       seed: int = 0, classes: list[str] | None = None, clip_seconds: float = CLIP_SECONDS) -> Path:
    """Write a DESED-layout dataset of tone events in noise (see the module docstring)."""
    rng = np.random.default_rng(seed)
    classes = list(classes or DESED_CLASSES)
    for sub in ("audio/train/weak", "audio/train/synthetic", "audio/train/unlabel_in_domain",
                "audio/validation", "metadata/train", "metadata/validation"):
        (root / sub).mkdir(parents=True, exist_ok=True)

    weak_lines = ["filename\tevent_labels"]
    for i in range(n_weak):
        events = _random_events(rng, classes, clip_seconds)
        name = f"weak_{i:04d}.wav"
        sf.write(root / "audio/train/weak" / name, _render(events, rng, clip_seconds), SAMPLE_RATE)
        labels = [c for c in DESED_CLASSES if c in {e[0] for e in events}]
        weak_lines.append(f"{name}\t{','.join(labels)}")
    (root / "metadata/train/weak.tsv").write_text("\n".join(weak_lines) + "\n")

    def strong_set(n: int, folder: str, prefix: str, empty_every: int = 0) -> list[str]:
        lines = ["filename\tonset\toffset\tevent_label"]
        for i in range(n):
            events = [] if empty_every and i % empty_every == 0 else _random_events(rng, classes, clip_seconds)
            name = f"{prefix}_{i:04d}.wav"
            sf.write(root / folder / name, _render(events, rng, clip_seconds), SAMPLE_RATE)
            if not events:
                lines.append(f"{name}\t\t\t")
            for label, on, off in events:
                lines.append(f"{name}\t{on}\t{off}\t{label}")
        return lines

    syn = strong_set(n_synthetic, "audio/train/synthetic", "syn")
    (root / "metadata/train/synthetic.tsv").write_text("\n".join(syn) + "\n")
    val = strong_set(n_validation, "audio/validation", "val", empty_every=7)
    (root / "metadata/validation/validation.tsv").write_text("\n".join(val) + "\n")
    durations = ["filename\tduration"] + [f"val_{i:04d}.wav\t{clip_seconds}" for i in range(n_validation)]
    (root / "metadata/validation/validation_durations.tsv").write_text("\n".join(durations) + "\n")

    unl = ["filename"]
    for i in range(n_unlabelled):
        name = f"unl_{i:04d}.wav"
        sf.write(root / "audio/train/unlabel_in_domain" / name, _render(_random_events(rng, classes, clip_seconds), rng, clip_seconds), SAMPLE_RATE)
        unl.append(name)
    (root / "metadata/train/unlabel_in_domain.tsv").write_text("\n".join(unl) + "\n")
    return root


#: classes of :func:`learnable_dataset` (recipes trained on it set ``data.classes`` to these)
LEARNABLE_CLASSES = list(DESED_CLASSES[:4])
LEARNABLE_CLIP_SECONDS = 5.0


# ----- recipes ------------------------------------------------------------------------------------
GL_RECIPE = recipes_root() / "cpu" / "gl_baseline.yaml"
MT_RECIPE = recipes_root() / "cpu" / "crnn_mean_teacher.yaml"
JOINT_RECIPE = recipes_root() / "cpu" / "joint.yaml"

# ----- tiny overrides for the 4-class 5-s ``learnable_dataset`` ---------------------------------------
COMMON = [
    f"features.clip_duration={LEARNABLE_CLIP_SECONDS}",
    f"data.classes=[{','.join(LEARNABLE_CLASSES)}]",
    "trainer.num_threads=1",
    "trainer.progress_bar=false",
]

# Tiny networks; batch-norm momentum 0.1 so that the running statistics used at validation
# settle within the few dozen steps of a test run (Lin's 0.01 needs hundreds).
TINY_GL_SIZES = ["model.teacher.width=0.25", "model.student.channels=[8,8,8]"]
TINY_GL_NETS = TINY_GL_SIZES + [
    "model.teacher.bn_momentum=0.1",
    "model.student.bn_momentum=0.1",
    "batch.batch_size=8",
    "optimizer.lr=0.01",
    "guided_learning.teacher_weight_start=1",
]
TINY_GL = COMMON + TINY_GL_NETS
#: only the tiny network sizes (no training settings): tests that build a system or load data
TINY_GL_WIDTHS = COMMON + TINY_GL_SIZES

TINY_MT = COMMON + [
    "model.crnn.width=0.25",
    "model.crnn.rnn_hidden=16",
    "batch.composition={synthetic: 4, weak: 4, unlabelled: 2}",
    "optimizer.lr=0.01",
    "optimizer.warmup_epochs=1",
    "mean_teacher.rampup_epochs=2",
]

#: a short tiny GL run (8 clips per set, 1 epoch): the ``short_gl_run`` fixture
RUN_SETS = TINY_GL + ["data.max_clips_per_set=8", "validation.event_f1=false", "trainer.max_epochs=1"]
#: fewer clips, no event F1 (determinism and resume tests)
SHORT = ["data.max_clips_per_set=12", "validation.event_f1=false"]

TINY_JOINT = TINY_GL + [
    "data.max_clips_per_set=16",
    "trainer.max_epochs=3",
    "joint.two_stage.epochs=2",
    "joint.distillation.teacher_epochs=3",
]


# ----- tiny overrides for the 10-class 10-s ``tiny_dataset`` (pipeline, CLI) ----------------------------
#: the ``trained_run`` fixture: 2 epochs of a tiny guided-learning model
PIPELINE_GL = ["trainer.num_threads=1", "trainer.max_epochs=2", *TINY_GL_NETS]
VALIDATION_TSV = "metadata/validation/validation.tsv"
VALIDATION_DUR = "metadata/validation/validation_durations.tsv"
#: ``jointsed demo`` / :func:`jointsed.pipeline.run_demo` with a tiny network, one epoch
DEMO_TINY = [
    "trainer.num_threads=1",
    "trainer.max_epochs=1",
    "model.teacher.width=0.25",
    "model.student.channels=[8,8,8]",
    "batch.batch_size=8",
]



# ----- losses ---------------------------------------------------------------------------------------
def random_probs(*shape: int, seed: int = 0) -> torch.Tensor:
    """Probabilities in [0.01, 0.99] of the given shape (reproducible)."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=g) * 0.98 + 0.01


# ----- metrics --------------------------------------------------------------------------------------
def sed_eval_class_f1(reference, estimated, classes, matching="optimal") -> dict:
    """Per-class event-based F1 of sed_eval (200 ms / 20 % collars) of two event lists."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import dcase_util
        import sed_eval

    metric = sed_eval.sound_event.EventBasedMetrics(
        event_label_list=list(classes), t_collar=0.2, percentage_of_length=0.2,
        empty_system_output_handling="zero_score", event_matching_type=matching,
    )
    files = sorted({e.filename for e in reference} | {e.filename for e in estimated})

    def container(events, f):
        return dcase_util.containers.MetaDataContainer(
            [dict(filename=e.filename, onset=e.onset, offset=e.offset, event_label=e.event_label)
             for e in events if e.filename == f]
        )

    for f in files:
        metric.evaluate(container(reference, f), container(estimated, f))
    results = metric.results_class_wise_metrics()
    return {c: results[c]["f_measure"]["f_measure"] for c in classes}


# ----- checkpoints ----------------------------------------------------------------------------------
def fresh_run_copy(run: Path, tmp_path: Path) -> Path:
    """A copy of a trained run's config and checkpoints, without what tune / evaluate / report
    derive from it (tests that write postprocess.json or eval/ into their own folder)."""
    import shutil

    from jointsed.runs.layout import EVAL_DIR, POSTPROCESS_FILE, REPORT_DIR, SCORES_DIR

    copy = tmp_path / "run"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns(SCORES_DIR, EVAL_DIR, POSTPROCESS_FILE, REPORT_DIR))
    return copy


def state_of(ckpt: Path) -> dict[str, torch.Tensor]:
    """The ``state_dict`` of a checkpoint file."""
    return torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]


def assert_same_weights(a: Path, b: Path) -> None:
    sa, sb = state_of(a), state_of(b)
    assert sa.keys() == sb.keys()
    different = [k for k in sa if not torch.equal(sa[k], sb[k])]
    assert not different, f"weights differ: {different[:5]}"


def weights_checksum_of(run: Path) -> str:
    return weights_checksum(state_of(run / "checkpoints" / "last.ckpt"))


def training_log(run: Path):
    """The Lightning CSV log of a run (a pandas DataFrame)."""
    import pandas as pd

    return pd.read_csv(run / "logs" / "csv" / "version_0" / "metrics.csv")


class FitRecorder(Callback):
    """Records, for every fit, the system's class, its phase metadata and its weights at the start,
    and the frozen frame teacher's weights at the end."""

    def __init__(self) -> None:
        self.fits: list[dict] = []

    def on_train_start(self, trainer, module) -> None:
        self.fits.append({"system": type(module).__name__, "stage": module.phase.stage,
                          "start_sha": weights_checksum(module)})

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        if isinstance(module, FrameTeacherSystem):
            self.fits[-1].setdefault("all_strong", True)
            self.fits[-1]["all_strong"] &= bool(batch["strong_mask"].all())

    def on_train_end(self, trainer, module) -> None:
        teacher = getattr(module, "frame_teacher", None)
        if teacher is not None:
            self.fits[-1]["teacher_end_sha"] = weights_checksum(teacher)
            self.fits[-1]["teacher_training"] = teacher.training


# ----- audio ------------------------------------------------------------------------------------
def sine(freq: float, sr: int, seconds: float, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(sr * seconds))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_frequency(wav: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(wav * np.hanning(len(wav))))
    return float(np.argmax(spectrum) * sr / len(wav))


def write_clip(path: Path, freq: float, sr: int = 16000, channels: int = 1, seconds: float = 2.0) -> Path:
    t = np.arange(int(sr * seconds)) / sr
    x = 0.3 * np.sin(2 * np.pi * freq * t)
    sf.write(path, np.stack([x] * channels, axis=1) if channels > 1 else x, sr, subtype="PCM_16")
    return path


def feature_clips(tmp_path: Path) -> list[Path]:
    """Six short clips of different rates and channel counts in ``tmp_path/audio``."""
    folder = tmp_path / "audio"
    folder.mkdir(exist_ok=True)
    return [write_clip(folder / f"c{i}.wav", 300 + 250 * i, sr=44100 if i % 2 else 16000, channels=1 + i % 2)
            for i in range(6)]


def bad_audio_files(tmp_path: Path) -> tuple[Path, Path]:
    """A corrupt WAV and an empty FLAC in ``tmp_path/audio``."""
    corrupt = tmp_path / "audio" / "corrupt.wav"
    corrupt.parent.mkdir(exist_ok=True)
    corrupt.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00garbage-garbage-garbage")
    empty = tmp_path / "audio" / "empty.flac"
    empty.write_bytes(b"")
    return corrupt, empty


def tone_file(path: Path, seconds: float, sr: int, channels: int, tones: list[tuple[float, float, float]]) -> Path:
    """Noise with sine tones ``(freq, onset, offset)``, written as a ``channels``-channel file."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sr)) / sr
    mono = 0.01 * rng.standard_normal(t.size)
    for f, on, off in tones:
        mask = (t >= on) & (t < off)
        mono[mask] += 0.2 * np.sin(2 * np.pi * f * t[mask])
    data = np.stack([mono] * channels, axis=1) if channels > 1 else mono
    sf.write(path, data.astype(np.float32), sr)
    return path


# ----- a small evaluation set (evaluator and ``jointsed evaluate`` tests) ---------------------------
EVAL_CLASSES = ("Cat", "Dog", "Speech")
EVAL_HOP = 0.02
EVAL_TRUTH = [
    Event("a.wav", 0.5, 2.0, "Dog"),
    Event("a.wav", 3.0, 6.5, "Speech"),
    Event("b.wav", 1.0, 1.5, "Cat"),
    Event("b.wav", 4.0, 9.0, "Dog"),
    Event("c.wav", 0.0, 10.0, "Speech"),
    Event("c.wav", 2.2, 2.8, "Cat"),
]
#: a clip of the ground truth without any event
EVAL_EMPTY_CLIP = "d.wav"


def write_eval_dataset(tmp_path: Path) -> tuple[Path, Path]:
    """``EVAL_TRUTH`` (+ the empty clip) as ``gt.tsv`` and 10-s ``durations.tsv`` in ``tmp_path``."""
    gt = tmp_path / "gt.tsv"
    durations = tmp_path / "durations.tsv"
    write_strong_tsv(gt, EVAL_TRUTH, empty_files=[EVAL_EMPTY_CLIP])
    write_durations_tsv(durations, {n: 10.0 for n in ("a.wav", "b.wav", "c.wav", EVAL_EMPTY_CLIP)})
    return gt, durations


# ----- hostile checkpoints (issue 11) ---------------------------------------------------------------
class CodePayload:
    """Unpickling this calls ``open(marker, "w")``: it creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def hostile_checkpoint(path: Path, marker: Path, base: Path | None = None) -> Path:
    """A checkpoint carrying :class:`CodePayload`; from ``base`` it is a real checkpoint plus the payload."""
    ckpt = torch.load(base, map_location="cpu", weights_only=True) if base else {"state_dict": {}}
    ckpt["callbacks"] = {"x": CodePayload(marker)}
    torch.save(ckpt, path)
    return path
