"""``jointsed synth`` as a command: the size options reach the generator, the summary is printed,
an existing dataset is a message (exit 2). What the generator writes is tested in
tests/data/synth/test_generate.py."""

from __future__ import annotations

import soundfile as sf

from jointsed.cli import main


def test_cli_with_size_overrides(tmp_path, capsys):
    out = tmp_path / "cli"
    args = ["synth", "--preset", "tiny", "--out", str(out), "--seed", "1", "--n-weak", "1", "--n-synthetic", "2",
            "--n-unlabelled", "1", "--n-validation", "2", "--clip-duration", "3", "--sample-rate", "22050",
            "--no-progress"]
    assert main(args) == 0
    assert "synthetic" in capsys.readouterr().out
    assert len(list((out / "audio" / "train" / "synthetic").glob("*.wav"))) == 2
    for path in out.rglob("*.wav"):
        info = sf.info(path)
        assert (info.frames, info.samplerate) == (3 * 22050, 22050)
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err
