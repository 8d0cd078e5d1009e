"""``jointsed compare PLAN --out DIR``: train, tune and score the rows of a comparison plan with
every seed, and report each row's mean and spread and each effect with a 95 % interval.

    jointsed compare proof_cpu --out runs/proof           # a packaged plan (jointsed compare --list)
    jointsed compare my_plan.yaml --out runs/mine --jobs 2 --seeds 42 1

What a plan holds, and the output folder: :mod:`jointsed.pipeline.compare_plan` and
:mod:`jointsed.pipeline.compare`. Finished trainings and evaluations are reused on a rerun.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "Compare systems over several seeds: train, tune, score on held-out sets, effects with confidence intervals."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plan", nargs="?", metavar="PLAN", help="a packaged plan's name or a plan YAML file")
    parser.add_argument("--out", type=Path, metavar="DIR", help="output folder (required to run)")
    parser.add_argument("--jobs", type=int, default=2, metavar="N",
                        help="trainings at a time, each with CPUs / N threads (default 2)")
    parser.add_argument("--seeds", type=int, nargs="+", metavar="S", help="replace the plan's seeds")
    parser.add_argument("--accelerator", choices=("cpu", "gpu"), default="cpu", help="where the trainings run")
    parser.add_argument("--list", action="store_true", help="list the packaged plans")


def run(args: argparse.Namespace) -> int:
    from jointsed.pipeline.compare_plan import list_plans, load_plan, resolve_plan

    if args.list or args.plan is None:
        for name in list_plans():
            print(name)
        return 0
    from jointsed.errors import JointsedError
    from jointsed.pipeline.compare import run_comparison

    if args.out is None:
        raise JointsedError("--out DIR is required")
    if args.jobs < 1:
        raise JointsedError(f"--jobs must be at least 1, got {args.jobs}")
    plan = load_plan(args.plan, args.seeds)
    results = run_comparison(plan, args.out, jobs=args.jobs, accelerator=args.accelerator,
                             plan_file=str(resolve_plan(args.plan)))
    print(results["tables"])
    print(f"written {args.out / 'comparison.json'} and comparison.md ({results['wall_seconds']:.0f} s)")
    return 0
