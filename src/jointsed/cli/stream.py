"""``jointsed stream``: detect sound events in an audio stream as they happen.

    jointsed stream runs/gl kitchen.flac                     # a file, as if it were live
    arecord -f S16_LE -r 16000 -t wav | jointsed stream runs/gl -
    ffmpeg -i rtsp://... -f s16le -ac 1 -ar 16000 - | jointsed stream runs/gl - --format raw --rate 16000
    jointsed stream runs/gl --mic                            # needs sounddevice
    jointsed stream exported/ - --engine onnxruntime         # an ONNX export, without torch

Prints each event once it is final, one line each (TSV ``onset offset event_label confidence``
with a header, or ``--output jsonl``); ``--frames`` adds the frame network's scores (jsonl). The
latency of each class (from the end of an event to its line) is printed on standard error first
(:mod:`jointsed.streaming.detector`). ``--lookahead`` trades latency for accuracy: the seconds of
future audio the clip gating waits for. docs/deployment.md gives the measured operating points.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "Detect sound events in a stream (file, standard input, microphone) as they happen."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, metavar="RUN_DIR_OR_CHECKPOINT",
                        help="run folder or .ckpt file (--engine onnxruntime: an export folder)")
    parser.add_argument("input", nargs="?", metavar="AUDIO",
                        help="an audio file, or - for standard input (WAV stream or raw PCM); omit with --mic")
    parser.add_argument("--mic", nargs="?", const="", metavar="DEVICE",
                        help="record from a microphone (default device, or a sounddevice name / index)")
    parser.add_argument("--engine", choices=("torch", "onnxruntime"), default="torch",
                        help="onnxruntime: MODEL is a folder written by jointsed export --onnx (default: torch)")
    parser.add_argument("--format", choices=("auto", "wav", "raw"), default="auto",
                        help="standard input: WAV stream or raw PCM (default: auto, WAV if it starts with RIFF)")
    parser.add_argument("--rate", type=int, metavar="HZ", help="raw PCM: sample rate (required)")
    parser.add_argument("--channels", type=int, default=1, metavar="N", help="raw PCM: channels (default 1)")
    parser.add_argument("--sample-format", default="s16le", choices=("s16le", "s24le", "s32le", "f32le"),
                        help="raw PCM: sample encoding (default s16le)")
    parser.add_argument("--lookahead", type=float, default=2.0, metavar="SECONDS",
                        help="future audio the clip gating waits for: more = later events, closer to offline "
                             "predict (default 2)")
    parser.add_argument("--teacher-hop", type=float, default=1.0, metavar="SECONDS",
                        help="seconds between two runs of the clip network (default 1)")
    parser.add_argument("--step", type=float, default=0.25, metavar="SECONDS",
                        help="seconds of audio between two runs of the networks (default 0.25)")
    parser.add_argument("--gating", choices=("event", "frame"), default="event",
                        help="clip gating of each final event by the clip scores that saw it (default), or of each "
                             "frame before the median filter (jointsed.streaming.detector)")
    parser.add_argument("--output", choices=("tsv", "jsonl"), default="tsv", help="event lines (default tsv)")
    parser.add_argument("--frames", action="store_true", help="jsonl: also print the frame network's scores")
    parser.add_argument("--postprocess", type=Path, metavar="JSON",
                        help="Lin post-processing parameters (default: the run's / the export's)")
    parser.add_argument("--quiet", action="store_true", help="no latency table on standard error")


def _source(args: argparse.Namespace, sample_rate: int):
    from jointsed.errors import JointsedError
    from jointsed.streaming import sources

    if args.mic is not None:
        if args.input is not None:
            raise JointsedError("give either AUDIO or --mic, not both")
        return sources.microphone_chunks(sample_rate, args.mic or None)
    if args.input is None:
        raise JointsedError("nothing to stream: give an audio file, - for standard input, or --mic")
    if args.input == "-":
        return sources.pcm_chunks(sys.stdin.buffer, sample_rate, args.format, args.rate, args.channels,
                                  args.sample_format)
    return sources.file_chunks(args.input, sample_rate)


def _detector(args: argparse.Namespace):
    if args.engine == "onnxruntime":
        from jointsed.export.bundle import read_bundle
        from jointsed.export.runtime import OnnxDetector
        from jointsed.postprocess.base import load_postprocessor

        bundle = read_bundle(args.model)
        post = load_postprocessor(args.postprocess, bundle.classes) if args.postprocess else None
        return OnnxDetector(args.model, postprocess=post, threads=None)
    return torch_detector().from_checkpoint(args.model, postprocess=args.postprocess)


def torch_detector() -> type:
    """:class:`jointsed.inference.Detector`, or a clear error where torch is not installed."""
    try:
        from jointsed.inference import Detector
    except ImportError as exc:
        from jointsed.errors import JointsedError

        raise JointsedError(f"the torch engine needs torch ({exc}); to run an ONNX export (jointsed export --onnx) "
                            "give --engine onnxruntime") from None
    return Detector


def run(args: argparse.Namespace) -> int:
    from jointsed.streaming.detector import StreamFrames, StreamingDetector

    if args.frames and args.output != "jsonl":
        from jointsed.errors import JointsedError

        raise JointsedError("--frames prints JSON lines: add --output jsonl")
    detector = _detector(args)
    sd = StreamingDetector(detector, lookahead=args.lookahead, teacher_hop=args.teacher_hop, step=args.step,
                           frame_scores=args.frames, gating=args.gating)
    if not args.quiet:
        print("latency from the end of an event to its line (s): " + ", ".join(
            f"{row['class']} {row['seconds']:.2f}" for row in sd.latency()), file=sys.stderr)
    chunks = _source(args, sd.engine.sample_rate)
    out = sys.stdout
    if args.output == "tsv":
        print("onset\toffset\tevent_label\tconfidence", file=out, flush=True)
    n = 0
    for item in sd.run(chunks):
        if isinstance(item, StreamFrames):
            print(json.dumps({"frame": item.start, "frame_hop": sd.engine.frame_hop,
                              "scores": [[round(float(v), 5) for v in row] for row in item.scores]}), file=out, flush=True)
            continue
        n += 1
        if args.output == "tsv":
            print(f"{item.onset:.3f}\t{item.offset:.3f}\t{item.event_label}\t{item.confidence:.4f}", file=out, flush=True)
        else:
            print(json.dumps({"onset": round(item.onset, 3), "offset": round(item.offset, 3),
                              "event_label": item.event_label, "confidence": round(item.confidence, 4),
                              "emitted_at": round(item.emitted_at, 3)}), file=out, flush=True)
    if not args.quiet:
        print(f"{n} events", file=sys.stderr)
    return 0
