"""Time ``jointsed synth`` presets (and each sound generator) on this machine.

    python benchmarks/synth_presets.py            # tiny and demo, demo also with the recording chain on
    python benchmarks/synth_presets.py --proxy    # also the proxy preset (3,860 clips), chain on and off

Every preset is timed as it is (``chain`` column: its default) and with the recording chain
switched the other way for demo and proxy (docs/synthetic_data.md). Prints a table and saves
benchmarks/results/synth_presets.json (``--out`` elsewhere).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from jointsed.data.synth import (
    AMBIENCE_GENERATORS,
    DISTRACTOR_GENERATORS,
    FOREGROUND_GENERATORS,
    PRESETS,
    background,
    synthesize_dataset,
)
from jointsed.data.synth import rooms
from jointsed.data.synth.rooms import build_rir_bank
from jointsed.utils.atomic import atomic_write_json
from provenance import provenance

RESULTS = Path(__file__).resolve().parent / "results" / "synth_presets.json"


def time_generators(sample_rate: int = 16000, seconds: float = 2.0, repeats: int = 10) -> dict[str, float]:
    """Milliseconds per generated second of audio, per class (median over seeds)."""
    n = int(seconds * sample_rate)
    out = {}
    everything = {**FOREGROUND_GENERATORS, "background": background,
                  **{f"distractor:{k}": g for k, g in DISTRACTOR_GENERATORS.items()},
                  **{f"ambience:{k}": g for k, g in AMBIENCE_GENERATORS.items()}}
    for label, generator in everything.items():
        times = []
        for seed in range(repeats):
            rng = np.random.default_rng(seed)
            t = time.perf_counter()
            generator(rng, n, sample_rate)
            times.append(time.perf_counter() - t)
        out[label] = 1000 * float(np.median(times)) / seconds
    return out


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its finished children (the workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def time_rir_bank(sample_rate: int = 16000, seed: int = 0) -> dict:
    """Seconds to simulate the default room bank in one process (the proxy preset's chain)."""
    config = PRESETS["proxy"].recording_chain
    started = time.perf_counter()
    bank = build_rir_bank(config, seed + 1000, sample_rate)  # a seed no preset run below uses: not cached
    return {"rooms": len(bank.rooms), "sources_per_room": config.rir_sources_per_room,
            "seconds_one_process": round(time.perf_counter() - started, 2), **bank.describe()}


def time_preset(preset: str, workers: int | None, seed: int = 0, chain: bool | None = None) -> dict:
    rooms._bank.cache_clear()  # time the room bank in every run, not once per process
    tmp = Path(tempfile.mkdtemp(prefix=f"synth_bench_{preset}_"))
    cpu_before = _cpu_seconds()
    try:
        report = synthesize_dataset(tmp / "dataset", preset=preset, seed=seed, workers=workers, progress=True,
                                    recording_chain=chain)
        cpu = _cpu_seconds() - cpu_before
        size = sum(p.stat().st_size for p in (tmp / "dataset").rglob("*") if p.is_file())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    audio_s = report.total_clips * report.config.clip_duration
    return {
        "preset": preset,
        "recording_chain": report.config.recording_chain.enabled,
        "clips": report.clips,
        "total_clips": report.total_clips,
        "events": sum(report.events.values()),
        "workers": report.workers,
        "seconds": round(report.seconds, 2),
        # CPU time of this process and its workers: what the run costs whatever else the machine does
        "cpu_seconds": round(cpu, 1),
        "clips_per_s": round(report.total_clips / report.seconds, 2),
        "audio_x_realtime": round(audio_s / report.seconds, 1),
        "dataset_MB": round(size / 1e6, 1),
        "peak_normalised_clips": report.peak_normalised,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--proxy", action="store_true", help="also time the proxy preset (several minutes)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: synth's choice)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"where to save the JSON (default {RESULTS})")
    args = parser.parse_args()
    load_before = os.getloadavg()

    generators = time_generators()
    rir_bank = time_rir_bank()
    runs = [("tiny", None), ("demo", None), ("demo", not PRESETS["demo"].recording_chain.enabled)]
    if args.proxy:
        runs += [("proxy", None), ("proxy", not PRESETS["proxy"].recording_chain.enabled)]
    rows = [time_preset(p, args.workers, chain=chain) for p, chain in runs]

    print("\nms of CPU per second of generated audio (16 kHz, median over 10 seeds)")
    for label, ms in generators.items():
        print(f"  {label:<28}{ms:7.2f}")
    print(f"\nroom bank ({rir_bank['rooms']} rooms x {rir_bank['sources_per_room']} sources): "
          f"{rir_bank['seconds_one_process']:.1f} s in one process")
    header = (f"{'preset':<8}{'chain':>6}{'clips':>7}{'events':>8}{'workers':>9}{'seconds':>9}{'cpu s':>8}"
              f"{'clips/s':>9}{'x realtime':>12}{'MB':>8}")
    print("\n" + header)
    for r in rows:
        print(f"{r['preset']:<8}{'on' if r['recording_chain'] else 'off':>6}{r['total_clips']:>7}{r['events']:>8}"
              f"{r['workers']:>9}{r['seconds']:>9.1f}{r['cpu_seconds']:>8.0f}{r['clips_per_s']:>9.1f}{r['audio_x_realtime']:>12.0f}"
              f"{r['dataset_MB']:>8.1f}")
    atomic_write_json(args.out, {
        **provenance(load_before),
        "generators_ms_per_audio_second": {k: round(v, 3) for k, v in generators.items()},
        "rir_bank": rir_bank,
        "presets": rows,
    })
    print(f"\nsaved {args.out}")


if __name__ == "__main__":
    main()
