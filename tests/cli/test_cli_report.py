"""``jointsed report``: exit codes, messages, the files it writes."""

from __future__ import annotations

import pytest

from jointsed.cli import main
from jointsed.report import ReportError, build_report


def test_report_without_eval_folder_tells_what_to_run(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(ReportError, match=r"jointsed evaluate --run .*run --data-root DIR"):
        build_report(run, progress=False)
    assert main(["report", str(run), "--split", "test"]) == 2
    err = capsys.readouterr().err
    assert "no evaluation results for split 'test'" in err and "jointsed evaluate --run" in err
    assert not (run / "report").exists()


def test_report_cli(fake_run, tmp_path, capsys):
    out = tmp_path / "cli_report"
    assert main(["report", str(fake_run), "--out", str(out), "--clips", "1", "--no-progress"]) == 0
    assert (out / "index.html").is_file()
    assert len(list(out.glob("clip_*.png"))) == 1
    assert str(out / "index.html") in capsys.readouterr().out
