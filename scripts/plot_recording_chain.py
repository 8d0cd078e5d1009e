#!/usr/bin/env python
"""Render docs/img/recording_chain.png: the log-mel spectrogram (the models' front-end) of one
validation clip of ``jointsed synth``, as a clean soundscape and through the recording chain.

    python scripts/plot_recording_chain.py                       # seed 0 -> docs/img/recording_chain.png
    python scripts/plot_recording_chain.py --seed 3 --out /tmp/chain.png

The clip is the first validation clip (in file order) with at least three events whose recording
is made in a room with an RT60 of 0.6 s or more and holds a distractor sound, so the figure
shows every part of the chain. Nothing is written but the figure (atomically).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from jointsed.audio.features import FeatureConfig, waveform_to_logmel  # noqa: E402
from jointsed.data.synth.generate import SPLIT_BY_NAME, ClipRenderer, layout_to_task, plan_layouts  # noqa: E402
from jointsed.data.synth.presets import resolve_config  # noqa: E402
from jointsed.data.synth.recording_chain import RecordingChain  # noqa: E402
from jointsed.data.synth.sources import SyntheticSources  # noqa: E402
from jointsed.utils.atomic import atomic_path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img" / "recording_chain.png"
MIN_EVENTS = 3
MIN_RT60 = 0.6


def pick_clip(seed: int, max_clips: int = 200):
    """The clip's task, its clean soundscape, its recording and the chain that made it."""
    config = resolve_config("proxy")  # the proxy preset: the chain on with its default settings
    chain = RecordingChain.build(config.recording_chain, seed, config.sample_rate)
    renderer = ClipRenderer(config, seed, "", SyntheticSources(), chain=chain)
    clean = dataclasses.replace(renderer, chain=None)
    split_id = SPLIT_BY_NAME["validation"].split_id
    for index, layout in enumerate(plan_layouts(config, seed)["validation"][:max_clips]):
        task = layout_to_task("validation", index, layout, config)
        if len(task.events) < MIN_EVENTS:
            continue
        scape, _ = renderer.soundscape(task)
        recording = chain.record(scape, split_id, index, config.sample_rate, config.fade_duration)
        if recording.room is None or not recording.distractors or chain.bank.rooms[recording.room].rt60 < MIN_RT60:
            continue
        return task, clean.soundscape(task)[0], recording, chain, config
    raise SystemExit(f"no validation clip among the first {max_clips} fits; try another --seed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    task, clean, recording, chain, config = pick_clip(args.seed)
    sr = config.sample_rate
    features = FeatureConfig()
    hop_s = features.hop_length / features.sample_rate
    images = [waveform_to_logmel(x.astype(np.float32), features).T
              for x in (clean.mixture, recording.mixture)]
    low, high = (float(np.percentile(np.concatenate([i.ravel() for i in images]), p)) for p in (2, 99.8))
    room = chain.bank.rooms[recording.room]
    titles = [f"clean soundscape (as the synthetic split): {task.filename}",
              f"recorded (validation split): room {room.dims[0]:.1f} x {room.dims[1]:.1f} x {room.dims[2]:.1f} m, "
              f"RT60 {room.rt60:.2f} s, device, ambience, unlabelled distractors"]

    fig, axes = plt.subplots(2, 1, figsize=(8.0, 5.2), dpi=90, sharex=True)
    for ax, image, title in zip(axes, images, titles):
        ax.imshow(image, origin="lower", aspect="auto", cmap="magma", vmin=low, vmax=high,
                  extent=(0, image.shape[1] * hop_s, 0, image.shape[0]))
        ax.set_title(title, fontsize=8.5, loc="left")
        ax.set_ylabel("mel band")
        for row, (label, start, stop) in enumerate(task.events):  # the labels (the same in both)
            y = image.shape[0] - 4 - 5 * (row % 4)
            ax.plot([start / sr, stop / sr], [y, y], color="#7fffd4", lw=2.5, solid_capstyle="butt")
            ax.text(start / sr, y + 1, label, color="#7fffd4", fontsize=6.5, va="bottom")
    for sound in recording.distractors:  # never labelled
        axes[1].plot([sound.start / sr, sound.stop / sr], [3, 3], color="white", lw=2.5, ls=(0, (2, 1)))
        axes[1].text(sound.start / sr, 4, f"distractor: {sound.label} (no label)", color="white", fontsize=6.5)
    axes[1].set_xlabel("time (s)")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi)
    # a 64-colour palette: the noisy spectrogram texture makes a full-colour PNG 3x larger
    image = Image.open(buffer).convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    with atomic_path(args.out) as tmp:
        image.save(tmp, format="PNG", optimize=True)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1000:.0f} kB)")


if __name__ == "__main__":
    main()
