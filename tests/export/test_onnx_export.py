"""ONNX export (``jointsed export --onnx``) and the onnxruntime engine: scores equal the torch
detector's within 1e-4 (measured: <= 2e-6 end to end, 6e-8 for the networks on the same
features), events identical, for the three systems; runs with torch blocked; clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jointsed.cli import main
from jointsed.export.bundle import ExportError, read_bundle
from jointsed.export.runtime import OnnxDetector
from jointsed.export.to_onnx import export_onnx
from jointsed.inference import Detector
from jointsed.postprocess.base import postprocessor_to_dict
from test_inference_streaming import _systems, _write_noise

TOL = 1e-4


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Random-weight checkpoints of the three systems, their exports, a long and a short file."""
    root = tmp_path_factory.mktemp("onnx")
    ckpts = _systems(root)
    audio = [root / "long.wav", root / "short.wav"]
    _write_noise(audio[0], 23.7, 44100, 2)
    _write_noise(audio[1], 2.1, 16000, 1, seed=1)
    out = {}
    for name, ckpt in ckpts.items():
        export_onnx(Detector.from_checkpoint(ckpt), root / f"x_{name}")
        out[name] = (ckpt, root / f"x_{name}")
    return out, audio


@pytest.mark.parametrize("which", ["guided_learning", "mean_teacher", "frame_teacher"])
def test_onnxruntime_scores_equal_torch_scores_and_events_are_identical(exported, which):
    systems, audio = exported
    ckpt, folder = systems[which]
    torch_det, onnx_det = Detector.from_checkpoint(ckpt), Detector.from_onnx(folder)
    assert isinstance(onnx_det, OnnxDetector)
    for path in audio:
        a, b = torch_det.predict(path), onnx_det.predict(path)
        assert a.frame_scores.shape == b.frame_scores.shape and a.frame_scores.std() > 1e-3
        assert np.abs(a.frame_scores - b.frame_scores).max() <= TOL
        assert np.abs(a.clip_scores - b.clip_scores).max() <= TOL
        assert a.events == b.events and a.duration == b.duration
    sidecar = json.loads((folder / "deployment.json").read_text())
    assert sidecar["classes"] == torch_det.classes and sidecar["frame_hop"] == torch_det.frame_hop
    assert sidecar["postprocess"] == postprocessor_to_dict(torch_det.params)
    assert max(sidecar["parity"]["max_abs_diff_clip"], sidecar["parity"]["max_abs_diff_frame"]) <= TOL
    # the time-local PS takes any length; the PT and the CRNN exactly one clip
    frame = sidecar["networks"]["frame"]
    assert (frame["frames"] is None) == (which != "mean_teacher")
    assert (frame["halo"] is None) == (which == "mean_teacher")


def test_predict_with_onnxruntime_runs_without_torch(exported, tmp_path):
    """The CLI and the streaming detector on an export with torch and Lightning made unimportable."""
    systems, audio = exported
    ckpt, folder = systems["guided_learning"]
    ref = tmp_path / "torch.tsv"
    assert main(["predict", str(ckpt), *map(str, audio), "--out", str(ref), "--no-progress"]) == 0
    got = tmp_path / "onnx.tsv"
    script = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'lightning', 'pytorch_lightning'):
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
from jointsed.cli import main
rc = main(['predict', {str(folder)!r}, {str(audio[0])!r}, {str(audio[1])!r}, '--out', {str(got)!r},
           '--engine', 'onnxruntime', '--no-progress'])
from jointsed.export.runtime import OnnxDetector
from jointsed.streaming.detector import StreamingDetector
from jointsed.streaming.sources import file_chunks
det = OnnxDetector({str(folder)!r})
events = list(StreamingDetector(det).run(file_chunks({str(audio[0])!r}, det.sample_rate)))
assert not any(m.split('.')[0] == 'torch' for m in sys.modules)
print('streamed', len(events))
sys.exit(rc)
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "streamed" in proc.stdout
    assert got.read_text() == ref.read_text()


def test_export_errors_are_clear_and_write_nothing(exported, tmp_path, capsys):
    systems, _ = exported
    empty = tmp_path / "run"
    empty.mkdir()
    out = tmp_path / "x"
    assert main(["export", str(empty), "--onnx", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no checkpoints/best.ckpt" in err and "Traceback" not in err and not out.exists()
    assert main(["export", str(systems["guided_learning"][0]), "--onnx", str(systems["frame_teacher"][1])]) == 2
    assert "already exists" in capsys.readouterr().err
    with pytest.raises(ExportError, match="no deployment.json"):
        read_bundle(tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in systems["frame_teacher"][1].iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    (bad / "scores.onnx").write_bytes(b"not onnx")
    with pytest.raises(ExportError, match="onnxruntime cannot load it"):
        OnnxDetector(bad)
    (bad / "scores.onnx").unlink()
    with pytest.raises(ExportError, match="scores.onnx named by deployment.json is missing"):
        OnnxDetector(bad)
    assert main(["predict", str(tmp_path), str(tmp_path / "a.wav"), "--out", str(tmp_path / "o.tsv"),
                 "--engine", "onnxruntime"]) == 2
    assert "not a folder written by jointsed export" in capsys.readouterr().err
