"""``jointsed report``: an HTML page with the metrics and figures of an evaluated run.

    jointsed report runs/gl [--split validation] [--out DIR] [--clips N]

Reads ``RUN_DIR/eval/<split>/`` (written by ``jointsed evaluate --run RUN_DIR``) and the CSV
training logs of the run; writes ``index.html`` and its PNG figures to ``RUN_DIR/report/`` (or
``--out``). The page opens offline: no script, nothing loaded from the web.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "Write an HTML report (metrics, training curves, PSD-ROC, confusions, example clips) of an evaluated run."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="training run folder")
    parser.add_argument("--split", default="validation",
                        help="evaluated split: reads RUN_DIR/eval/SPLIT (default: validation)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="output folder (default: RUN_DIR/report; a previous report there is replaced)")
    parser.add_argument("--clips", type=int, default=6, metavar="N",
                        help="example clips to draw (default: 6; 0 for none)")
    parser.add_argument("--embed", action="store_true",
                        help="embed the figures in index.html (one self-contained file, no PNGs)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    # figures are drawn on Agg canvases (matplotlib.figure.Figure): no display needed
    from jointsed.report.build import build_report
    from jointsed.runs.layout import REPORT_DIR, REPORT_INDEX_FILE
    from jointsed.utils.outputs import check_writable

    if args.clips < 0:
        from jointsed.report.build import ReportError

        raise ReportError(f"--clips must be 0 or more, got {args.clips}")
    check_writable((args.out or args.run_dir / REPORT_DIR) / REPORT_INDEX_FILE)

    index = build_report(
        args.run_dir,
        split=args.split,
        out=args.out,
        n_clips=args.clips,
        embed_images=args.embed,
        progress=not args.no_progress,
    )
    print(f"report written to {index}")
    return 0
