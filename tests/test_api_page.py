"""docs/api.md: every python block of the page runs as printed, in order, in one namespace, in a
fresh folder (as tests/test_own_dataset.py runs docs/own_dataset.md), so the page's examples
cannot drift from the API (issue 21 item 7: its train example used to fail on the dataset its
own synthesize example wrote)."""

from __future__ import annotations

import os
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "api.md"


def page_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), flags=re.S)


def test_every_python_block_of_the_page_runs(tmp_path, capsys):
    blocks = page_blocks()
    assert len(blocks) >= 7  # the import, and one per section
    namespace: dict = {"__name__": "api_page"}
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        for n, body in enumerate(blocks):
            exec(compile(body, f"{PAGE}:block{n + 1}", "exec"), namespace)
    finally:
        os.chdir(cwd)
    # what the page says the calls left behind
    assert (tmp_path / "runs/gl/checkpoints/best.ckpt").is_file()
    assert (tmp_path / "runs/gl/postprocess.json").is_file()
    assert (tmp_path / "runs/gl/eval/validation/predictions.tsv").is_file()
    assert len(namespace["predictions"]) == 6
    assert list(namespace["scores"].columns[:2]) == ["onset", "offset"]
    assert "runs/gl/checkpoints/best.ckpt" in capsys.readouterr().out
