"""A microphone sound event detector in a terminal: prints events as they happen.

    pip install sounddevice                              # PortAudio's Python binding
    python examples/mic_detector.py runs/gl              # a trained run (torch)
    python examples/mic_detector.py exported/ --onnx     # an ONNX export (onnxruntime, no torch)

Ctrl-C stops. The same as ``jointsed stream RUN --mic``, written out: a detector, a microphone
source, and the streaming detector's events (docs/deployment.md).
"""

from __future__ import annotations

import argparse
import sys

from jointsed.errors import JointsedError
from jointsed.streaming.detector import StreamingDetector
from jointsed.streaming.sources import microphone_chunks


def main() -> int:
    ap = argparse.ArgumentParser(description="Print the sound events a microphone hears.")
    ap.add_argument("model", help="run folder / checkpoint, or with --onnx an export folder")
    ap.add_argument("--onnx", action="store_true", help="MODEL is an ONNX export: onnxruntime, no torch")
    ap.add_argument("--device", help="sounddevice input device (name or index; default: the system's)")
    ap.add_argument("--lookahead", type=float, default=2.0, help="seconds the clip gating waits for")
    args = ap.parse_args()
    try:
        if args.onnx:
            from jointsed.export.runtime import OnnxDetector

            detector = OnnxDetector(args.model)
        else:
            from jointsed.inference import Detector

            detector = Detector.from_checkpoint(args.model)
        stream = StreamingDetector(detector, lookahead=args.lookahead)
        worst = max(row["seconds"] for row in stream.latency())
        print(f"listening (events are printed at most {worst:.1f} s after they end; Ctrl-C stops)", file=sys.stderr)
        for event in stream.run(microphone_chunks(stream.engine.sample_rate, args.device)):
            print(f"{event.onset:8.2f} - {event.offset:8.2f} s  {event.event_label:<28} {event.confidence:.2f}",
                  flush=True)
    except JointsedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
