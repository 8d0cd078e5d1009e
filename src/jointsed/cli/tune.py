"""``jointsed tune``: tune the per-class post-processing of a trained run on a labelled set.

    jointsed tune RUN_DIR --data-root DATA [--split validation] [--objective event_f1|psds1]
    jointsed tune RUN_DIR --tsv GT.tsv --audio AUDIO_DIR [--durations DUR.tsv]

Event-specific post-processing (our formulation of Liang et al., DESIGN §4): for every class, the
tag threshold, frame threshold and median window (and, with a grid file, minimum duration and
gap filling) maximising that class's event-based F1, or PSDS1, on the split, starting from Lin's
defaults. Writes ``RUN_DIR/postprocess.json``, which ``jointsed predict`` and ``jointsed
evaluate --run`` then use, and prints the per-class table (Lin's defaults vs tuned). The model's
raw scores of the split are kept in ``RUN_DIR/scores/SPLIT`` and reused by later calls.
Figures measured on the tuning set itself are optimistic: evaluate on another set
(``jointsed evaluate --run RUN_DIR --tsv ... --audio ...``) for a fair number.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "Tune the per-class post-processing (thresholds, median windows) of a run on a labelled set."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="training run folder (or checkpoint)")
    parser.add_argument("--data-root", type=Path, metavar="DIR",
                        help="dataset folder the recipe's data paths are relative to")
    parser.add_argument("--split", metavar="NAME",
                        help="validation (default) or synthetic: the recipe's data paths; with --tsv: a name "
                             "for the kept scores (default: the tsv's name)")
    parser.add_argument("--objective", choices=("event_f1", "psds1"), default="event_f1",
                        help="what to maximise per class (default: event_f1)")
    parser.add_argument("--tsv", type=Path, metavar="GT_TSV", help="tune on this strongly labelled set (with --audio)")
    parser.add_argument("--audio", type=Path, metavar="DIR", help="audio folder of --tsv")
    parser.add_argument("--durations", type=Path, metavar="DUR_TSV",
                        help="durations of --tsv (optional: else read from the audio)")
    parser.add_argument("--grid", type=Path, metavar="YAML",
                        help="candidate values (TuningGrid keys: tag_thresholds, frame_thresholds, window_factors, "
                             "add_window_one, max_gaps, min_durations, psds_rounds)")
    parser.add_argument("--out", type=Path, metavar="JSON", help="where to write (default: RUN_DIR/postprocess.json)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (default: cpu)")
    parser.add_argument("--batch-size", type=int, default=16, metavar="N", help="10-s windows per forward pass")
    parser.add_argument("--rescore", action="store_true",
                        help="run the model again even if RUN_DIR/scores/SPLIT holds its scores")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from jointsed.utils.device import check_device
    from jointsed.pipeline import PipelineError, tune_run

    check_device(args.device)
    if args.batch_size < 1:
        raise PipelineError(f"--batch-size must be at least 1, got {args.batch_size}")
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
        from jointsed.postprocess import TuningGrid

        data = load_yaml(args.grid)
        try:
            grid = from_dict(TuningGrid, data)
            grid.validate()
        except ConfigError as exc:
            raise ConfigError(f"{args.grid}: {exc}") from None
    if args.tsv is None and args.audio is None and args.data_root is None:
        raise PipelineError("give --data-root DIR (or a labelled set with --tsv and --audio)")
    tune_run(
        args.run_dir, args.data_root, args.split, args.objective, grid,
        tsv=args.tsv, audio=args.audio, durations=args.durations, device=args.device,
        batch_size=args.batch_size, progress=not args.no_progress, reuse=not args.rescore,
        out=args.out, echo=print,
    )
    return 0
