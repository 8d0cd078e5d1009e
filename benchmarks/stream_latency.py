"""``jointsed stream``: latency, real-time factor, agreement with offline predict, memory.

For a trained run and a labelled held-out set (default: the demo's synthetic ``eval/public``):

- each clip is predicted offline (``Detector.predict``) and streamed in 0.1-s blocks
  (:class:`jointsed.streaming.StreamingDetector`) at every ``--lookahead`` setting;
- **latency**: for each streamed event emitted before its stream ended, the seconds of input
  between the event's end and its emission (the algorithmic latency: what a live stream waits,
  plus the compute time of one block, reported beside it); median and 95th percentile;
- **accuracy**: event-based F1 (DCASE collars, macro over classes; equal to sed_eval's) of
  offline predict and of the stream against the ground truth, and of the stream against offline
  predict as the reference;
- **real-time factor**: compute seconds per second of audio of the whole stream (all clips),
  with ``--threads`` torch threads;
- **memory**: ``--hour-minutes`` of synthetic audio (tones in noise, generated block by block)
  streamed at the default setting; Python's traced peak (tracemalloc) and the process's peak RSS
  after 1/6, 1/2 and all of it (bounded memory: they stay flat).

    python benchmarks/stream_latency.py --run /tmp/demo/run --data /tmp/demo/data --clips 60
    python benchmarks/stream_latency.py --full-size --hour-minutes 60      # RTF of the full-size model

Prints a table and saves JSON (provenance: date, command, load average) to
``benchmarks/results/stream_latency.json``.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from provenance import provenance  # noqa: E402

from jointsed.audio.io import load_audio  # noqa: E402
from jointsed.data.annotations import Event, read_strong_tsv  # noqa: E402
from jointsed.inference import Detector  # noqa: E402
from jointsed.postprocess.fast_f1 import event_counts_per_class  # noqa: E402
from jointsed.streaming.detector import StreamingDetector  # noqa: E402
from jointsed.utils.atomic import atomic_write_json  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BLOCK = 0.1  # seconds per input block (a live source's buffer)


def macro_f1(reference: list[Event], estimated: list[Event], classes: list[str]) -> float:
    counts = event_counts_per_class(reference, estimated, classes)
    f1s = []
    for label in classes:
        tp, n_ref, n_sys = counts[label]
        if n_ref == 0:
            continue  # as sed_eval's class-wise average over the reference's classes
        f1s.append(2 * tp / (n_ref + n_sys) if n_ref + n_sys else 0.0)
    return float(np.mean(f1s)) if f1s else 0.0


def stream_clip(det: Detector, wav: np.ndarray, name: str, lookahead: float, gating: str
                ) -> tuple[list[Event], list[float], list[float]]:
    """Events of one streamed clip, the latency of those emitted before the end, block compute times."""
    sr = det.feature_config.sample_rate
    block = int(BLOCK * sr)
    sd = StreamingDetector(det, lookahead=lookahead, gating=gating)
    duration = wav.shape[0] / sr
    events, latencies, times = [], [], []
    chunks = (wav[i : i + block] for i in range(0, wav.shape[0], block))
    it = iter(sd.run(chunks))
    while True:
        t = time.perf_counter()
        try:
            ev = next(it)
        except StopIteration:
            break
        times.append(time.perf_counter() - t)
        events.append(Event(name, ev.onset, min(ev.offset, duration), ev.event_label))
        if ev.emitted_at < duration - 1e-9:
            latencies.append(ev.emitted_at - ev.offset)
    return events, latencies, times


def synthetic_blocks(minutes: float, sr: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    block = int(BLOCK * sr)
    t = np.arange(block) / sr
    for i in range(int(minutes * 60 / BLOCK)):
        tone = 0.3 * np.sin(2 * np.pi * (400 + 250 * ((i // 50) % 5)) * (t + i * BLOCK)) if (i // 30) % 2 else 0.0
        yield (tone + 0.05 * rng.standard_normal(block)).astype(np.float32)


def memory_run(det: Detector, minutes: float) -> dict:
    sr = det.feature_config.sample_rate
    n_blocks = int(minutes * 60 / BLOCK)
    marks = {n_blocks // 6, n_blocks // 2, n_blocks - 1}
    out: list[dict] = []
    tracemalloc.start()
    t0 = time.perf_counter()

    def counted():
        for i, b in enumerate(synthetic_blocks(minutes, sr)):
            if i in marks:
                out.append({"minutes": round(i * BLOCK / 60, 2), "traced_mb": tracemalloc.get_traced_memory()[0] / 1e6,
                            "traced_peak_mb": tracemalloc.get_traced_memory()[1] / 1e6,
                            "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
            yield b

    events = sum(1 for _ in StreamingDetector(det).run(counted()))
    wall = time.perf_counter() - t0
    tracemalloc.stop()
    return {"minutes": minutes, "events": events, "seconds": wall, "real_time_factor": wall / (minutes * 60),
            "checkpoints": out}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, help="trained run folder or checkpoint")
    ap.add_argument("--postprocess", type=Path, help="Lin post-processing JSON (default: the run's)")
    ap.add_argument("--data", type=Path, help="dataset folder with audio/eval/public and metadata/eval/public.tsv")
    ap.add_argument("--clips", type=int, default=0, help="first N clips of the held-out set (0: all)")
    ap.add_argument("--lookahead", type=float, nargs="+", default=[0.0, 1.0, 2.0, 5.0, 10.0])
    ap.add_argument("--gating", choices=("event", "frame"), default="event")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--hour-minutes", type=float, default=60.0, help="minutes of the memory stream (0: skip)")
    ap.add_argument("--full-size", action="store_true",
                    help="also the real-time factor of the full-size dcase2019/joint model (random weights)")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "stream_latency.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    result: dict = {"threads": args.threads, "block_seconds": BLOCK, "gating": args.gating}
    if args.run is not None:
        det = Detector.from_checkpoint(args.run, postprocess=args.postprocess)
        result["model"] = {"run": str(args.run), "postprocess": det.postprocess_source}
        sd = StreamingDetector(det)
        result["latency_per_class_default"] = sd.latency()
        rows = []
        if args.data is not None:
            audio_dir = args.data / "audio" / "eval" / "public"
            truth = list(read_strong_tsv(args.data / "metadata" / "eval" / "public.tsv").events)
            files = sorted(audio_dir.iterdir())[: args.clips or None]
            names = {f.name for f in files}
            truth = [e for e in truth if e.filename in names]
            offline = [e for p in det.predict_many(files, progress=False) for e in p.events]
            wavs = {f.name: load_audio(f, det.feature_config.sample_rate) for f in files}
            audio_seconds = sum(w.shape[0] for w in wavs.values()) / det.feature_config.sample_rate
            f1_offline = macro_f1(truth, offline, det.classes)
            for la in args.lookahead:
                events, lats, times = [], [], []
                t0 = time.perf_counter()
                for name, wav in wavs.items():
                    e, l_, t_ = stream_clip(det, wav, name, la, args.gating)
                    events += e
                    lats += l_
                    times += t_
                wall = time.perf_counter() - t0
                stated = StreamingDetector(det, lookahead=la, gating=args.gating).latency()
                rows.append({
                    "lookahead_s": la, "clips": len(files), "events": len(events),
                    "latency_median_s": float(np.median(lats)) if lats else None,
                    "latency_p95_s": float(np.percentile(lats, 95)) if lats else None,
                    "latency_events": len(lats),
                    "stated_latency_max_s": max(r["seconds"] for r in stated),
                    "real_time_factor": wall / audio_seconds,
                    "event_f1_stream": macro_f1(truth, events, det.classes),
                    "event_f1_offline": f1_offline,
                    "event_f1_stream_vs_offline": macro_f1(offline, events, det.classes),
                })
                r = rows[-1]
                print(f"lookahead {la:5.1f} s: latency median {r['latency_median_s'] or 0:.2f} s, p95 "
                      f"{r['latency_p95_s'] or 0:.2f} s; F1 stream {100 * r['event_f1_stream']:.1f} / offline "
                      f"{100 * f1_offline:.1f}; stream vs offline {100 * r['event_f1_stream_vs_offline']:.1f}; "
                      f"RTF {r['real_time_factor']:.3f}", flush=True)
        result["operating_points"] = rows
        if args.hour_minutes > 0:
            result["memory"] = memory_run(det, args.hour_minutes)
            print("memory:", result["memory"], flush=True)
    if args.full_size:
        from predict_speed import full_size_checkpoint

        with tempfile.TemporaryDirectory() as tmp:
            ckpt = Path(tmp) / "full.ckpt"
            result["full_size_model"] = full_size_checkpoint(ckpt)
            det = Detector.from_checkpoint(ckpt)
            minutes = 2.0
            t0 = time.perf_counter()
            n = sum(1 for _ in StreamingDetector(det).run(synthetic_blocks(minutes, det.feature_config.sample_rate)))
            wall = time.perf_counter() - t0
            result["full_size"] = {"minutes": minutes, "seconds": wall, "real_time_factor": wall / (minutes * 60),
                                   "events": n}
            print(f"full-size joint model, {args.threads} thread(s): RTF {wall / (minutes * 60):.4f} "
                  f"({minutes * 60 / wall:.1f}x faster than real time)", flush=True)
    result.update(provenance(load_before))
    atomic_write_json(args.out, result)
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
