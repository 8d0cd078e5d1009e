"""Time ``jointsed synth`` presets (and each sound generator) on this machine.

    python benchmarks/synth_presets.py            # tiny and demo
    python benchmarks/synth_presets.py --proxy    # also the proxy preset (3,168 clips)

Prints a table and saves benchmarks/results/synth_presets.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from jointsed.data.synth import FOREGROUND_GENERATORS, background, synthesize_dataset
from jointsed.utils.atomic import atomic_write_json
from provenance import provenance

RESULTS = Path(__file__).resolve().parent / "results" / "synth_presets.json"


def time_generators(sample_rate: int = 16000, seconds: float = 2.0, repeats: int = 10) -> dict[str, float]:
    """Milliseconds per generated second of audio, per class (median over seeds)."""
    n = int(seconds * sample_rate)
    out = {}
    for label, generator in {**FOREGROUND_GENERATORS, "background": background}.items():
        times = []
        for seed in range(repeats):
            rng = np.random.default_rng(seed)
            t = time.perf_counter()
            generator(rng, n, sample_rate)
            times.append(time.perf_counter() - t)
        out[label] = 1000 * float(np.median(times)) / seconds
    return out


def time_preset(preset: str, workers: int | None, seed: int = 0) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix=f"synth_bench_{preset}_"))
    try:
        report = synthesize_dataset(tmp / "dataset", preset=preset, seed=seed, workers=workers, progress=True)
        size = sum(p.stat().st_size for p in (tmp / "dataset").rglob("*") if p.is_file())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    audio_s = report.total_clips * report.config.clip_duration
    return {
        "preset": preset,
        "clips": report.clips,
        "total_clips": report.total_clips,
        "events": sum(report.events.values()),
        "workers": report.workers,
        "seconds": round(report.seconds, 2),
        "clips_per_s": round(report.total_clips / report.seconds, 2),
        "audio_x_realtime": round(audio_s / report.seconds, 1),
        "dataset_MB": round(size / 1e6, 1),
        "peak_normalised_clips": report.peak_normalised,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--proxy", action="store_true", help="also time the proxy preset (a few minutes)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: synth's choice)")
    args = parser.parse_args()
    load_before = os.getloadavg()

    generators = time_generators()
    rows = [time_preset(p, args.workers) for p in ["tiny", "demo"] + (["proxy"] if args.proxy else [])]

    print("\nms of CPU per second of generated audio (16 kHz, median over 10 seeds)")
    for label, ms in generators.items():
        print(f"  {label:<28}{ms:7.2f}")
    header = f"{'preset':<8}{'clips':>7}{'events':>8}{'workers':>9}{'seconds':>9}{'clips/s':>9}{'x realtime':>12}{'MB':>8}"
    print("\n" + header)
    for r in rows:
        print(f"{r['preset']:<8}{r['total_clips']:>7}{r['events']:>8}{r['workers']:>9}{r['seconds']:>9.1f}"
              f"{r['clips_per_s']:>9.1f}{r['audio_x_realtime']:>12.0f}{r['dataset_MB']:>8.1f}")
    atomic_write_json(RESULTS, {
        **provenance(load_before),
        "generators_ms_per_audio_second": {k: round(v, 3) for k, v in generators.items()},
        "presets": rows,
    })
    print(f"\nsaved {RESULTS}")


if __name__ == "__main__":
    main()
