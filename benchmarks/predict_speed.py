"""``jointsed predict`` speed on CPU: real-time factor of a long file, start-up included.

Builds a checkpoint of the FULL-SIZE joint model (the packaged ``dcase2019/joint``: Lin's PT and
PS widths, distillation adapters; random weights: speed does not depend on them), writes a
10-minute 44.1 kHz stereo file, then runs, each in a fresh process:

- ``python -c "import jointsed.inference"`` (start-up: imports only);
- ``python -c "import jointsed.systems.base"`` (the Lightning systems: what predict's start-up imported before
  inference stopped importing Lightning; for comparison);
- ``jointsed predict MODEL FILE --out OUT --no-progress`` (the whole command: start-up, checkpoint,
  streaming decode / resample / log-mel, the networks, post-processing, TSV), with the default
  half-clip window hop and with ``--window-hop 10`` (no overlap);
- the same two with ``--precision bf16`` (the convolutions in bfloat16: oneDNN's AMX kernels
  where the CPU has them; the JSON records the CPU's bfloat16 / AMX flags);
- the fp32 two with ``JOINTSED_REFERENCE_PREDICT=1``: the reference path (both networks on every
  window, as in training), i.e. the figure before the fast path, in the same conditions.

The commands run round robin (repeat 1 of every command, then repeat 2, ...), so that a change
of load hits them alike; the JSON keeps the 1-minute load average at the start of every run.

    python benchmarks/predict_speed.py                   # 2 threads, 10-minute file, 3 repeats
    python benchmarks/predict_speed.py --threads 1 --minutes 60
    python benchmarks/predict_speed.py --device cuda --no-reference --out benchmarks/results/predict_speed_gpu.json

Prints a table and saves JSON (date, torch version, load average before/after, CPU count, the
exact commands) to ``benchmarks/results/predict_speed_cpu.json``. Timings on a loaded machine
are pessimistic: the JSON records the load average it saw.
"""

from __future__ import annotations

import argparse
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
from jointsed.systems import ModelInfo, build_system
from jointsed.utils.atomic import atomic_write_json
from provenance import provenance  # benchmarks/provenance.py (this folder is on sys.path)

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
    info = ModelInfo(classes=classes, class_ratios=[float(r) for r in np.linspace(0.05, 0.5, len(classes))],
                     median_windows=[11] * len(classes), frame_hop=fc.frame_hop, n_frames=fc.n_frames(),
                     feature_config=fc.to_dict())
    torch.manual_seed(0)
    system = build_system(config, info)
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


def profile_predict(checkpoint: Path, audio: Path, hop: int | None, reference: bool,
                    precision: str = "fp32") -> dict[str, float]:
    """Where one in-process ``Detector.predict`` spends its time (seconds): decode + resample,
    log-mel, each network, the rest (window cutting, stitching, post-processing). Start-up is
    the ``import jointsed.inference`` row; the checkpoint load is timed here too."""
    import jointsed.audio.stream as stream
    from jointsed.inference import Detector

    spent: dict[str, float] = {}

    def add(key: str, seconds: float) -> None:
        spent[key] = spent.get(key, 0.0) + seconds

    def timed_call(fn, key):
        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                add(key, time.perf_counter() - t)
        return wrapper

    def timed_gen(fn, key):
        def wrapper(*a, **k):
            it = fn(*a, **k)
            while True:
                t = time.perf_counter()
                try:
                    item = next(it)
                except StopIteration:
                    add(key, time.perf_counter() - t)
                    return
                add(key, time.perf_counter() - t)
                yield item
        return wrapper

    # wrap the original functions (kept on first use), not the wrappers of an earlier call
    originals = profile_predict.__dict__.setdefault("originals", (stream.stream_mono, stream.waveform_to_logmel))
    stream.stream_mono = timed_gen(originals[0], "decode + mix + resample")
    stream.waveform_to_logmel = timed_call(originals[1], "log-mel front-end")
    t0 = time.perf_counter()
    detector = Detector.from_checkpoint(checkpoint, window_hop=hop, precision=precision)
    add("checkpoint load + network build", time.perf_counter() - t0)
    system = detector.system
    system.fast = not reference
    for name, role in ((system._clip_net, "clip"), (system._frame_net, "frame")):
        net = system.nets[name] if reference else system._fast(name)
        label = f"{name} network ({'PT' if name == 'teacher' else 'PS' if name == 'student' else name}, {role} scores)"
        net.forward = timed_call(net.forward, label)
    t0 = time.perf_counter()
    detector.predict(audio)
    total = time.perf_counter() - t0
    spent["rest (windows, stitching, post-processing)"] = total - sum(
        v for k, v in spent.items() if k != "checkpoint load + network build")
    spent["predict total (no start-up)"] = total
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="torch / OpenMP threads (default 2)")
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the test file")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each command (the median is reported)")
    parser.add_argument("--no-reference", action="store_true", help="skip the reference-path rows")
    parser.add_argument("--device", default="cpu", help="jointsed predict --device (default cpu; e.g. cuda)")
    parser.add_argument("--profile", action="store_true",
                        help="instead: where one predict's time goes, fast and reference path (in-process)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "predict_speed_cpu.json")
    args = parser.parse_args()
    if args.profile and args.device != "cpu":
        parser.error("--profile times the CPU path only (drop --device)")

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads),
               PYTHONWARNINGS="ignore")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = full_size_checkpoint(tmp / "joint_full.ckpt")
        audio = tmp / f"long_{args.minutes:g}min_44k_stereo.wav"
        write_audio(audio, args.minutes * 60)
        seconds = args.minutes * 60
        if args.profile:
            torch.set_num_threads(args.threads)
            runs: dict[str, list[dict]] = {}
            cases = [(reference, hop, "fp32") for reference in (False, True) for hop in (None, 500)]
            cases += [(False, hop, "bf16") for hop in (None, 500)]
            for _ in range(args.repeats):  # round robin over the cases, repeated
                for reference, hop, precision in cases:
                    path = "reference" if reference else "fast"
                    key = (f"{path} path, window hop {'half clip' if hop is None else '10 s'}"
                           + (f", {precision}" if precision != "fp32" else ""))
                    load = os.getloadavg()[0]
                    spent = profile_predict(tmp / "joint_full.ckpt", audio, hop, reference, precision)
                    runs.setdefault(key, []).append({"load_average_1min_at_start": load, **spent})
                    print(key, json.dumps({k: round(v, 2) for k, v in runs[key][-1].items()}), flush=True)
            # the run with the smallest total: the least disturbed by other work on the machine
            table = {key: {"fastest_run": min(rs, key=lambda r: r["predict total (no start-up)"]), "all_runs": rs}
                     for key, rs in runs.items()}
            for key, row in table.items():
                print(f"{key}: fastest {json.dumps({k: round(v, 2) for k, v in row['fastest_run'].items()})}")
            atomic_write_json(args.out.with_name(f"predict_profile_cpu_{args.threads}threads.json"), {
                **provenance(load_before), "threads": args.threads, "model": model, "audio_minutes": args.minutes,
                "seconds": table})
            return
        predict = [sys.executable, "-c", RUN_CLI, "predict", str(tmp / "joint_full.ckpt"), str(audio),
                   "--out", str(tmp / "out.tsv"), "--no-progress", "--force", "--device", args.device]
        reference = dict(env, JOINTSED_REFERENCE_PREDICT="1")
        commands = {  # name: (command, environment)
            "import jointsed.inference": ([sys.executable, "-c", "import jointsed.inference"], env),
            "import jointsed.systems.base (Lightning)": ([sys.executable, "-c", "import jointsed.systems.base"], env),
            "jointsed predict": (predict, env),
            # windows without overlap: half the network work (frame scores no longer averaged)
            "jointsed predict --window-hop 10": (predict + ["--window-hop", "10"], env),
            "jointsed predict --precision bf16": (predict + ["--precision", "bf16"], env),
            "jointsed predict --window-hop 10 --precision bf16":
                (predict + ["--window-hop", "10", "--precision", "bf16"], env),
            # the reference path (every window through both networks as in training): the
            # figure before the fast path, measured in the same conditions
            "jointsed predict [reference path]": (predict, reference),
            "jointsed predict --window-hop 10 [reference path]": (predict + ["--window-hop", "10"], reference),
        }
        if args.no_reference:
            commands = {k: v for k, v in commands.items() if "reference" not in k}
        # round robin (each repeat runs every command once): a change of load hits all alike
        runs: dict[str, list] = {name: [] for name in commands}
        for _ in range(args.repeats):
            for name, (cmd, cmd_env) in commands.items():
                load = os.getloadavg()[0]
                wall, rss = timed(cmd, cmd_env)
                runs[name].append((wall, rss, load))
        rows = []
        for name, (cmd, cmd_env) in commands.items():
            walls = [w for w, _, _ in runs[name]]
            rss = [r for _, r, _ in runs[name] if r is not None]
            is_predict = name.startswith("jointsed predict")
            shown = name.split(" [")[0].replace("jointsed predict", f"jointsed predict MODEL {audio.name} --out OUT --no-progress"
                                                + (f" --device {args.device}" if args.device != "cpu" else ""))
            row = {"what": name, "seconds_median": statistics.median(walls), "seconds_all": walls,
                   "load_average_1min_at_start": [l for _, _, l in runs[name]],
                   "command": " ".join(cmd) if not is_predict else
                   ("JOINTSED_REFERENCE_PREDICT=1 " if cmd_env is reference else "") + shown +
                   "  (run as python -c '<jointsed.cli.main(argv); print peak RSS>' predict ...)"}
            if is_predict:
                row["audio_seconds"] = seconds
                row["real_time_factor"] = seconds / row["seconds_median"]
                row["peak_rss_mb"] = max(rss) / 1024 if rss else None
            rows.append(row)
            print(f"{name:50s} {row['seconds_median']:7.2f} s" +
                  (f"   {row['real_time_factor']:6.1f}x real time, peak RSS {row['peak_rss_mb']:.0f} MB"
                   if "real_time_factor" in row else "") +
                  f"   (load {', '.join(f'{l:.1f}' for l in row['load_average_1min_at_start'])})", flush=True)
    record = provenance(load_before)
    print(f"\nCPU: {platform.processor() or 'cpu'} ({' '.join(record['cpu_bf16_flags']) or 'no bf16 / AMX flags'}), "
          f"{os.cpu_count()} cores, {args.threads} threads; load average "
          f"before {load_before[0]:.2f} / after {record['load_average_after'][0]:.2f}; torch {torch.__version__}")
    atomic_write_json(args.out, {
        **record, "threads": args.threads, "device": args.device,
        "gpu": torch.cuda.get_device_name(0) if args.device.startswith("cuda") and torch.cuda.is_available() else None,
        "model": model, "audio": {"minutes": args.minutes, "sample_rate": 44100, "channels": 2, "format": "wav PCM_16"},
        "results": rows,
    })
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
