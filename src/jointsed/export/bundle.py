"""The ONNX export folder: its layout and its JSON sidecar (``deployment.json``), read without torch.

A folder written by ``jointsed export RUN --onnx DIR`` (:func:`jointsed.export.to_onnx.export_onnx`)::

    DIR/deployment.json   what the networks need around them (this module reads it)
    DIR/frontend.npz      the front-end's analysis window and mel filters (float32)
    DIR/clip.onnx         the network giving clip scores  (guided learning: the PT)
    DIR/frame.onnx        the network giving frame scores (guided learning: the PS)
    DIR/scores.onnx       instead of both when one network gives both (mean teacher, frame teacher)

Every network takes raw log-mel ``features (batch, frames, n_mels)`` float32 (the training
statistics' standardisation is inside the graph) and returns ``clip (batch, C)`` and
``frame (batch, frames, C)`` probabilities. A network whose frame output is time-local (Lin's
PS) takes any number of frames; the others take exactly one training clip (``window_frames``).

``deployment.json`` holds: ``format``; ``classes``; ``frame_hop`` (s); ``window_frames``;
``round_float16`` (features rounded as the training cache stores them); ``features`` (the
:class:`~jointsed.audio.features.FeatureConfig` as plain data); ``frontend``; ``networks``
(``clip`` and ``frame``: file, output name, fixed frame count or ``null``, and the frame
network's ``halo``, its left/right context in frames); ``postprocess`` (the post-processor's JSON
form, ``method`` included) and ``postprocess_source``; ``parity`` (the largest differences from
the torch networks measured at export); ``source`` (checkpoint, system, jointsed version).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from jointsed.errors import JointsedError

#: the ``format`` of ``deployment.json``
BUNDLE_FORMAT = "jointsed.onnx/1"
SIDECAR = "deployment.json"
FRONTEND_FILE = "frontend.npz"


class ExportError(JointsedError):
    """An export that cannot be written or an export folder that cannot be used."""


@dataclass
class NetworkEntry:
    """One role (``clip`` or ``frame``) of the sidecar's ``networks``."""

    file: str
    output: str
    frames: Optional[int]  # fixed input frames, or None: any number (time-local)
    halo: Optional[tuple[int, int]] = None

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "output": self.output, "frames": self.frames,
                "halo": None if self.halo is None else list(self.halo)}


@dataclass
class Bundle:
    """A parsed ``deployment.json`` (see the module docstring); ``root`` is its folder."""

    root: Path
    data: dict[str, Any]

    @property
    def classes(self) -> list[str]:
        return list(self.data["classes"])

    @property
    def frame_hop(self) -> float:
        return float(self.data["frame_hop"])

    @property
    def window_frames(self) -> int:
        return int(self.data["window_frames"])

    @property
    def round_float16(self) -> bool:
        return bool(self.data["round_float16"])

    @property
    def features(self) -> dict[str, Any]:
        return dict(self.data["features"])

    @property
    def sample_rate(self) -> int:
        return int(self.data["features"]["sample_rate"])

    def network(self, role: str) -> NetworkEntry:
        entry = self.data["networks"][role]
        halo = entry.get("halo")
        return NetworkEntry(str(entry["file"]), str(entry["output"]),
                            None if entry.get("frames") is None else int(entry["frames"]),
                            None if halo is None else (int(halo[0]), int(halo[1])))

    def frontend_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``(window (n_fft,), mel_fb (n_fft // 2 + 1, n_mels))`` from ``frontend.npz``."""
        path = self.root / str(self.data["frontend"]["file"])
        try:
            with np.load(path) as npz:
                return npz["window"], npz["mel_fb"]
        except (OSError, KeyError, ValueError) as exc:
            raise ExportError(f"{path}: cannot be read as the export's front-end ({exc})") from None


_REQUIRED = ("classes", "frame_hop", "window_frames", "round_float16", "features", "frontend", "networks",
             "postprocess")


def read_bundle(folder: str | Path) -> Bundle:
    """Read and check an export folder's ``deployment.json`` (files it names exist).

    Raises:
        ExportError: not an export folder, unreadable, another format, a missing key or file.
    """
    root = Path(folder)
    path = root / SIDECAR
    if not root.is_dir():
        raise ExportError(f"{root}: not a folder; give the folder written by jointsed export RUN --onnx DIR")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExportError(f"{root}: no {SIDECAR} (not a folder written by jointsed export --onnx)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportError(f"{path}: cannot be read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ExportError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict) or data.get("format") != BUNDLE_FORMAT:
        fmt = data.get("format") if isinstance(data, dict) else None
        raise ExportError(f"{path}: format {fmt!r}, expected {BUNDLE_FORMAT!r} (re-export with this jointsed)")
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise ExportError(f"{path}: missing key {missing[0]!r}")
    bundle = Bundle(root, data)
    try:
        files = {bundle.network(r).file for r in ("clip", "frame")} | {str(data["frontend"]["file"])}
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ExportError(f"{path}: 'networks' / 'frontend' malformed ({exc})") from None
    absent = sorted(f for f in files if not (root / f).is_file())
    if absent:
        raise ExportError(f"{root}: {absent[0]} named by {SIDECAR} is missing (copy the whole export folder)")
    return bundle
