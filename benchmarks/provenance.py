"""What every benchmark JSON records about how it was measured (date, command, versions, load)."""

from __future__ import annotations

import datetime as dt
import os
import platform
import shlex
import sys
from pathlib import Path
from typing import Any, Sequence


def cpu_bf16_flags() -> list[str]:
    """The CPU's bfloat16 / AMX instruction flags (Linux ``/proc/cpuinfo``; empty elsewhere):
    whether bfloat16 runs on hardware units (``--precision bf16`` / ``bf16-mixed``) or emulated."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return sorted(f for f in flags if "bf16" in f or f.startswith("amx"))


def provenance(load_before: Sequence[float], argv: Sequence[str] | None = None) -> dict[str, Any]:
    """``date``, the exact ``command``, ``torch``/``python``/``platform``, ``cpu_count``, the CPU's
    bfloat16 / AMX flags and the 1/5/15-min load average before (``load_before``, from
    ``os.getloadavg()`` taken before the timed work) and now: a figure taken on a loaded machine
    says so."""
    import torch

    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": shlex.join([Path(sys.executable).name, *(sys.argv if argv is None else argv)]),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpu_bf16_flags": cpu_bf16_flags(),
        "load_average_before": list(load_before),
        "load_average_after": list(os.getloadavg()),
    }
