"""Benchmark: building the log-mel feature cache from scratch.

Generates test clips in a temporary folder (10-s noise + tones; 3/4 of them 44.1 kHz stereo
16-bit wav, the rest 16 kHz mono), then times ``FeatureCache.build`` from an empty cache with the
given numbers of workers, and a second call that only reuses the entries. Prints a table and saves
JSON to benchmarks/results/feature_cache.json.

    python benchmarks/feature_cache.py [--clips 200] [--workers 2 1] [--repeats 3]

Target (brief): >= 500x real time with 2 workers on a 2-core machine (200 x 10 s in < 4 s).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from jointsed.audio import FeatureCache, FeatureConfig
from jointsed.utils.atomic import atomic_write_json
from provenance import provenance

RESULTS = Path(__file__).resolve().parent / "results" / "feature_cache.json"


def make_clips(folder: Path, n: int, seconds: float = 10.0, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        stereo = i % 4 != 3
        sr = 44100 if stereo else 16000
        t = np.arange(int(seconds * sr)) / sr
        tone = 0.3 * np.sin(2 * np.pi * rng.uniform(200, 4000) * t)
        channels = 2 if stereo else 1
        x = tone[:, None] + 0.05 * rng.standard_normal((t.size, channels))
        path = folder / f"clip_{i:04d}.wav"
        sf.write(path, x.astype(np.float32), sr, subtype="PCM_16")
        paths.append(path)
    return paths


def cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (the pool workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def storage_comparison(paths: list[Path], config: FeatureConfig, folder: Path) -> list[dict]:
    """float16 vs float32 entries: size, write and read time, and float16 rounding error."""
    from jointsed.audio import extract_logmel

    folder.mkdir()
    feats = [extract_logmel(p, config) for p in paths]
    rows = []
    for dtype in (np.float16, np.float32):
        t0 = time.perf_counter()
        for i, f in enumerate(feats):
            with open(folder / f"{i}.{dtype.__name__}.npy", "wb") as fh:
                np.save(fh, f.astype(dtype))
        t1 = time.perf_counter()
        back = [np.load(folder / f"{i}.{dtype.__name__}.npy").astype(np.float32) for i in range(len(feats))]
        t2 = time.perf_counter()
        err = max(float(np.abs(b - f).max()) for b, f in zip(back, feats))
        rows.append({"dtype": dtype.__name__, "bytes_per_clip": (folder / f"0.{dtype.__name__}.npy").stat().st_size,
                     "write_ms_per_clip": round(1000 * (t1 - t0) / len(feats), 3),
                     "read_ms_per_clip": round(1000 * (t2 - t1) / len(feats), 3), "max_abs_error": err})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 1])
    parser.add_argument("--repeats", type=int, default=3, help="cold builds per worker count (median reported)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    load_before = os.getloadavg()

    config = FeatureConfig()
    tmp = Path(tempfile.mkdtemp(prefix="jointsed-bench-"))
    rows = []
    try:
        t0 = time.perf_counter()
        (tmp / "audio").mkdir()
        paths = make_clips(tmp / "audio", args.clips)
        gen_s = time.perf_counter() - t0
        audio_seconds = args.clips * 10.0
        for workers in args.workers:
            walls, cpus = [], []
            for r in range(args.repeats):
                cache_dir = tmp / f"cache_w{workers}_r{r}"
                cpu0 = cpu_seconds()
                report = FeatureCache(cache_dir, config).build(paths, workers=workers, progress=False)
                cpus.append(cpu_seconds() - cpu0)
                assert report.ok and len(report.built) == args.clips, report.summary()
                walls.append(report.seconds)
            warm = FeatureCache(cache_dir, config).build(paths, workers=workers, progress=False)
            assert len(warm.reused) == args.clips
            wall = statistics.median(walls)
            rows.append(
                {
                    "workers": workers,
                    "clips": args.clips,
                    "audio_seconds": audio_seconds,
                    "wall_seconds": round(wall, 3),
                    "wall_seconds_all": [round(w, 3) for w in walls],
                    "x_real_time": round(audio_seconds / wall, 1),
                    "x_real_time_best": round(audio_seconds / min(walls), 1),
                    "cpu_seconds": round(statistics.median(cpus), 3),
                    "x_real_time_per_cpu_second": round(audio_seconds / statistics.median(cpus), 1),
                    "load_average_1min": round(os.getloadavg()[0], 2),
                    "ms_per_clip": round(1000 * wall / args.clips, 2),
                    "reuse_wall_seconds": round(warm.seconds, 3),
                }
            )
        entry = next((tmp / "cache_w{}_r0".format(args.workers[0])).rglob("*.npy"))
        entry_bytes = entry.stat().st_size
        storage = storage_comparison(paths[:50], config, tmp / "storage")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\nfeature cache build, {args.clips} clips x 10 s (3/4 44.1 kHz stereo wav, 1/4 16 kHz mono), "
          f"median of {args.repeats} cold builds")
    header = (f"{'workers':>7} {'clips':>6} {'audio s':>8} {'wall s':>7} {'x real time':>12} {'(best)':>7} "
              f"{'ms/clip':>8} {'cpu s':>6} {'x rt/cpu s':>10} {'reuse s':>8} {'load':>5}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['workers']:>7} {r['clips']:>6} {r['audio_seconds']:>8.0f} {r['wall_seconds']:>7.2f} "
              f"{r['x_real_time']:>12.0f} {r['x_real_time_best']:>7.0f} {r['ms_per_clip']:>8.2f} "
              f"{r['cpu_seconds']:>6.2f} {r['x_real_time_per_cpu_second']:>10.0f} {r['reuse_wall_seconds']:>8.3f} "
              f"{r['load_average_1min']:>5.1f}")
    print("(load = 1-min load average after the runs: other processes on the machine slow the wall times)")
    print("\nstorage (50 clips)")
    for r in storage:
        print(f"  {r['dtype']:>8}: {r['bytes_per_clip']} bytes/clip, write {r['write_ms_per_clip']} ms, "
              f"read {r['read_ms_per_clip']} ms, max abs error {r['max_abs_error']:.4f}")
    result = {
        "benchmark": "feature_cache",
        "config_hash": config.config_hash(),
        "entry_bytes": entry_bytes,
        "clip_generation_seconds": round(gen_s, 2),
        **provenance(load_before, argv),
        "rows": rows,
        "storage": storage,
        "target": ">= 500x real time with 2 workers",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out, result)
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
