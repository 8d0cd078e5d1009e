"""Prediction with onnxruntime vs torch: speed on a 10-minute file, agreement, install size.

Builds a checkpoint of the FULL-SIZE joint model (``dcase2019/joint``, random weights: speed does
not depend on them; :func:`predict_speed.full_size_checkpoint`), exports it
(``jointsed export --onnx``), writes a 10-minute 44.1 kHz stereo file
(:func:`predict_speed.write_audio`) and predicts it in this process, round robin:

- ``Detector.from_checkpoint(...).predict`` (torch, its fast path), ``--threads`` torch threads;
- ``OnnxDetector(...).predict`` (onnxruntime, numpy front-end), ``--threads`` intra-op threads.

Both include decoding and resampling. Also: the largest difference of their frame and clip
scores on that file, whether their events are identical, and the install size of each
deployment (the installed files of the packages each engine needs beyond what both need,
from the environment's package metadata).

    python benchmarks/onnx_speed.py                      # 2 threads, 10 minutes, 3 repeats
    python benchmarks/onnx_speed.py --threads 1
    python benchmarks/onnx_speed.py --minutes 0 --run RUN --data DATA    # held-out agreement only

With ``--run`` (a trained run; ``--postprocess`` its JSON) and ``--data`` (a dataset with
``audio/eval/public``): the run is exported and both engines predict every held-out clip; the
largest score differences and the clips whose events differ are recorded (``heldout``).

Prints a table and saves JSON (provenance: date, command, load average) to
``benchmarks/results/onnx_speed.json``.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from predict_speed import full_size_checkpoint, write_audio  # noqa: E402
from provenance import provenance  # noqa: E402

from jointsed.export.runtime import OnnxDetector  # noqa: E402
from jointsed.export.to_onnx import export_onnx  # noqa: E402
from jointsed.inference import Detector  # noqa: E402
from jointsed.utils.atomic import atomic_write_json  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
#: what both deployments need (jointsed's audio and post-processing, the CLI's tables)
COMMON = ["numpy", "scipy", "soundfile", "soxr", "pandas", "pyyaml", "tqdm"]


def _closure(names: list[str]) -> set[str]:
    """The distributions ``names`` need, recursively (extras and markers that do not apply skipped)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = re.split(r"[<>=!~\[; ]", todo.pop(), maxsplit=1)[0].strip().lower().replace("_", "-")
        if not name or name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        for req in dist.requires or []:
            if "extra ==" in req:
                continue
            todo.append(req)
    return seen


def _size_mb(names: set[str]) -> float:
    total = 0
    for name in names:
        for f in metadata.distribution(name).files or []:
            try:
                total += f.locate().stat().st_size
            except OSError:
                pass
    return total / 1e6


def install_sizes() -> dict:
    common = _closure(COMMON)
    torch_only = _closure(["torch"]) - common
    ort_only = _closure(["onnxruntime"]) - common
    return {"common_packages": sorted(common), "common_mb": _size_mb(common),
            "torch_engine_packages": sorted(torch_only), "torch_engine_mb": _size_mb(torch_only),
            "onnxruntime_engine_packages": sorted(ort_only), "onnxruntime_engine_mb": _size_mb(ort_only)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--run", type=Path, help="trained run: held-out agreement of the two engines")
    ap.add_argument("--postprocess", type=Path, help="the run's post-processing JSON")
    ap.add_argument("--data", type=Path, help="dataset folder with audio/eval/public")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "onnx_speed.json")
    args = ap.parse_args()
    if args.minutes <= 0:
        return heldout_only(args)
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = full_size_checkpoint(tmp / "full.ckpt")
        audio = tmp / "long.wav"
        write_audio(audio, args.minutes * 60)
        torch_det = Detector.from_checkpoint(tmp / "full.ckpt")
        t = time.perf_counter()
        export_onnx(torch_det, tmp / "onnx")
        export_seconds = time.perf_counter() - t
        onnx_det = OnnxDetector(tmp / "onnx", threads=args.threads)
        times: dict[str, list[float]] = {"torch": [], "onnxruntime": []}
        preds = {}
        for _ in range(args.repeats):
            for name, det in (("torch", torch_det), ("onnxruntime", onnx_det)):
                t = time.perf_counter()
                preds[name] = det.predict(audio)
                times[name].append(time.perf_counter() - t)
                print(f"{name}: {times[name][-1]:.2f} s", flush=True)
        a, b = preds["torch"], preds["onnxruntime"]
        agreement = {"max_abs_diff_frame": float(np.abs(a.frame_scores - b.frame_scores).max()),
                     "max_abs_diff_clip": float(np.abs(a.clip_scores - b.clip_scores).max()),
                     "events_identical": a.events == b.events, "events": len(a.events)}
    seconds = args.minutes * 60
    rows = [{"engine": k, "seconds_median": statistics.median(v), "seconds_all": v,
             "real_time_factor": statistics.median(v) / seconds} for k, v in times.items()]
    sizes = install_sizes()
    result = {"threads": args.threads, "minutes": args.minutes, "model": model, "export_seconds": export_seconds,
              "results": rows, "agreement": agreement, "install": sizes, **provenance(load_before)}
    print(f"\n| engine | predict {args.minutes:g} min (s) | real-time factor | packages beyond the common ones (MB) |")
    print("|---|---:|---:|---:|")
    for r in rows:
        mb = sizes["torch_engine_mb"] if r["engine"] == "torch" else sizes["onnxruntime_engine_mb"]
        print(f"| {r['engine']} | {r['seconds_median']:.2f} | {r['real_time_factor']:.4f} | {mb:.0f} |")
    print(f"common packages: {sizes['common_mb']:.0f} MB; scores: frame {agreement['max_abs_diff_frame']:.1e}, clip "
          f"{agreement['max_abs_diff_clip']:.1e}; events identical: {agreement['events_identical']}")
    atomic_write_json(args.out, result)
    print(f"-> {args.out}")


def heldout(run: Path, postprocess: Path | None, data: Path) -> dict:
    """Both engines on every held-out clip of ``data``: largest differences, clips whose events differ."""
    files = sorted((data / "audio" / "eval" / "public").iterdir())
    torch_det = Detector.from_checkpoint(run, postprocess=postprocess)
    with tempfile.TemporaryDirectory() as tmp:
        export_onnx(torch_det, Path(tmp) / "onnx")
        onnx_det = OnnxDetector(Path(tmp) / "onnx")
        a = torch_det.predict_many(files, progress=False)
        b = onnx_det.predict_many(files, progress=False)
    differ = [x.filename for x, y in zip(a, b) if x.events != y.events]
    return {"run": str(run), "postprocess": torch_det.postprocess_source, "clips": len(files),
            "events": sum(len(x.events) for x in a),
            "max_abs_diff_frame": max(float(np.abs(x.frame_scores - y.frame_scores).max()) for x, y in zip(a, b)),
            "max_abs_diff_clip": max(float(np.abs(x.clip_scores - y.clip_scores).max()) for x, y in zip(a, b)),
            "clips_with_different_events": differ}


def heldout_only(args: argparse.Namespace) -> None:
    if args.run is None or args.data is None:
        raise SystemExit("--minutes 0 measures the held-out agreement only: give --run and --data")
    load_before = os.getloadavg()
    result = {"heldout": heldout(args.run, args.postprocess, args.data), **provenance(load_before)}
    h = result["heldout"]
    print(f"{h['clips']} held-out clips, {h['events']} events: frame scores within {h['max_abs_diff_frame']:.1e}, clip "
          f"scores within {h['max_abs_diff_clip']:.1e}; clips whose events differ: {h['clips_with_different_events']}")
    atomic_write_json(args.out, result)
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
