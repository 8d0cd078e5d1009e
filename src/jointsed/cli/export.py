"""``jointsed export``: a trained run as ONNX files for deployments without torch.

    jointsed export runs/gl --onnx exported/

Writes the predicting networks (guided learning: the professional teacher for clip scores and the
promising student for frame scores), the front-end's window and mel filters and a
``deployment.json`` with the front-end settings, classes, frame hop and the run's
post-processing (:mod:`jointsed.export.bundle`). Run it with ``jointsed predict --engine
onnxruntime exported/ AUDIO...`` or ``jointsed stream --engine onnxruntime exported/ AUDIO``:
onnxruntime, numpy, scipy, soundfile and soxr, no torch (docs/deployment.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "Export a trained run's networks to ONNX (for onnxruntime, without torch)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, metavar="RUN_DIR_OR_CHECKPOINT",
                        help="run folder (uses checkpoints/best.ckpt) or a .ckpt file")
    parser.add_argument("--onnx", required=True, type=Path, metavar="DIR", help="export folder to write")
    parser.add_argument("--postprocess", type=Path, metavar="JSON",
                        help="post-processing to export (default: postprocess.json beside the model, else Lin's)")
    parser.add_argument("--clip-scores-from", choices=("teacher", "student"),
                        help="guided learning: network giving clip scores (default: teacher / PT)")
    parser.add_argument("--frame-scores-from", choices=("teacher", "student"),
                        help="guided learning: network giving frame scores (default: student / PS)")
    parser.add_argument("--force", action="store_true", help="replace an existing export folder")


def run(args: argparse.Namespace) -> int:
    from jointsed.export.to_onnx import export_onnx, require_onnx
    from jointsed.inference import Detector
    from jointsed.utils.outputs import check_output_dir

    require_onnx()  # before loading anything: the extra may be missing
    inputs = [args.model, *([args.postprocess] if args.postprocess else [])]
    check_output_dir(args.onnx, force=args.force, owner_files=("deployment.json",), inputs=inputs, flag="--onnx",
                     kind="export folder")
    detector = Detector.from_checkpoint(args.model, postprocess=args.postprocess,
                                        clip_scores_from=args.clip_scores_from,
                                        frame_scores_from=args.frame_scores_from)
    sidecar = export_onnx(detector, args.onnx, force=args.force)
    nets = sorted({n["file"] for n in sidecar["networks"].values()})
    parity = sidecar["parity"]
    print(f"{', '.join(nets)} + deployment.json -> {args.onnx} (onnxruntime vs torch: clip scores within "
          f"{parity['max_abs_diff_clip']:.1e}, frame scores within {parity['max_abs_diff_frame']:.1e}; "
          f"post-processing: {detector.postprocess_source})")
    return 0
