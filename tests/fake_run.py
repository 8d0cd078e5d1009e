"""A fake run folder for the report tests: tone clips, ground truth, noisy frame scores, an
evaluation folder and Lightning CSV logs, but no model (``make_fake_run``; the ``fake_run``
fixture of conftest.py). ``CLASSES`` is read at call time (a test may patch it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from jointsed.audio.features import FeatureConfig
from jointsed.data.annotations import Event, write_durations_tsv, write_strong_tsv
from jointsed.data.classes import DESED_CLASSES
from jointsed.data.label_encoder import LabelEncoder
from jointsed.evaluate import evaluate_run, write_frame_scores
from jointsed.report import write_eval_folder


SR = 16000
HOP = 0.02
N_FRAMES = 500
CLASSES = list(DESED_CLASSES)


def _clip_events(rng: np.random.Generator, name: str, index: int) -> list[Event]:
    """Two fixed classes (so that a few clips cover every class, as PSDS requires) + 0-2 random."""
    labels = {CLASSES[(2 * index) % len(CLASSES)], CLASSES[(2 * index + 1) % len(CLASSES)]}
    labels |= set(rng.choice(CLASSES, size=int(rng.integers(0, 3)), replace=False))
    events = []
    for label in sorted(labels):
        length = float(rng.uniform(0.6, 4.0))
        onset = float(rng.uniform(0.0, 10.0 - length))
        events.append(Event(name, round(onset, 2), round(onset + length, 2), str(label)))
    return events


def _tone_clip(events: list[Event], rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(10 * SR)) / SR
    wav = 0.01 * rng.standard_normal(t.size)
    freqs = dict(zip(CLASSES, np.geomspace(250.0, 6000.0, len(CLASSES))))
    for e in events:
        a, b = int(e.onset * SR), int(e.offset * SR)
        wav[a:b] += 0.2 * np.sin(2 * np.pi * freqs[e.event_label] * t[a:b])
    return wav.astype(np.float32)


def _noisy_scores(truth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ground truth blurred in time with a random gain per class (some events barely detected),
    leaking into the next class, plus a few false bumps and smoothed noise."""
    n_frames, n_classes = truth.shape

    def smooth(x: np.ndarray, width: int) -> np.ndarray:
        kernel = np.ones(width) / width
        return np.apply_along_axis(lambda column: np.convolve(column, kernel, mode="same"), 0, x)

    blurred = smooth(truth, 15) * rng.uniform(0.3, 1.0, n_classes)
    bumps = np.zeros_like(truth)
    for _ in range(2):
        start = int(rng.integers(0, n_frames - 100))
        bumps[start : start + int(rng.integers(20, 100)), int(rng.integers(n_classes))] = rng.uniform(0.3, 0.8)
    scores = 0.8 * blurred + 0.3 * np.roll(blurred, 1, axis=1) + smooth(bumps, 9)
    scores += 0.4 * smooth(rng.uniform(0, 1, truth.shape), 5) - 0.15
    return np.clip(scores, 0.0, 1.0)


def make_fake_run(root: Path, n_clips: int = 8, seed: int = 0, stages: bool = False,
                  logs: bool = True) -> Path:
    """A run folder with ``eval/validation`` (real metrics), audio and a Lightning-style CSV log.

    With ``n_clips >= 6`` every class has ground-truth events; with fewer, some classes have none
    and the metrics come from the detections only (PSDS is undefined).
    """
    rng = np.random.default_rng(seed)
    data = root / "data"
    audio_dir = data / "audio" / "validation"
    audio_dir.mkdir(parents=True)
    names = [f"val_{i:03d}.wav" for i in range(n_clips)]
    truth = {name: _clip_events(rng, name, i) for i, name in enumerate(names)}
    truth[names[-1]] = []  # one clip without events
    for name in names:
        sf.write(audio_dir / name, _tone_clip(truth[name], rng), SR)
    gt = data / "validation.tsv"
    durations = data / "validation_durations.tsv"
    write_strong_tsv(gt, [e for evs in truth.values() for e in evs], empty_files=names)
    write_durations_tsv(durations, {name: 10.0 for name in names})

    encoder = LabelEncoder(CLASSES, frame_hop=HOP, n_frames=N_FRAMES)
    frame_scores = {name: _noisy_scores(encoder.encode_strong(truth[name]), rng) for name in names}
    clip_scores = {name: s.max(axis=0) for name, s in frame_scores.items()}
    predictions = [e for name in names for e in encoder.decode_strong(frame_scores[name] >= 0.5, name)]

    run = root / "run"
    work = root / "work"
    work.mkdir()
    write_strong_tsv(work / "predictions.tsv", predictions, empty_files=names)
    write_frame_scores(work / "scores", frame_scores, HOP, CLASSES)
    inputs = [work / "predictions.tsv"] + ([work / "scores"] if n_clips >= 6 else [])
    metrics = evaluate_run(gt, durations, inputs, classes=CLASSES)
    info = {
        "ground_truth": gt, "durations": durations, "audio_dir": audio_dir,
        "checkpoint": run / "checkpoints" / "best.ckpt", "postprocess": None, "split": "validation",
        "classes": CLASSES, "frame_hop": HOP, "features": FeatureConfig().to_dict(),
    }
    write_eval_folder(run / "eval" / "validation", predictions=predictions, frame_scores=frame_scores,
                      clip_scores=clip_scores, metrics=metrics, info=info)
    if logs:
        _write_lightning_csv(run / "logs" / "csv" / "metrics.csv", epochs=6, rng=rng)
    if stages:
        _write_lightning_csv(run / "stage2" / "logs" / "csv" / "metrics.csv", epochs=3, rng=rng)
    return run


def _write_lightning_csv(path: Path, epochs: int, rng: np.random.Generator, steps_per_epoch: int = 4) -> None:
    """Rows as Lightning's CSVLogger writes them: step rows with ``loss_step``, one epoch row with
    the epoch-level training values, one validation row."""
    columns = ["epoch", "step", "loss_step", "loss_epoch", "train/strong", "train/weak",
               "train/teacher_weight", "lr-Adam", "val/clip_f1", "val/event_f1", "val/score"]
    rows = []
    step = 0
    for epoch in range(epochs):
        # LearningRateMonitor(logging_interval="epoch"): epoch left empty, logged at the epoch start
        rows.append({"step": step, "lr-Adam": 1e-3 * 0.5**epoch})
        for _ in range(steps_per_epoch):
            step += 1
            rows.append({"epoch": epoch, "step": step, "loss_step": 1.0 / (epoch + 1) + 0.1 * rng.random()})
        rows.append({"epoch": epoch, "step": step, "loss_epoch": 1.0 / (epoch + 1),
                     "train/strong": 0.6 / (epoch + 1), "train/weak": 0.4 / (epoch + 1),
                     "train/teacher_weight": min(1.0, epoch / 3)})
        rows.append({"epoch": epoch, "step": step, "val/clip_f1": 0.3 + 0.1 * epoch,
                     "val/event_f1": 0.1 + 0.05 * epoch, "val/score": 0.1 + 0.05 * epoch})
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=columns).to_csv(path, index=False)
