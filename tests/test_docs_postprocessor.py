"""docs/architecture.md: the worked example of a custom post-processor runs as printed and gives
the events its comment states (the block is read from the page, so page and test cannot drift)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from jointsed.data.annotations import Event

PAGE = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


def test_custom_postprocessor_example_runs(tmp_path):
    from jointsed.postprocess import base

    text = PAGE.read_text(encoding="utf-8")
    begin, end = text.index("<!-- example:begin -->"), text.index("<!-- example:end -->")
    [code] = re.findall(r"```python\n(.*?)```", text[begin:end], flags=re.S)
    cwd = Path.cwd()
    os.chdir(tmp_path)
    namespace: dict = {"__name__": "architecture_example"}
    try:
        exec(compile(code, str(PAGE), "exec", dont_inherit=True), namespace)  # no __future__ of this file
        assert (tmp_path / "postprocess.json").is_file()
        assert namespace["events"] == [Event("a.wav", 0.0, 1.0, "Dog"), Event("a.wav", 0.5, 1.5, "Cat")]
        assert "plain_threshold" in base.registered_postprocessors()
        assert base.postprocessor_class("plain_threshold") is namespace["PlainThreshold"]
    finally:
        os.chdir(cwd)
        base._REGISTRY.pop("plain_threshold", None)  # the rest of the session sees the built-ins only
