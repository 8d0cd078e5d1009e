"""What every benchmark JSON records about how it was measured (date, command, versions, load)."""

from __future__ import annotations

import datetime as dt
import os
import platform
import shlex
import sys
from pathlib import Path
from typing import Any, Sequence


def provenance(load_before: Sequence[float], argv: Sequence[str] | None = None) -> dict[str, Any]:
    """``date``, the exact ``command``, ``torch``/``python``/``platform``, ``cpu_count`` and the
    1/5/15-min load average before (``load_before``, from ``os.getloadavg()`` taken before the
    timed work) and now: a figure taken on a loaded machine says so."""
    import torch

    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": shlex.join([Path(sys.executable).name, *(sys.argv if argv is None else argv)]),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average_before": list(load_before),
        "load_average_after": list(os.getloadavg()),
    }
