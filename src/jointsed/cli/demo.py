"""``jointsed demo``: the whole toolkit on a synthetic dataset, in one command.

    jointsed demo [--out jointsed_demo] [--force] [--recipe PATH] [--device cpu|gpu]

1. synthesises the ``demo`` dataset (``jointsed synth --preset demo``) into ``OUT/data``;
2. trains the demo recipe (``recipes/cpu/joint.yaml`` if present, else
   ``recipes/cpu/gl_baseline.yaml``) into ``OUT/run``;
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
    parser.add_argument("--recipe", type=Path, metavar="PATH",
                        help="recipe to train (default: recipes/cpu/joint.yaml of the jointsed repository if "
                             "present, else recipes/cpu/gl_baseline.yaml)")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                        help="train and run the model on the CPU (default) or a GPU")
    parser.add_argument("--objective", choices=("event_f1", "psds1"), default="event_f1",
                        help="post-processing tuning objective (default: event_f1)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe key, e.g. --set trainer.max_epochs=10 (repeatable)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    # hidden: a smaller dataset / fewer example clips (tests, quick checks)
    parser.add_argument("--preset", default="demo", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--report-clips", type=int, default=6, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    from jointsed.utils.device import check_device
    from jointsed.workflow import run_demo

    check_device(args.device)
    result = run_demo(
        args.out,
        force=args.force,
        recipe=args.recipe,
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
