"""Check that a requested GPU exists before any work starts.

With a CPU build of torch (``torch==2.13.0`` from a CPU wheel index), ``--device gpu`` or
``--accelerator gpu`` used to end in a Lightning/torch traceback halfway through a command.
:func:`check_device` turns that into one :class:`~jointsed.errors.JointsedError` that says
which torch is installed and how to get a CUDA build (docs/gpu.md).
"""

from __future__ import annotations

from typing import Optional

from jointsed.errors import JointsedError

__all__ = ["DeviceError", "check_device", "wants_cuda"]


class DeviceError(JointsedError):
    """A GPU was requested but torch cannot use one."""


def wants_cuda(device: Optional[str]) -> bool:
    """Whether a ``--device``/``--accelerator`` value asks for an NVIDIA GPU.

    ``auto`` does not: Lightning falls back to the CPU by itself.
    """
    if device is None:
        return False
    name = str(device).strip().lower()
    return name in ("gpu", "cuda") or name.startswith("cuda:")


#: names that are not torch device strings but that Lightning's ``accelerator`` accepts
_ACCELERATOR_NAMES = ("auto", "gpu", "tpu")


def _check_known(device: Optional[str], flag: str) -> None:
    """An unknown device name (``--device bogus``) used to end in a torch traceback mid-command."""
    if device is None or str(device).strip().lower() in ("cpu", *_ACCELERATOR_NAMES):
        return
    import torch

    try:
        torch.device(str(device).strip())
    except (RuntimeError, ValueError):
        raise DeviceError(f"{flag} {device}: unknown device; use cpu, cuda, cuda:N or mps") from None


def check_device(device: Optional[str], flag: str = "--device") -> None:
    """Raise :class:`DeviceError` if ``device`` asks for a CUDA GPU that torch cannot see.

    Args:
        device: ``cpu``, ``gpu``, ``cuda``, ``cuda:N``, ``auto``, ``mps``, ... (None: nothing asked).
        flag: the option that gave ``device``, named in the message.
    Raises:
        DeviceError: torch was built without CUDA, sees no GPU, or has no GPU number N; or
            ``device`` is no device name torch knows.
    """
    if not wants_cuda(device):
        _check_known(device, flag)
        return
    import torch  # here, not at import time: the CLI's --help must stay fast

    if torch.version.cuda is None:
        why = "built without CUDA"
    elif not torch.cuda.is_available():
        why = f"CUDA {torch.version.cuda} build, no device"
    else:
        index = str(device).split(":", 1)[1] if ":" in str(device) else "0"
        count = torch.cuda.device_count()
        if index.isdigit() and int(index) < count:
            return
        why = f"{count} device(s), {device} asked"
    raise DeviceError(
        f"{flag} {device}: no CUDA GPU visible to torch (torch {torch.__version__}, {why}): "
        "install a CUDA build of torch, see docs/gpu.md"
    )
