"""``jointsed tune`` as a command on the shared ``trained_run`` (a copy): exit status, what it
prints, the file it writes. What the tuning computes is tested in tests/pipeline/test_tuning.py."""

from __future__ import annotations

from helpers import fresh_run_copy
from jointsed.cli import main as cli_main


def test_tune_prints_the_table_and_writes_postprocess_json(trained_run, tiny_dataset, tmp_path, capsys):
    run = fresh_run_copy(trained_run, tmp_path)
    code = cli_main(["tune", str(run), "--data-root", str(tiny_dataset), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "tag_threshold" in printed and "postprocess.json" in printed
    assert (run / "postprocess.json").is_file()
