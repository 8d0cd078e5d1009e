"""``jointsed tune``: tune the per-class post-processing of a trained run on a labelled set.

    jointsed tune RUN_DIR --data-root DATA [--split validation] [--method lin|sebb] [--objective NAME]
    jointsed tune RUN_DIR --tsv GT.tsv --audio AUDIO_DIR [--durations DUR.tsv]

``--method lin`` (default), event-specific post-processing (our formulation of Liang et al., DESIGN
§4): for every class, the tag threshold, frame threshold and median window (and, with a grid
file, minimum duration and gap filling) maximising that class's event-based F1, or PSDS, on the
split, starting from Lin's defaults. ``--method sebb``: sound event bounding boxes (our
implementation of Ebbers et al., Interspeech 2024): tag threshold, median window, step-filter
length, change threshold, merge gap, confidence and decision threshold, per class or global.
``--objective`` names an entry of the metric table (:mod:`jointsed.evaluate.metric_table`:
event_f1, psds1, psds2). Writes ``RUN_DIR/postprocess.json``, which ``jointsed predict`` and
``jointsed evaluate --run`` then use, and prints the per-class table (the method's defaults vs
tuned). The model's raw scores of the split are kept in ``RUN_DIR/scores/SPLIT`` and reused by
later calls.
Figures measured on the tuning set itself are optimistic: evaluate on another set
(``jointsed evaluate --run RUN_DIR --tsv ... --audio ...``) for a fair number.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "Tune the per-class post-processing (thresholds, median windows) of a run on a labelled set."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="training run folder (or checkpoint)")
    parser.add_argument("--data-root", type=Path, metavar="DIR",
                        help="dataset folder the recipe's data paths are relative to")
    parser.add_argument("--split", metavar="NAME",
                        help="validation (default) or synthetic: the recipe's data paths; with --tsv: a name "
                             "for the kept scores (default: the tsv's name)")
    from jointsed.evaluate.metric_table import METRICS
    from jointsed.postprocess.base import DEFAULT_METHOD, registered_postprocessors

    parser.add_argument("--method", choices=registered_postprocessors(), default=DEFAULT_METHOD,
                        help=f"post-processing method (default: {DEFAULT_METHOD}, Lin et al.'s; sebb: sound event "
                             "bounding boxes)")
    parser.add_argument("--objective", choices=list(METRICS), default="event_f1",
                        help="what to maximise: " + ", ".join(f"{m.name} ({m.label})" for m in METRICS.values())
                             + " (default: event_f1)")
    parser.add_argument("--tsv", type=Path, metavar="GT_TSV", help="tune on this strongly labelled set (with --audio)")
    parser.add_argument("--audio", type=Path, metavar="DIR", help="audio folder of --tsv")
    parser.add_argument("--durations", type=Path, metavar="DUR_TSV",
                        help="durations of --tsv (optional: else read from the audio)")
    parser.add_argument("--grid", type=Path, metavar="YAML",
                        help="candidate values (lin, TuningGrid keys: tag_thresholds, frame_thresholds, window_factors, "
                             "add_window_one, max_gaps, min_durations, psds_rounds; sebb, SebbGrid keys: "
                             "tag_thresholds, window_factors, add_window_one, step_factors, change_thresholds, "
                             "merge_gaps, confidences, detection_thresholds, per_class, psds_rounds)")
    parser.add_argument("--out", type=Path, metavar="JSON", help="where to write (default: RUN_DIR/postprocess.json)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (default: cpu)")
    parser.add_argument("--batch-size", type=int, default=16, metavar="N", help="10-s windows per forward pass")
    parser.add_argument("--rescore", action="store_true",
                        help="run the model again even if RUN_DIR/scores/SPLIT holds its scores")
    parser.add_argument("--allow-unfinished", action="store_true",
                        help="tune the model of a run that did not finish training (no finished.json: stopped "
                             "by a signal or killed); refused without it")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from jointsed.utils.device import check_device
    from jointsed.pipeline import PipelineError, tune_run

    check_device(args.device)
    if args.batch_size < 1:
        raise PipelineError(f"--batch-size must be at least 1, got {args.batch_size}")
    from jointsed.runs.state import check_finished_model

    warning = check_finished_model(args.run_dir, args.allow_unfinished)
    if warning:
        print(warning, file=sys.stderr)
    if args.out is not None:
        from jointsed.utils.outputs import check_output_file

        check_output_file(args.out, [p for p in (args.tsv, args.durations, args.grid) if p is not None])
    else:
        from jointsed.runs.layout import POSTPROCESS_FILE
        from jointsed.utils.outputs import check_writable
        from jointsed.pipeline import run_dir_of

        check_writable(run_dir_of(args.run_dir) / POSTPROCESS_FILE, flag="RUN_DIR")
    grid = None
    if args.grid is not None:
        from jointsed.config import ConfigError, from_dict, load_yaml
        from jointsed.postprocess.base import postprocessor_class

        data = load_yaml(args.grid)
        try:
            grid = from_dict(postprocessor_class(args.method).grid_class(), data)
            grid.validate()
        except ConfigError as exc:
            raise ConfigError(f"{args.grid}: {exc}") from None
    if args.tsv is None and args.audio is None and args.data_root is None:
        raise PipelineError("give --data-root DIR (or a labelled set with --tsv and --audio)")
    tune_run(
        args.run_dir, args.data_root, args.split, args.objective, grid, method=args.method,
        tsv=args.tsv, audio=args.audio, durations=args.durations, device=args.device,
        batch_size=args.batch_size, progress=not args.no_progress, reuse=not args.rescore,
        out=args.out, echo=print,
    )
    return 0
