"""Output paths (jointsed.utils.outputs)."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_an_output_file_may_be_rewritten_through_a_relative_path(tmp_path, monkeypatch):
    """``jointsed tune RUN`` a second time rewrites RUN/postprocess.json: an existing output file
    given by a relative path was taken for 'a file, not a folder' (the check compared a relative
    path with an absolute one)."""
    from jointsed.utils.outputs import OutputError, check_output_file, check_writable

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "postprocess.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    check_writable(Path("run") / "postprocess.json", flag="RUN_DIR")
    check_output_file(Path("run") / "postprocess.json")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        check_writable(Path("run") / "postprocess.json" / "x.json")
