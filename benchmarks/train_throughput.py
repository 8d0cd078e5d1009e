"""Training throughput (clips per second) of each system, CPU-sized and full recipes.

Runs the real engine (:func:`jointsed.training.engine.train`: Lightning trainer, batch sampler,
in-memory features, losses, optimiser) on random in-memory features shaped like the recipe's
(no audio, no validation) and times the training steps after a warm-up.

    python benchmarks/train_throughput.py                       # CPU, both recipe sizes
    python benchmarks/train_throughput.py --accelerator gpu --precision 16-mixed --on-accelerator

Prints a table and saves JSON to ``benchmarks/results/train_throughput_<device>.json``.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch
from lightning.pytorch.callbacks import Callback

from jointsed.training.config import SET_NAMES, load_recipe
from jointsed.training.data import SET_IDS, TrainingSet
from jointsed.training.engine import train
from jointsed.utils.atomic import atomic_write_json

REPO = Path(__file__).resolve().parents[1]
RECIPES = {
    ("guided_learning", "cpu"): REPO / "recipes" / "cpu" / "gl_baseline.yaml",
    ("guided_learning", "full"): REPO / "recipes" / "dcase2019" / "gl_baseline.yaml",
    ("mean_teacher", "cpu"): REPO / "recipes" / "cpu" / "crnn_mean_teacher.yaml",
    ("mean_teacher", "full"): REPO / "recipes" / "dcase2019" / "crnn_mean_teacher.yaml",
}


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


def random_training_set(n_per_set: int, n_frames: int, n_mels: int, n_classes: int, seed: int = 0) -> TrainingSet:
    """Random log-mel-like features and labels for ``n_per_set`` clips of each set."""
    g = torch.Generator().manual_seed(seed)
    n = n_per_set * len(SET_NAMES)
    source = torch.tensor([SET_IDS[s] for s in SET_NAMES for _ in range(n_per_set)])
    weak = (torch.rand(n, n_classes, generator=g) < 0.2).float()
    weak[source == SET_IDS["unlabelled"]] = 0
    strong_idx = torch.full((n,), -1, dtype=torch.long)
    syn = torch.nonzero(source == SET_IDS["synthetic"]).flatten()
    strong_idx[syn] = torch.arange(syn.numel())
    return TrainingSet(
        features=torch.randn(n, n_frames, n_mels, generator=g) * 3 - 5,
        weak_targets=weak,
        weak_mask=source != SET_IDS["unlabelled"],
        strong_index=strong_idx,
        strong_targets=(torch.rand(syn.numel(), n_frames, n_classes, generator=g) < 0.1).to(torch.uint8),
        source=source,
        filenames=[f"clip{i}" for i in range(n)],
        clip_labels=[("Speech",), ("Dog",), ("Speech", "Dog")] * (n_per_set // 3 + 1),
    )


def measure(system: str, size: str, args: argparse.Namespace) -> dict:
    overrides = [
        "data.validation_tsv=null",
        "postprocess.median_windows=1",
        "trainer.max_epochs=1",
        f"trainer.limit_train_batches={args.warmup + args.steps}",
        f"trainer.accelerator={args.accelerator}",
        f"trainer.precision={args.precision}",
        "trainer.progress_bar=false",
        f"data.on_accelerator={str(args.on_accelerator).lower()}",
    ]
    if args.threads:
        overrides.append(f"trainer.num_threads={args.threads}")
    config = load_recipe(RECIPES[(system, size)], overrides)
    fc = config.features
    bs = config.batch.batch_size if config.batch.mode == "union" else sum(config.batch.composition.values())
    n_batches = args.warmup + args.steps
    # enough clips per set for n_batches batches in either composition mode
    per_set = max(bs * n_batches // 3 + bs, max(config.batch.composition.values()) * n_batches) + 1
    data = random_training_set(per_set, fc.n_frames(), fc.n_mels, len(config.data.classes))
    timer = StepTimer()
    with tempfile.TemporaryDirectory() as tmp:
        train(config, tmp, Path(tmp) / "run", progress=False, train_set=data, validation_set=None,
              callbacks=[timer])
    times = timer.times[args.warmup :]
    clips = sum(timer.sizes[args.warmup :])
    seconds = sum(times)
    return {
        "system": system,
        "recipe": size,
        "recipe_file": str(RECIPES[(system, size)].relative_to(REPO)),
        "batch_size": bs,
        "steps_timed": len(times),
        "seconds_per_step": seconds / max(1, len(times)),
        "clips_per_second": clips / seconds if seconds > 0 else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accelerator", default="cpu", choices=("cpu", "gpu"))
    parser.add_argument("--precision", default="32-true", help="e.g. 32-true, 16-mixed, bf16-mixed")
    parser.add_argument("--on-accelerator", action="store_true", help="keep the training features on the GPU")
    parser.add_argument("--systems", default="guided_learning,mean_teacher")
    parser.add_argument("--recipes", default="cpu,full", help="cpu, full or both")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default: 20 cpu recipe, 3 full on CPU, 50 on GPU)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed first steps (default 2, 1 for full on CPU)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=None, help="JSON output (default benchmarks/results/...)")
    args = parser.parse_args()

    rows = []
    for system in args.systems.split(","):
        for size in args.recipes.split(","):
            run_args = argparse.Namespace(**vars(args))
            gpu = args.accelerator == "gpu"
            if run_args.steps is None:
                run_args.steps = 50 if gpu else (20 if size == "cpu" else 3)
            if run_args.warmup is None:
                run_args.warmup = 5 if gpu else (2 if size == "cpu" else 1)
            row = measure(system, size, run_args)
            rows.append(row)
            print(f"{system:16s} {size:5s} batch {row['batch_size']:3d}  {row['seconds_per_step']:8.3f} s/step  "
                  f"{row['clips_per_second']:9.1f} clips/s", flush=True)

    device = torch.cuda.get_device_name(0) if args.accelerator == "gpu" else f"{platform.processor() or 'cpu'}"
    print()
    print(f"training throughput on {device} ({args.accelerator}, precision {args.precision}, "
          f"torch threads {torch.get_num_threads()})")
    print(f"{'system':16s} {'recipe':6s} {'batch':>5s} {'s/step':>9s} {'clips/s':>9s}")
    for r in rows:
        print(f"{r['system']:16s} {r['recipe']:6s} {r['batch_size']:5d} {r['seconds_per_step']:9.3f} "
              f"{r['clips_per_second']:9.1f}")
    out = args.out or REPO / "benchmarks" / "results" / f"train_throughput_{args.accelerator}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out, {
        "device": device, "accelerator": args.accelerator, "precision": args.precision,
        "on_accelerator": args.on_accelerator, "torch": torch.__version__, "threads": torch.get_num_threads(),
        "cpu_count": __import__("os").cpu_count(), "results": rows,
    })
    print(f"saved {out}")


if __name__ == "__main__":
    main()
