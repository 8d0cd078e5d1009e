"""The test tree itself: pytest imports test modules by their base name (rootdir-relative, no
package ``__init__``), so two test files with the same name in different folders make the whole
suite stop at collection (it happened twice: test_device.py, test_base.py)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_test_module_names_are_unique():
    seen: dict[str, list[str]] = defaultdict(list)
    for path in TESTS.rglob("test_*.py"):
        seen[path.name].append(str(path.relative_to(TESTS)))
    clashes = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert not clashes, f"test module names must be unique across tests/: {clashes}"
