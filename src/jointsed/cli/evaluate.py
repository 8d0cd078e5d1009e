"""``jointsed evaluate``: score system outputs against a ground truth with the DCASE metrics."""

from __future__ import annotations

import argparse
import math
from typing import Any

HELP = "Evaluate detections, operating points or frame scores (event/segment/tagging F1, PSDS)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ground_truth", metavar="GT_TSV", help="strong-label ground-truth tsv")
    parser.add_argument(
        "--durations", required=True, metavar="DUR_TSV",
        help="tsv of clip durations (filename duration)",
    )
    parser.add_argument(
        "--predictions", metavar="TSV",
        help="detection table (tsv, or csv as written by the DCASE baseline)",
    )
    parser.add_argument(
        "--operating-points", metavar="DIR",
        help="folder of detection tables *_<threshold>.tsv (PSDS)",
    )
    parser.add_argument(
        "--scores", metavar="DIR", help="folder of sed_scores_eval frame-score files <clip>.tsv"
    )
    parser.add_argument(
        "--threshold", type=float, default=0.5,
        help="decision threshold for F-scores computed from frame scores (default 0.5)",
    )
    parser.add_argument("--json", metavar="OUT.json", help="also write the results as JSON")


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def run(args: argparse.Namespace) -> int:
    from jointsed.evaluate import EvaluationError, evaluate_run, format_table
    from jointsed.utils.atomic import atomic_write_json

    if not (args.predictions or args.operating_points or args.scores):
        raise EvaluationError("give at least one of --predictions, --operating-points, --scores")
    results = evaluate_run(
        args.ground_truth,
        args.durations,
        predictions=args.predictions,
        operating_points=args.operating_points,
        scores=args.scores,
        threshold=args.threshold,
    )
    print(format_table(results))
    if args.json:
        atomic_write_json(args.json, _json_ready(results))
        print(f"\nresults written to {args.json}")
    return 0
