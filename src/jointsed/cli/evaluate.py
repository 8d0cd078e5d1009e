"""``jointsed evaluate``: score system outputs against a ground truth with the DCASE metrics.

Two modes:

* a trained run::

      jointsed evaluate --run RUN_DIR --data-root DATA [--split validation] [--postprocess JSON]
      jointsed evaluate --run RUN_DIR --tsv GT.tsv --audio AUDIO_DIR [--durations DUR.tsv]

  scores the split with the model (or reuses its raw scores from an earlier run), applies the
  post-processing (``RUN_DIR/postprocess.json`` if present, else Lin's defaults), prints the
  metrics and writes ``RUN_DIR/eval/<split>/`` for ``jointsed report``;
* system outputs already on disk::

      jointsed evaluate GT_TSV --durations DUR_TSV --predictions TSV [--scores DIR] ...

Detections of clips that are not in the ground truth are not scored (as in the DCASE baseline):
a warning on stderr says how many (and ``jointsed report`` repeats it in its notes).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

HELP = "Evaluate a trained run, or detections / operating points / frame scores (event/segment/tagging F1, PSDS)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ground_truth", metavar="GT_TSV", nargs="?",
                        help="strong-label ground-truth tsv (evaluating files; not with --run)")
    parser.add_argument(
        "--durations", metavar="DUR_TSV",
        help="tsv of clip durations (filename duration); with --run: the durations of --tsv "
             "(optional, else read from the audio)",
    )
    files = parser.add_argument_group("evaluating files (with GT_TSV)")
    files.add_argument(
        "--predictions", metavar="TSV",
        help="detection table (tsv, or csv as written by the DCASE baseline)",
    )
    files.add_argument(
        "--operating-points", metavar="DIR",
        help="folder of detection tables *_<threshold>.tsv (PSDS)",
    )
    files.add_argument(
        "--scores", metavar="DIR", help="folder of sed_scores_eval frame-score files <clip>.tsv"
    )
    files.add_argument(
        "--classes", metavar="A,B,C|FILE",
        help="the class list, in order: a,b,c or a text file of one class per line (default: DESED's "
             "classes if every ground-truth label is one of them, else the ground truth's labels, sorted)",
    )
    files.add_argument(
        "--threshold", type=float, default=0.5,
        help="decision threshold for F-scores computed from frame scores (default 0.5)",
    )
    run = parser.add_argument_group("evaluating a trained run (--run)")
    run.add_argument("--run", type=Path, metavar="RUN_DIR",
                     help="training run folder (or checkpoint): score, post-process, evaluate, "
                          "write RUN_DIR/eval/SPLIT")
    run.add_argument("--data-root", type=Path, metavar="DIR",
                     help="dataset folder the recipe's data paths are relative to")
    run.add_argument("--split", metavar="NAME",
                     help="validation (default) or synthetic: the recipe's data paths; with --tsv: the name "
                          "of the evaluation folder (default: the tsv's name)")
    run.add_argument("--tsv", type=Path, metavar="GT_TSV",
                     help="evaluate on this strongly labelled set instead (with --audio)")
    run.add_argument("--audio", type=Path, metavar="DIR", help="audio folder of --tsv")
    run.add_argument("--postprocess", type=Path, metavar="JSON",
                     help="post-processing parameters (default: RUN_DIR/postprocess.json if present, else Lin's)")
    run.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (default: cpu)")
    run.add_argument("--batch-size", type=int, default=16, metavar="N", help="10-s windows per forward pass")
    run.add_argument("--rescore", action="store_true",
                     help="run the model again even if RUN_DIR/scores/SPLIT holds its scores")
    run.add_argument("--allow-unfinished", action="store_true",
                     help="evaluate the model of a run that did not finish training (no finished.json: stopped "
                          "by a signal or killed); refused without it")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--json", metavar="OUT.json", help="also write the results as JSON")


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _run_mode(args: argparse.Namespace) -> dict[str, Any]:
    from jointsed.evaluate import EvaluationError
    from jointsed.utils.device import check_device
    from jointsed.pipeline import evaluate_checkpoint

    check_device(args.device)
    if args.ground_truth is not None:
        raise EvaluationError(f"--run evaluates a split of the run: use --tsv {args.ground_truth} instead of GT_TSV")
    given = [name for name in ("predictions", "operating_points", "scores", "classes") if getattr(args, name)]
    if given:
        raise EvaluationError(f"--{given[0].replace('_', '-')} goes with GT_TSV, not with --run")
    if args.tsv is None and args.audio is None and args.data_root is None:
        raise EvaluationError("--run needs --data-root DIR (or a split given with --tsv and --audio)")
    from jointsed.runs.state import check_finished_model

    warning = check_finished_model(args.run, args.allow_unfinished)
    if warning:
        print(warning, file=sys.stderr)
    return evaluate_checkpoint(
        args.run, args.data_root, args.split, args.postprocess,
        tsv=args.tsv, audio=args.audio, durations=args.durations, device=args.device,
        batch_size=args.batch_size, progress=not args.no_progress, reuse=not args.rescore, echo=print,
    )


def _files_mode(args: argparse.Namespace) -> dict[str, Any]:
    from jointsed.data.classes import explain_unknown_label, resolve_classes
    from jointsed.errors import JointsedError
    from jointsed.evaluate import EvaluationError, evaluate_run

    if args.ground_truth is None:
        raise EvaluationError("give GT_TSV (with --durations and predictions), or --run RUN_DIR --data-root DIR")
    run_only = [flag for flag, value in (("--data-root", args.data_root), ("--split", args.split),
                                         ("--tsv", args.tsv), ("--audio", args.audio),
                                         ("--postprocess", args.postprocess)) if value is not None]
    if run_only:
        raise EvaluationError(f"{run_only[0]} goes with --run RUN_DIR")
    if args.durations is None:
        raise EvaluationError("--durations DUR_TSV is needed with GT_TSV")
    if not (args.predictions or args.operating_points or args.scores):
        raise EvaluationError("give at least one of --predictions, --operating-points, --scores")
    classes, note = resolve_classes(args.classes, args.ground_truth)
    if note:  # stderr: the class list decides which labels are valid and the order of the table
        print(f"note: {note}", file=sys.stderr)
    try:
        return evaluate_run(
            args.ground_truth,
            args.durations,
            predictions=args.predictions,
            operating_points=args.operating_points,
            scores=args.scores,
            threshold=args.threshold,
            classes=classes,
        )
    except JointsedError as exc:
        raise explain_unknown_label(exc, note is not None, "--classes a,b,c") from None


def run(args: argparse.Namespace) -> int:
    from jointsed.evaluate import EvaluationError, format_table
    from jointsed.utils.atomic import atomic_write_json

    if args.json:  # before the evaluation: a bad --json path used to fail only at the end
        from jointsed.utils.outputs import check_output_file

        check_output_file(args.json, [p for p in (args.ground_truth, args.durations, args.predictions, args.tsv)
                                      if p is not None], flag="--json")
    if args.run is not None and args.batch_size < 1:
        raise EvaluationError(f"--batch-size must be at least 1, got {args.batch_size}")
    results = _run_mode(args) if args.run is not None else _files_mode(args)
    print(format_table(results))
    outside = results.get("clips_outside_ground_truth") or 0
    if outside:  # a warning, not an error: scoring a subset of a larger prediction table is legitimate
        print(f"warning: {outside} clip(s) of the predictions are not in the ground truth "
              f"({results.get('n_clips', '?')} clips); their detections were not scored", file=sys.stderr)
    past = results.get("detections_past_clip_end") or 0
    if past:  # padding to the set's clip length does this; the metrics count them as false positives
        print(f"warning: {past} detection(s) end after the end of their clip (up to the longest clip of the set; "
              "scored as false positives)", file=sys.stderr)
    short = results.get("clips_with_scores_short_of_their_duration") or 0
    if short:  # the rest of those clips has no score: scores cut short, or the durations of another set
        print(f"warning: the frame scores of {short} clip(s) end before the clip's duration in "
              f"{results.get('durations')}; the rest of those clips has no score (no detection there)", file=sys.stderr)
    if args.json:
        atomic_write_json(args.json, _json_ready(results))
        print(f"\nresults written to {args.json}")
    return 0
