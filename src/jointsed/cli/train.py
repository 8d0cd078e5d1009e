"""``jointsed train``: train a recipe on a DESED-layout dataset.

    jointsed train dcase2019/gl_baseline --data-root DATA --out runs/gl
    jointsed train RECIPE --data-root DATA --out runs/gl --resume --set trainer.max_epochs=120
    jointsed train RECIPE --data-root DATA --devices 4 --accelerator gpu --strategy ddp

RECIPE is a packaged recipe's name (``jointsed recipes`` lists them; ``dcase2019/joint``,
``cpu/gl_baseline``) or the path of a YAML file (your own, which may ``base:`` a packaged one).
``--set key.path=value`` overrides any recipe key (value parsed as YAML). The run folder gets
``config.yaml``, ``checkpoints/best.ckpt`` + ``last.ckpt``, ``logs/`` (CSV + TensorBoard) and
``metrics.json``. With several nodes, give ``--out`` explicitly (every node must use the same
folder, on a shared file system).

The joint framework (``*/joint``; our reconstruction of Liang et al., arXiv 2103.12388)
is one command too: the frame-level teacher (``joint.distillation.teacher_checkpoint: auto``) into
``RUN_DIR/frame_teacher``, stage 1 (BCE) into ``RUN_DIR/stage1``, stage 2 (adaptive focal loss)
into ``RUN_DIR/stage2``; the run folder's checkpoints and metrics are the final stage's. Finished
phases are reused when the command is run again (``--force`` retrains them)::

    jointsed train dcase2019/joint --data-root DATA --out runs/joint
    jointsed train dcase2019/joint --data-root DATA --out runs/joint --stage 1
    jointsed train dcase2019/joint --data-root DATA --out runs/joint --stage 2
    jointsed train RECIPE --data-root DATA --out runs/other --stage 2 --init runs/joint/stage1
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

HELP = "Train a system (guided learning, CRNN mean teacher, joint framework) from a recipe."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from jointsed.recipes import describe

    parser.add_argument("recipe", metavar="RECIPE",
                        help="packaged recipe name (e.g. dcase2019/joint) or path of a recipe YAML")
    parser.epilog = f"{describe()} (`jointsed recipes` shows their files)."
    parser.add_argument("--data-root", required=True, type=Path, metavar="DIR",
                        help="dataset folder (DESED layout; the recipe's data paths are relative to it)")
    parser.add_argument("--out", type=Path, metavar="RUN_DIR",
                        help="run folder (default: runs/<recipe name>-<date-time>)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its checkpoints/last.ckpt; the recipe must be the "
                             "run's (config.yaml): only trainer.max_epochs and the hardware keys (devices, "
                             "accelerator, strategy, num_nodes, num_threads, progress_bar) may change, any other "
                             "difference is refused, naming the keys")
    parser.add_argument("--stage", type=int, choices=(1, 2),
                        help="two-stage recipes: run only this stage (stage 2 needs RUN_DIR/stage1 or --init)")
    parser.add_argument("--init", type=Path, metavar="CKPT",
                        help="with --stage 2: initial weights (checkpoint or run folder) instead of stage 1's best")
    parser.add_argument("--force", action="store_true",
                        help="retrain phases that already ran in --out (their training outputs are replaced)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe key, e.g. --set trainer.max_epochs=10 (repeatable)")
    parser.add_argument("--devices", metavar="N", help="devices per node (number or 'auto')")
    parser.add_argument("--accelerator", choices=("cpu", "gpu", "cuda", "mps", "auto"), help="hardware")
    parser.add_argument("--strategy", metavar="NAME", help="Lightning strategy, e.g. ddp, ddp_spawn")
    parser.add_argument("--num-nodes", type=int, metavar="M", help="number of nodes")
    parser.add_argument("--precision", metavar="P", help="e.g. 32-true, 16-mixed, bf16-mixed")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def _cli_overrides(args: argparse.Namespace) -> list[str]:
    out = []
    if args.devices is not None:
        out.append(f"trainer.devices={args.devices}")
    if args.accelerator is not None:
        out.append(f"trainer.accelerator={args.accelerator}")
    if args.strategy is not None:
        out.append(f"trainer.strategy={args.strategy}")
    if args.num_nodes is not None:
        out.append(f"trainer.num_nodes={args.num_nodes}")
    if args.precision is not None:
        out.append(f"trainer.precision={args.precision}")
    return out


def _check_data_root(data_root: Path, config) -> None:
    """No data where --data-root points: say which tables are missing and how to get a dataset."""
    from jointsed.training.errors import TrainingError

    if not data_root.is_dir():
        raise TrainingError(f"--data-root {data_root}: folder not found (make a dataset with "
                            f"`jointsed synth --preset demo --out {data_root}`, or see docs/real_desed.md)")
    tables = {key: getattr(config.data, key) for key in ("weak_tsv", "synthetic_tsv", "validation_tsv")}
    missing = [f"data.{key} = {rel}" for key, rel in tables.items() if rel and not (data_root / rel).is_file()]
    if missing and len(missing) == sum(1 for rel in tables.values() if rel):
        raise TrainingError(
            f"--data-root {data_root}: none of the recipe's tables is there ({'; '.join(missing)}). "
            "Point --data-root at a DESED-layout folder (docs/real_desed.md lists where each table goes), "
            f"change the recipe's data paths, or make a dataset with `jointsed synth --preset demo --out DIR`"
        )


def _check_out(out: Path) -> None:
    """The run folder: a folder (or a new one) where we may write, checked before any data loads."""
    from jointsed.runs.layout import CONFIG_FILE
    from jointsed.utils.outputs import OutputError, check_writable

    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out}: is a file; give a run folder")
    check_writable(out / CONFIG_FILE)


def run(args: argparse.Namespace) -> int:
    from jointsed.training.config import load_recipe
    from jointsed.training.distributed import is_global_zero
    from jointsed.utils.device import check_device

    config = load_recipe(args.recipe, [*args.overrides, *_cli_overrides(args)])
    from jointsed.training.phases import train  # Lightning: seconds to import, after the recipe is checked
    check_device(config.trainer.accelerator, "--accelerator" if args.accelerator else "trainer.accelerator")
    _check_data_root(args.data_root, config)
    if (args.resume or args.stage == 2 or args.force) and args.out is None:
        from jointsed.training.errors import TrainingError

        raise TrainingError("--resume, --force and --stage 2 need --out RUN_DIR (the run to continue)")
    out = args.out or Path("runs") / f"{config.name or 'run'}-{time.strftime('%Y%m%d-%H%M%S')}"
    _check_out(out)
    result = train(config, args.data_root, out, resume=args.resume, progress=not args.no_progress,
                   stage=args.stage, init_checkpoint=args.init, force=args.force)
    if not is_global_zero():  # with DDP every rank runs this command: rank 0 reports
        return 0
    if result.metrics.get("best"):
        best = result.metrics["best"]
        summary = {k: round(best[k], 4) for k in ("clip_f1", "event_f1") if k in best}
        # event F1 here is at the untrained defaults (0.5 thresholds, Lin's post-processing): an
        # early model often scores 0.0 that tuning turns into a usable one, which the line must say
        print(f"best epoch {best['epoch']}: {json.dumps(summary)} (validation, at the untuned 0.5 "
              "thresholds; jointsed tune sets per-class ones, then jointsed evaluate)")
    print(f"run folder: {result.run_dir}")
    return 0
