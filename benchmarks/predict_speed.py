"""``jointsed predict`` speed on CPU: real-time factor of a long file, start-up included.

Builds a checkpoint of the FULL-SIZE joint model (the packaged ``dcase2019/joint``: Lin's PT and
PS widths, distillation adapters; random weights: speed does not depend on them), writes a
10-minute 44.1 kHz stereo file, then runs, each in a fresh process:

- ``python -c "import jointsed.inference"`` (start-up: imports only);
- ``python -c "import jointsed.training.systems"`` (what predict's start-up imported before
  inference stopped importing Lightning; for comparison);
- ``jointsed predict MODEL FILE --out OUT --no-progress`` (the whole command: start-up, checkpoint,
  streaming decode / resample / log-mel, both networks on every window, post-processing, TSV).

    python benchmarks/predict_speed.py                   # 2 threads, 10-minute file, 3 repeats
    python benchmarks/predict_speed.py --threads 1 --minutes 60

Prints a table and saves JSON (date, torch version, load average before/after, CPU count, the
exact commands) to ``benchmarks/results/predict_speed_cpu.json``. Timings on a loaded machine
are pessimistic: the JSON records the load average it saw.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from jointsed.training.config import load_recipe
from jointsed.training.systems import build_system
from jointsed.utils.atomic import atomic_write_json

REPO = Path(__file__).resolve().parents[1]
RECIPE = "dcase2019/joint"  # a packaged recipe (jointsed recipes)
# run the CLI like ``python -m jointsed`` and report this process's peak RSS on stderr
RUN_CLI = ("import resource, sys; from jointsed.cli import main; rc = main(sys.argv[1:]); "
           "print('MAXRSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); "
           "sys.exit(rc)")


def full_size_checkpoint(path: Path) -> dict:
    """A checkpoint of the full-size joint model, written as the engine writes one."""
    config = load_recipe(RECIPE)
    fc = config.features
    classes = list(config.data.classes)
    meta = {"classes": classes, "class_ratios": [float(r) for r in np.linspace(0.05, 0.5, len(classes))],
            "median_windows": [11] * len(classes), "frame_hop": fc.frame_hop, "n_frames": fc.n_frames(),
            "feature_config": fc.to_dict(), "feature_storage": "float16", "train_set_sizes": {}}
    torch.manual_seed(0)
    system = build_system(config, meta)
    system.set_feature_statistics(torch.full((fc.n_mels,), -6.0), torch.full((fc.n_mels,), 3.0))
    ckpt = {"state_dict": system.state_dict(), "epoch": 0}
    system.on_save_checkpoint(ckpt)
    torch.save(ckpt, path)
    n_params = sum(p.numel() for p in system.parameters())
    used = sum(p.numel() for n in ("teacher", "student") for p in getattr(system, n).parameters())
    return {"recipe": RECIPE, "parameters": n_params, "parameters_used_by_predict": used}


def write_audio(path: Path, seconds: float, sr: int = 44100, channels: int = 2) -> None:
    """Tones in noise, written in 10-s blocks (PCM 16)."""
    rng = np.random.default_rng(0)
    block = 10 * sr
    noise = (0.05 * rng.standard_normal((block, channels))).astype(np.float32)
    t = np.arange(block) / sr
    with sf.SoundFile(path, "w", samplerate=sr, channels=channels, subtype="PCM_16") as f:
        done, i = 0, 0
        while done < int(seconds * sr):
            n = min(block, int(seconds * sr) - done)
            tone = (0.3 * np.sin(2 * np.pi * (400 + 250 * (i % 5)) * t[:n])).astype(np.float32)[:, None]
            f.write(tone + noise[:n])
            done, i = done + n, i + 1


def timed(cmd: list[str], env: dict) -> tuple[float, int | None]:
    """Wall seconds of ``cmd`` in a fresh process, and its peak RSS (KiB) when it reports one."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    rss = [int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("MAXRSS_KB")]
    return wall, (rss[0] if rss else None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="torch / OpenMP threads (default 2)")
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the test file")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each command (the median is reported)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "predict_speed_cpu.json")
    args = parser.parse_args()

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads),
               PYTHONWARNINGS="ignore")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = full_size_checkpoint(tmp / "joint_full.ckpt")
        audio = tmp / f"long_{args.minutes:g}min_44k_stereo.wav"
        write_audio(audio, args.minutes * 60)
        seconds = args.minutes * 60
        commands = {
            "import jointsed.inference": [sys.executable, "-c", "import jointsed.inference"],
            "import jointsed.training.systems (Lightning)": [sys.executable, "-c", "import jointsed.training.systems"],
            "jointsed predict": [sys.executable, "-c", RUN_CLI, "predict", str(tmp / "joint_full.ckpt"), str(audio),
                                 "--out", str(tmp / "out.tsv"), "--no-progress", "--force"],
            # windows without overlap: half the network work (frame scores no longer averaged)
            "jointsed predict --window-hop 10": [sys.executable, "-c", RUN_CLI, "predict", str(tmp / "joint_full.ckpt"),
                                                 str(audio), "--out", str(tmp / "out.tsv"), "--no-progress",
                                                 "--force", "--window-hop", "10"],
        }
        rows = []
        for name, cmd in commands.items():
            runs = [timed(cmd, env) for _ in range(args.repeats)]
            walls = [w for w, _ in runs]
            rss = [r for _, r in runs if r is not None]
            predict = name.startswith("jointsed predict")
            row = {"what": name, "seconds_median": statistics.median(walls), "seconds_all": walls,
                   "command": " ".join(cmd) if not predict else
                   f"{name.replace('jointsed predict', f'jointsed predict MODEL {audio.name} --out OUT --no-progress')}"
                   "  (run as python -c '<jointsed.cli.main(argv); print peak RSS>' predict ...)"}
            if predict:
                row["audio_seconds"] = seconds
                row["real_time_factor"] = seconds / row["seconds_median"]
                row["peak_rss_mb"] = max(rss) / 1024 if rss else None
            rows.append(row)
            print(f"{name:45s} {row['seconds_median']:7.2f} s" +
                  (f"   {row['real_time_factor']:6.1f}x real time, peak RSS {row['peak_rss_mb']:.0f} MB"
                   if "real_time_factor" in row else ""), flush=True)
    load_after = os.getloadavg()
    print(f"\nCPU: {platform.processor() or 'cpu'}, {os.cpu_count()} cores, {args.threads} threads; load average "
          f"before {load_before[0]:.2f} / after {load_after[0]:.2f}; torch {torch.__version__}")
    atomic_write_json(args.out, {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "torch": torch.__version__, "python": platform.python_version(), "cpu_count": os.cpu_count(),
        "threads": args.threads, "load_average_before": list(load_before), "load_average_after": list(load_after),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "model": model, "audio": {"minutes": args.minutes, "sample_rate": 44100, "channels": 2, "format": "wav PCM_16"},
        "results": rows,
    })
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
