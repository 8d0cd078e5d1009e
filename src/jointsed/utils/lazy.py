"""Packages whose public names load on first use (PEP 562).

``jointsed predict`` and ``jointsed --help`` should not pay for what they do not use (the
official metric libraries, pandas, scipy's signal tools, Lightning): a package lists its public
names and the modules that define them, and a module is imported only when one of its names is
first asked for.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping


def lazy_attributes(package: str, names: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: ``names`` maps each public name to the module
    (absolute) that defines it.

    Usage in a package's ``__init__.py``::

        __getattr__, __dir__ = lazy_attributes(__name__, {"evaluate_run": "jointsed.evaluate.summary"})
    """
    def __getattr__(name: str) -> Any:
        if name in names:
            return getattr(importlib.import_module(names[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(vars(importlib.import_module(package))) | set(names))

    return __getattr__, __dir__
