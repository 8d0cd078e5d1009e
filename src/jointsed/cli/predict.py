"""``jointsed predict``: detect sound events in audio files with a trained model.

    jointsed predict runs/gl AUDIO... --out predictions.tsv [--scores scores/]

Files of any length (longer files: sliding windows), format, channel count and sample rate.
Writes a DESED event table (``filename onset offset event_label``; files without events get an
empty row) and, with ``--scores``, one sed_scores_eval frame-score file per clip (readable by
``jointsed evaluate``): the post-processor's scores form on the frame grid (Lin's: classes whose
clip score is below their tag threshold zeroed, median filter; SEBB: each box's confidence over
its frames), as ``jointsed evaluate --run`` scores a split, so that the PSDS of these files is
the PSDS of the evaluated run; ``--raw-scores``: the networks' probabilities. Post-processing:
``postprocess.json`` next to the checkpoint if present (``jointsed tune``, any ``--method``),
else Lin et al.'s defaults stored in the checkpoint.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from jointsed.runs.precision import DEFAULT_PRECISION, PRECISIONS

HELP = "Detect sound events in audio files with a trained model (run folder or checkpoint)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, metavar="RUN_DIR_OR_CHECKPOINT",
                        help="run folder (uses checkpoints/best.ckpt) or a .ckpt file")
    parser.add_argument("audio", nargs="+", type=Path, metavar="AUDIO",
                        help="audio files and/or folders (audio files directly inside)")
    parser.add_argument("--out", required=True, type=Path, metavar="TSV", help="event table to write")
    parser.add_argument("--scores", type=Path, metavar="DIR",
                        help="also write frame scores (sed_scores_eval): the post-processor's scores form (Lin's: "
                             "gated by the clip tags and median-filtered; SEBB: its boxes' confidences), the scores "
                             "jointsed evaluate --run computes PSDS from")
    parser.add_argument("--raw-scores", action="store_true",
                        help="--scores: the networks' frame probabilities instead (no gating, no median filter)")
    parser.add_argument("--postprocess", type=Path, metavar="JSON",
                        help="post-processing parameters (default: postprocess.json beside the model, else Lin's)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (default: cpu)")
    parser.add_argument("--batch-size", type=int, default=16, metavar="N", help="windows per forward pass")
    parser.add_argument("--window-hop", type=float, metavar="SECONDS",
                        help="hop between the analysis windows of long files (default: half a clip)")
    parser.add_argument("--precision", choices=PRECISIONS, default=DEFAULT_PRECISION,
                        help="the networks' arithmetic: bf16 is several times faster on CPUs with AMX (Xeon 4th "
                             "gen+) and on GPUs, and moves scores by ~1e-3 (docs/quickstart.md) "
                             f"(default: {DEFAULT_PRECISION})")
    parser.add_argument("--clip-scores-from", choices=("teacher", "student"),
                        help="guided learning: network giving clip scores (default: teacher / PT)")
    parser.add_argument("--frame-scores-from", choices=("teacher", "student"),
                        help="guided learning: network giving frame scores (default: student / PS)")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing --out table, and an existing --scores folder written by jointsed "
                             "predict (never one holding other files or an input)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--engine", choices=("torch", "onnxruntime"), default="torch",
                        help="onnxruntime: RUN_DIR_OR_CHECKPOINT is a folder written by jointsed export --onnx, run "
                             "with onnxruntime alone, without torch (docs/deployment.md) (default: torch)")


def _audio_files(inputs: list[Path]) -> list[Path]:
    from jointsed.data.audio_files import list_audio_files

    files: list[Path] = []
    for p in inputs:
        files.extend(list_audio_files(p) if p.is_dir() else [p])
    return files


def _check_options(args: argparse.Namespace) -> None:
    from jointsed.errors import JointsedError

    if args.batch_size < 1:
        raise JointsedError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.window_hop is not None and not (math.isfinite(args.window_hop) and args.window_hop > 0):
        raise JointsedError(f"--window-hop must be a positive number of seconds, got {args.window_hop}")
    if args.raw_scores and args.scores is None:
        raise JointsedError("--raw-scores says what --scores DIR holds: give --scores DIR too")


def _check_outputs(args: argparse.Namespace, files: list[Path]) -> None:
    """Before any work: --out is a file that is no input; --scores is a new folder, or (--force) an
    earlier --scores folder (it holds the marker predict leaves) without any input inside."""
    from jointsed.utils.outputs import OutputError, check_output_dir, check_output_file

    inputs = [*files, args.model, *([args.postprocess] if args.postprocess else [])]
    check_output_file(args.out, inputs)
    if args.out.exists() and not args.force:  # as for --scores: an earlier table is not lost silently
        raise OutputError(f"--out {args.out}: exists; give --force to replace it")
    if args.scores is not None:
        check_output_dir(args.scores, force=args.force, inputs=inputs, flag="--scores", kind="scores folder")
        out, scores = args.out.resolve(), args.scores.resolve()
        if scores in out.parents:
            raise OutputError(f"--out {args.out} lies inside --scores {args.scores}, which is written as a whole; "
                              "put it elsewhere")


def run(args: argparse.Namespace) -> int:
    from jointsed.data.annotations import DETECTION_DECIMALS, write_strong_tsv
    from jointsed.errors import JointsedError
    from jointsed.evaluate.io import write_frame_scores
    from jointsed.utils.outputs import mark_owned

    if args.engine == "torch":
        from jointsed.utils.device import check_device

        check_device(args.device)
    files = _audio_files(args.audio)
    if not files:
        from jointsed.data.audio_files import AUDIO_EXTENSIONS

        raise JointsedError(
            f"no audio file to process in {', '.join(str(p) for p in args.audio)} "
            f"(looked for {', '.join(AUDIO_EXTENSIONS[:4])}, ... files; give files or folders that hold them)"
        )
    names = [f.name for f in files]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise JointsedError(f"several input files share the name {dup[0]} (event tables identify clips by name)")
    bad_name = next((f for f in files if any(c in f.name for c in "\t\n\r")), None)
    if bad_name is not None:  # event tables are tab-separated, one row per line
        raise JointsedError(f"{bad_name!r}: a tab or line break in the file name cannot be written to an event "
                            "table; rename the file")
    _check_options(args)
    _check_outputs(args, files)
    if args.engine == "onnxruntime":
        from jointsed.export.runtime import onnx_detector_for_cli

        detector = onnx_detector_for_cli(args)
    else:
        from jointsed.cli.stream import torch_detector
        from jointsed.runs.state import check_finished_model

        Detector = torch_detector()  # a clear error where torch is not installed

        unfinished = check_finished_model(args.model, allow_unfinished=True)
        if unfinished:  # predicting with a half-trained model is allowed, but said (tune/evaluate refuse)
            print(unfinished, file=sys.stderr)
        detector = Detector.from_checkpoint(
            args.model, device=args.device, postprocess=args.postprocess,
            clip_scores_from=args.clip_scores_from, frame_scores_from=args.frame_scores_from,
            batch_size=args.batch_size, precision=args.precision,
        )
    if args.window_hop is not None:
        hop = int(round(args.window_hop / detector.frame_hop))  # finite and > 0: _check_options
        if not 1 <= hop <= detector.window:
            raise JointsedError(
                f"--window-hop must be between one frame and one clip ({detector.window * detector.frame_hop:g} s)"
            )
        detector.window_hop = hop
    predictions = detector.predict_many(files, progress=not args.no_progress)
    events = [e for p in predictions for e in p.events]
    empty = [p.filename for p in predictions if not p.events]
    # the scores folder first, the event table last: a failure (a full disk) leaves no table without
    # its scores, and a scores folder this call created goes again when the table fails
    new_scores = args.scores is not None and not args.scores.exists()
    if args.scores is not None:
        from jointsed.postprocess.base import frame_form

        def written(p):  # as the evaluation pipeline scores a split (pipeline.evaluation)
            if args.raw_scores:
                return p.frame_scores
            form = detector.params.scores(p.clip_scores, p.frame_scores, detector.frame_hop)
            return frame_form(form, detector.frame_hop, p.frame_scores.shape[0], detector.classes)

        write_frame_scores(args.scores, {p.filename: written(p) for p in predictions},
                           detector.frame_hop, detector.classes, overwrite=args.force)
        mark_owned(args.scores, "predict --scores")  # lets a later --force replace this folder
    try:
        write_strong_tsv(args.out, events, empty_files=empty, decimals=DETECTION_DECIMALS)
    except BaseException:
        if new_scores:
            import shutil

            shutil.rmtree(args.scores, ignore_errors=True)
        raise
    print(f"{len(events)} events in {len(predictions)} files -> {args.out} "
          f"(post-processing: {detector.postprocess_source})")
    return 0
