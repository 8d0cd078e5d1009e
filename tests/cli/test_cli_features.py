"""``jointsed features``: exit status, printed summary, messages, recipe config."""

from __future__ import annotations


from jointsed.audio import FeatureCache, FeatureConfig
from jointsed.cli import main as cli_main


def test_cli_features(tmp_path, clips, bad_files, capsys):
    cfg = tmp_path / "recipe.yaml"
    cfg.write_text("features:\n  clip_duration: 2.0\n  n_mels: 32\nmodel:\n  name: whatever\n")
    audio_dir = clips[0].parent
    rc = cli_main(["features", str(audio_dir), "--cache", str(tmp_path / "c"), "--config", str(cfg),
                   "--workers", "2", "--no-progress"])
    out, err = capsys.readouterr()
    assert rc == 1  # two files were skipped: the exit status says so (issue 11)
    assert "built 6, reused 0, failed 2" in out and "x real time" in out
    assert "corrupt.wav" in err and "empty.flac" in err
    cache = FeatureCache(tmp_path / "c", FeatureConfig(clip_duration=2.0, n_mels=32))
    assert all(cache.has(p) for p in clips)
    rc = cli_main(["features", *map(str, clips[:2]), "--cache", str(tmp_path / "c"), "--config", str(cfg),
                   "--no-progress"])
    assert rc == 0 and "built 0, reused 2, failed 0" in capsys.readouterr().out
    rc = cli_main(["features", str(audio_dir), "--cache", str(tmp_path / "c"), "--on-error", "fail", "--no-progress"])
    assert rc == 2 and "error" in capsys.readouterr().err
    bad_cfg = tmp_path / "bad.yaml"
    bad_cfg.write_text("hop_length: 0\n")
    rc = cli_main(["features", str(audio_dir), "--cache", str(tmp_path / "c"), "--config", str(bad_cfg)])
    assert rc == 2 and "hop_length" in capsys.readouterr().err


def test_feature_config_from_inheriting_recipe(tmp_path):
    from jointsed.cli.features import load_feature_config

    (tmp_path / "base.yaml").write_text("features:\n  n_mels: 40\n")
    (tmp_path / "child.yaml").write_text("base: base.yaml\nfeatures:\n  hop_length: 160\n")
    config = load_feature_config(tmp_path / "child.yaml")
    assert (config.n_mels, config.hop_length) == (40, 160)
