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


def test_cli_recording_chain_switch_and_settings(tmp_path, capsys):
    """``--recording-chain on`` and ``--set recording_chain.KEY=VALUE`` reach the generator and are
    recorded in synth.json; a bad key or value is a message naming it (exit 2)."""
    import json

    out = tmp_path / "recorded"
    small = ["--preset", "tiny", "--n-weak", "1", "--n-synthetic", "1", "--n-unlabelled", "0", "--n-validation", "1",
             "--n-eval", "0", "--clip-duration", "2", "--no-progress"]
    args = ["synth", "--out", str(out), *small, "--recording-chain", "on", "--set", "recording_chain.rir_bank_size=2",
            "--set", "recording_chain.rt60=[0.2, 0.3]"]
    assert main(args) == 0
    assert "recording chain on" in capsys.readouterr().out
    described = json.loads((out / "synth.json").read_text())
    assert described["settings"]["recording_chain"]["enabled"] is True
    assert described["settings"]["recording_chain"]["rt60"] == [0.2, 0.3]
    assert described["recording_chain"]["rir_bank"]["rooms"] == 2

    assert main(["synth", "--out", str(tmp_path / "dry"), *small, "--preset", "proxy", "--recording-chain", "off"]) == 0
    assert json.loads((tmp_path / "dry" / "synth.json").read_text())["recording_chain"] is None
    capsys.readouterr()
    for bad, named in (("recording_chain.rt6=1", "recording_chain.rt6"),
                       ("recording_chain.rt60=[0.9, 0.2]", "recording_chain.rt60"),
                       ("recording_chain.eq_bands=many", "recording_chain.eq_bands")):
        assert main(["synth", "--out", str(tmp_path / "bad"), *small, "--set", bad]) == 2
        assert named in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
