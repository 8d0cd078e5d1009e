"""The generated reference pages must match the code they are generated from."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _generator():
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("page", ["docs/config.md", "docs/cli.md"])
def test_generated_page_is_current(page):
    expected = _generator().PAGES[page]()
    assert (ROOT / page).read_text(encoding="utf-8") == expected, (
        f"{page} is stale: run `python scripts/gen_docs.py`"
    )


def test_config_reference_lists_every_section():
    text = _generator().config_reference()
    for section in ("`data`", "`features`", "`model.student`", "`joint.distillation`", "`joint.focal`"):
        assert f"## {section}" in text
