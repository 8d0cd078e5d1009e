"""Training throughput (clips per second) of each system, CPU-sized and full recipes.

Runs the real engine (:func:`jointsed.training.phases.train`: Lightning trainer, batch sampler,
in-memory features, losses, optimiser) on random in-memory features shaped like the recipe's
(no audio, no validation) and times the training steps after a warm-up.

    python benchmarks/train_throughput.py                       # CPU, both recipe sizes
    python benchmarks/train_throughput.py --accelerator gpu --precision bf16-mixed --on-accelerator
    python benchmarks/train_throughput.py --quick               # smoke check: a few steps, no JSON
    python benchmarks/train_throughput.py --epoch --recipes full --accelerator gpu --on-accelerator
        # one DESED-size epoch (1,578 weak + 2,045 synthetic + 14,412 unlabelled clips) with a
        # 1,168-clip validation pass: epoch time, of which validation
    python benchmarks/train_throughput.py --profile benchmarks/results/profile_cpu --steps 50 \
        --recipes cpu --systems guided_learning --set model.teacher.width=0.25 --set model.student.channels=[8,8,8]
        # cProfile + torch.profiler tables of the timed steps (where the time per step goes)

Prints a table and saves JSON (date, torch version, load average before and after, CPU count,
the exact command) to ``benchmarks/results/train_throughput_<device>.json``. Measure on an idle
machine: the JSON's load average says whether it was. ``benchmarks/gpu_suite.sh`` runs the GPU
measurements of issue 10 in one go.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import tempfile
import time
from pathlib import Path

import torch
from lightning.pytorch.callbacks import Callback

from jointsed.data.annotations import StrongAnnotations
from jointsed.training.config import SET_NAMES, load_recipe
from jointsed.training.data import TrainingSet, ValidationSet
from jointsed.training.sampler import SET_IDS
from jointsed.training.phases import train
from jointsed.utils.atomic import atomic_write_json

from provenance import provenance  # benchmarks/provenance.py (this folder is on sys.path)

REPO = Path(__file__).resolve().parents[1]
#: packaged recipes (jointsed.recipes) by (system, size)
RECIPES = {
    ("guided_learning", "cpu"): "cpu/gl_baseline",
    ("guided_learning", "full"): "dcase2019/gl_baseline",
    ("mean_teacher", "cpu"): "cpu/crnn_mean_teacher",
    ("mean_teacher", "full"): "dcase2019/crnn_mean_teacher",
}


#: DCASE 2019 Task 4 development set sizes (issue 10's DESED-size run)
DESED_SIZES = {"weak": 1578, "synthetic": 2045, "unlabelled": 14412}
DESED_VALIDATION = 1168


class EpochTimer(Callback):
    """Wall time of each training epoch (with its validation) and of each validation pass."""

    def __init__(self) -> None:
        self.epochs: list[float] = []
        self.validations: list[float] = []
        self._epoch = self._val = 0.0

    def _sync(self, trainer) -> None:
        if trainer.strategy.root_device.type == "cuda":
            torch.cuda.synchronize()

    def on_train_epoch_start(self, trainer, module) -> None:
        self._sync(trainer)
        self._epoch = time.perf_counter()

    def on_validation_start(self, trainer, module) -> None:
        self._sync(trainer)
        self._val = time.perf_counter()

    def on_validation_end(self, trainer, module) -> None:
        self._sync(trainer)
        self.validations.append(time.perf_counter() - self._val)

    def on_train_epoch_end(self, trainer, module) -> None:
        # Lightning validates inside the epoch (before on_train_epoch_end): included here
        self._sync(trainer)
        self.epochs.append(time.perf_counter() - self._epoch)


class StepTimer(Callback):
    """Wall time of every training step (forward, backward, optimiser, EMA update)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.sizes: list[int] = []
        self._start = 0.0

    def _sync(self, trainer) -> None:
        if trainer.strategy.root_device.type == "cuda":
            torch.cuda.synchronize()

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        self._sync(trainer)
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self._sync(trainer)
        self.times.append(time.perf_counter() - self._start)
        self.sizes.append(int(batch["features"].shape[0]))


def random_training_set(n_per_set: int | dict[str, int], n_frames: int, n_mels: int, n_classes: int,
                        seed: int = 0, half: bool = False) -> TrainingSet:
    """Random log-mel-like features and labels: ``n_per_set`` clips of each set (or per set name);
    ``half``: float16 features, as the feature cache stores them (half the memory of a big set)."""
    g = torch.Generator().manual_seed(seed)
    sizes = n_per_set if isinstance(n_per_set, dict) else {s: n_per_set for s in SET_NAMES}
    n = sum(sizes[s] for s in SET_NAMES)
    source = torch.tensor([SET_IDS[s] for s in SET_NAMES for _ in range(sizes[s])])
    weak = (torch.rand(n, n_classes, generator=g) < 0.2).float()
    weak[source == SET_IDS["unlabelled"]] = 0
    strong_idx = torch.full((n,), -1, dtype=torch.long)
    syn = torch.nonzero(source == SET_IDS["synthetic"]).flatten()
    strong_idx[syn] = torch.arange(syn.numel())
    features = torch.randn(n, n_frames, n_mels, generator=g) * 3 - 5
    return TrainingSet(
        features=features.half() if half else features,
        weak_targets=weak,
        weak_mask=source != SET_IDS["unlabelled"],
        strong_index=strong_idx,
        strong_targets=(torch.rand(syn.numel(), n_frames, n_classes, generator=g) < 0.1).to(torch.uint8),
        source=source,
        filenames=[f"clip{i}" for i in range(n)],
        clip_labels=[("Speech",), ("Dog",), ("Speech", "Dog")] * (n // 3 + 1),
    )


def random_validation_set(n: int, n_frames: int, n_mels: int, classes: list[str], seed: int = 1) -> ValidationSet:
    """Random validation clips (frame targets for the threshold-free monitor; no events)."""
    g = torch.Generator().manual_seed(seed)
    names = [f"val{i}.wav" for i in range(n)]
    return ValidationSet(
        features=(torch.randn(n, n_frames, n_mels, generator=g) * 3 - 5).half(),
        weak_targets=(torch.rand(n, len(classes), generator=g) < 0.2).float(),
        filenames=names,
        durations=[10.0] * n,
        annotations=StrongAnnotations(None, [], names),
        frame_targets=(torch.rand(n, n_frames, len(classes), generator=g) < 0.1).to(torch.uint8),
    )


def _profiled(run, path: Path, label: str):
    """Run ``run()`` under cProfile and torch.profiler; write both top tables to ``path``."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
    prof = cProfile.Profile()
    with profile(activities=activities) as tprof:
        prof.enable()
        result = run()
        prof.disable()
    text = io.StringIO()
    pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(45)
    text.write("\n\n===== self time (Python functions) =====\n")
    pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(30)
    sort = "self_cuda_time_total" if torch.cuda.is_available() else "self_cpu_time_total"
    text.write(f"\n\n===== torch operators ({sort}) =====\n")
    text.write(tprof.key_averages().table(sort_by=sort, row_limit=30))
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.parent / f"{path.name}_{label}.txt").write_text(text.getvalue())
    return result


def _recipe(system: str, size: str, args: argparse.Namespace, extra: list[str]):
    """The recipe of ``(system, size)`` with the benchmark's settings (``extra``, then ``--set``)."""
    overrides = [
        "postprocess.median_windows=1",
        *extra,
        f"trainer.accelerator={args.accelerator}",
        f"trainer.precision={args.precision}",
        "trainer.progress_bar=false",
        f"data.on_accelerator={str(args.on_accelerator).lower()}",
        *args.set,
    ]
    if args.threads:
        overrides.append(f"trainer.num_threads={args.threads}")
    return load_recipe(RECIPES[(system, size)], overrides)


def flops_per_clip(config) -> dict[str, float]:
    """Forward + backward FLOPs of one training clip (``torch.utils.flop_counter``), per network:
    the trained networks forward + backward, the mean teacher's EMA copy forward only. The
    distance of clips/s x FLOPs from the CPU's peak is what is left to take."""
    from torch.utils.flop_counter import FlopCounterMode

    from jointsed.config import to_dict
    from jointsed.models.networks import SYSTEM_NETWORKS, build_network

    fc, n_classes = config.features, len(config.data.classes)
    x = torch.randn(1, fc.n_frames(), fc.n_mels)
    out: dict[str, float] = {}
    for role, kind in SYSTEM_NETWORKS[config.system].items():
        net = build_network(kind, to_dict(config.model), n_classes, fc.n_mels, None).train()
        counter = FlopCounterMode(display=False)
        with counter:
            if role == "ema_teacher":
                with torch.no_grad():
                    net(x)
            else:
                o = net(x)
                (o.clip.sum() + o.frame.sum()).backward()
        out[role] = counter.get_total_flops() / 1e9
    out["total"] = sum(out.values())
    return out


def measure(system: str, size: str, args: argparse.Namespace) -> dict:
    """Clips per second of ``steps`` timed training steps (after ``warmup``), no validation."""
    config = _recipe(system, size, args, ["data.validation_tsv=null", "trainer.max_epochs=1",
                                          f"trainer.limit_train_batches={args.warmup + args.steps}"])
    fc = config.features
    bs = config.batch.batch_size if config.batch.mode == "union" else sum(config.batch.composition.values())
    n_batches = args.warmup + args.steps
    # enough clips per set for n_batches batches in either composition mode
    per_set = max(bs * n_batches // 3 + bs, max(config.batch.composition.values()) * n_batches) + 1
    data = random_training_set(per_set, fc.n_frames(), fc.n_mels, len(config.data.classes))
    timer = StepTimer()

    def run() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            train(config, tmp, Path(tmp) / "run", progress=False, train_set=data, validation_set=None,
                  callbacks=[timer])

    started = time.perf_counter()
    _profiled(run, args.profile, f"{system}_{size}") if args.profile else run()
    wall = time.perf_counter() - started
    times = timer.times[args.warmup :]
    clips = sum(timer.sizes[args.warmup :])
    seconds = sum(times)
    gflop = flops_per_clip(config)
    rate = clips / seconds if seconds > 0 else float("nan")
    return {
        "system": system,
        "recipe": size,
        "recipe_file": f"jointsed/recipes/{RECIPES[(system, size)]}.yaml",
        "overrides": list(args.set),
        "batch_size": bs,
        "steps_timed": len(times),
        "seconds_per_step": seconds / max(1, len(times)),
        "clips_per_second": rate,
        "gflop_per_clip": gflop,
        "gflop_per_second": rate * gflop["total"],
        "fused_training": os.environ.get("JOINTSED_REFERENCE_TRAINING", "") not in ("1", "true", "yes"),
        # everything else of the train() call: data module, trainer set-up, checkpoint, teardown
        "seconds_outside_steps": wall - sum(timer.times),
    }


def measure_epoch(system: str, size: str, args: argparse.Namespace) -> dict:
    """One epoch over a DESED-size random training set (``--epoch-scale`` of it) with a
    validation pass over 1,168 random clips: epoch time, of which validation, and clips/s."""
    scale = args.epoch_scale
    config = _recipe(system, size, args, ["validation.event_f1=false", f"trainer.max_epochs={args.epochs}"])
    fc, classes = config.features, list(config.data.classes)
    sizes = {k: max(8, int(v * scale)) for k, v in DESED_SIZES.items()}
    data = random_training_set(sizes, fc.n_frames(), fc.n_mels, len(classes), half=True)
    val = random_validation_set(max(8, int(DESED_VALIDATION * scale)), fc.n_frames(), fc.n_mels, classes)
    timer, steps = EpochTimer(), StepTimer()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        train(config, tmp, Path(tmp) / "run", progress=False, train_set=data, validation_set=val,
              callbacks=[timer, steps])
    wall = time.perf_counter() - started
    per_epoch = len(steps.times) // max(1, len(timer.epochs))
    clips = sum(steps.sizes[-per_epoch:]) if per_epoch else 0
    last_epoch, last_val = timer.epochs[-1], timer.validations[-1] if timer.validations else 0.0
    return {
        "system": system,
        "recipe": size,
        "recipe_file": f"jointsed/recipes/{RECIPES[(system, size)]}.yaml",
        "overrides": list(args.set),
        "train_set_sizes": sizes,
        "validation_clips": len(val),
        "epochs": len(timer.epochs),
        "steps_per_epoch": per_epoch,
        "epoch_seconds": timer.epochs,
        "validation_seconds": timer.validations,
        "last_epoch_seconds": last_epoch,
        "last_validation_seconds": last_val,
        "training_clips_per_second_last_epoch": clips / max(1e-9, last_epoch - last_val),
        "seconds_train_call": wall,
    }


def _device(args: argparse.Namespace) -> str:
    if args.accelerator == "gpu" and torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return platform.processor() or platform.machine() or "cpu"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accelerator", default="cpu", choices=("cpu", "gpu"))
    parser.add_argument("--precision", default="32-true", help="e.g. 32-true, 16-mixed, bf16-mixed")
    parser.add_argument("--on-accelerator", action="store_true", help="keep the training features on the GPU")
    parser.add_argument("--systems", default="guided_learning,mean_teacher")
    parser.add_argument("--recipes", default="cpu,full", choices=("cpu", "full", "cpu,full"),
                        help="recipe sizes: cpu, full or both (cpu,full; the default)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default: 20 cpu recipe, 3 full on CPU, 50 on GPU)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed first steps (default 2, 1 for full on CPU)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="recipe override, as jointsed train --set (repeatable)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke check: 2 steps + 1 warm-up of the CPU recipes, nothing saved")
    parser.add_argument("--epoch", action="store_true",
                        help="time whole epochs with validation on a DESED-size random set instead of steps")
    parser.add_argument("--epochs", type=int, default=2, help="--epoch: epochs (the last is reported; default 2)")
    parser.add_argument("--epoch-scale", type=float, default=1.0,
                        help="--epoch: fraction of the DESED sizes (default 1.0: 18,035 training clips)")
    parser.add_argument("--profile", type=Path, default=None, metavar="PREFIX",
                        help="also write cProfile + torch.profiler tables to PREFIX_<system>_<recipe>.txt")
    parser.add_argument("--out", type=Path, default=None, help="JSON output (default benchmarks/results/...)")
    args = parser.parse_args()
    if args.quick:
        args.recipes, args.steps, args.warmup = ("cpu" if args.recipes == "cpu,full" else args.recipes), 2, 1
        if args.epoch:
            args.epochs, args.epoch_scale = 1, min(args.epoch_scale, 0.002)

    load_before = os.getloadavg()
    rows = []
    for system in args.systems.split(","):
        for size in args.recipes.split(","):
            run_args = argparse.Namespace(**vars(args))
            gpu = args.accelerator == "gpu"
            if run_args.steps is None:
                run_args.steps = 50 if gpu else (20 if size == "cpu" else 3)
            if run_args.warmup is None:
                run_args.warmup = 5 if gpu else (2 if size == "cpu" else 1)
            if args.epoch:
                row = measure_epoch(system, size, run_args)
                rows.append(row)
                print(f"{system:16s} {size:5s} epoch {row['last_epoch_seconds']:8.2f} s (validation "
                      f"{row['last_validation_seconds']:.2f} s)  {row['training_clips_per_second_last_epoch']:9.1f} "
                      "training clips/s", flush=True)
                continue
            row = measure(system, size, run_args)
            rows.append(row)
            print(f"{system:16s} {size:5s} batch {row['batch_size']:3d}  {row['seconds_per_step']:8.3f} s/step  "
                  f"{row['clips_per_second']:9.1f} clips/s  {row['gflop_per_second']:6.1f} GFLOP/s", flush=True)
    load_after = os.getloadavg()

    device = _device(args)
    print()
    print(f"training throughput on {device} ({args.accelerator}, precision {args.precision}, "
          f"torch threads {torch.get_num_threads()}); load average before {load_before[0]:.2f}, "
          f"after {load_after[0]:.2f} on {os.cpu_count()} CPU cores")
    if not args.epoch:
        print(f"{'system':16s} {'recipe':6s} {'batch':>5s} {'s/step':>9s} {'clips/s':>9s} {'GFLOP/clip':>10s} "
              f"{'GFLOP/s':>8s}")
        for r in rows:
            print(f"{r['system']:16s} {r['recipe']:6s} {r['batch_size']:5d} {r['seconds_per_step']:9.3f} "
                  f"{r['clips_per_second']:9.1f} {r['gflop_per_clip']['total']:10.3f} {r['gflop_per_second']:8.1f}")
    if args.quick and args.out is None:
        print("--quick: nothing saved")
        return
    kind = "epoch" if args.epoch else "train_throughput"
    out = args.out or REPO / "benchmarks" / "results" / f"{kind}_{args.accelerator}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out, {
        **provenance(load_before),
        "device": device, "accelerator": args.accelerator, "precision": args.precision,
        "on_accelerator": args.on_accelerator,
        "cuda": torch.version.cuda if args.accelerator == "gpu" else None,
        "threads": torch.get_num_threads(),
        "results": rows,
    })
    print(f"saved {out}")


if __name__ == "__main__":
    main()
