"""``jointsed demo``: the whole toolkit on a synthetic dataset, in one command.

    jointsed demo [--out jointsed_demo] [--force] [--recipe RECIPE] [--device cpu|gpu]

1. synthesises the ``demo`` dataset (``jointsed synth --preset demo``) into ``OUT/data``;
2. trains the demo recipe (the packaged ``cpu/joint``; ``--recipe`` takes another packaged
   recipe's name or a YAML path) into ``OUT/run``;
3. tunes the post-processing on the demo validation set (``OUT/run/postprocess.json``);
4. evaluates on that validation set with Lin's default and with the tuned post-processing
   (``OUT/run/eval/validation/``);
5. writes the HTML report (``OUT/run/report/index.html``)

and prints a table of the results and the time of each step. Running it again reuses the
dataset, the trained model and its scores (``--force`` redoes everything). The tuned figures
are measured on the set the post-processing was tuned on (optimistic); the untuned ones are
printed beside them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "Run the whole toolkit on a synthetic dataset: synthesize, train, tune, evaluate, report."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("jointsed_demo"), metavar="DIR",
                        help="demo folder (default: ./jointsed_demo): data/, run/, demo.json")
    parser.add_argument("--force", action="store_true",
                        help="redo every step (replaces DIR/data and DIR/run)")
    from jointsed.recipes import describe

    parser.add_argument("--recipe", metavar="RECIPE",
                        help="recipe to train: a packaged recipe's name or the path of a recipe YAML "
                             "(default: cpu/joint)")
    parser.epilog = f"{describe()} (`jointsed recipes` shows their files)."
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                        help="train and run the model on the CPU (default) or a GPU")
    from jointsed.evaluate.metric_table import METRICS

    parser.add_argument("--objective", choices=list(METRICS), default="event_f1",
                        help="post-processing tuning objective, a metric of the table: " + ", ".join(METRICS)
                             + " (default: event_f1)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe key, e.g. --set trainer.max_epochs=10 (repeatable)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    # hidden: a smaller dataset / fewer example clips (tests, quick checks)
    parser.add_argument("--preset", default="demo", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--report-clips", type=int, default=6, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    from jointsed.recipes import resolve_recipe
    from jointsed.utils.device import check_device
    from jointsed.pipeline import run_demo

    check_device(args.device)
    result = run_demo(
        args.out,
        force=args.force,
        recipe=resolve_recipe(args.recipe) if args.recipe is not None else None,
        overrides=args.overrides,
        device=args.device,
        preset=args.preset,
        seed=args.seed,
        objective=args.objective,
        report_clips=args.report_clips,
        progress=not args.no_progress,
        echo=print,
    )
    print(result.summary())
    return 0
