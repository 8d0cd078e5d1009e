"""The numeric precisions a trained model can predict in (``jointsed predict --precision``).

Light on purpose (no torch at import): the CLI parser lists the names.

- ``fp32`` (default): float32 everywhere; the fast path equals the training networks up to
  round-off (~1e-6).
- ``bf16``: the networks' arithmetic in bfloat16 (8 significant bits; float32 inputs, head and
  outputs where the fast path applies): several times faster on CPUs with AMX (Xeon 4th gen
  and later) and on GPUs, much slower on CPUs without bfloat16 instructions (:func:`slow_warning`);
  scores move by ~4e-4 on average, up to ~1e-2. docs/quickstart.md gives the measured effect on
  detections.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

PRECISIONS: tuple[str, ...] = ("fp32", "bf16")
DEFAULT_PRECISION = "fp32"


def compute_dtype(precision: str) -> "torch.dtype":
    """The torch dtype of a precision name; ``ValueError`` naming the choices otherwise."""
    import torch

    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    if precision not in dtypes:
        raise ValueError(f"precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    return dtypes[precision]


def slow_warning(precision: str, device: "torch.device | str") -> str | None:
    """Why ``precision`` would be slow on ``device``, or ``None``.

    bf16 on a CPU without bfloat16 instructions (avx512_bf16 or AMX): oneDNN then emulates the
    bfloat16 convolutions; the full-size PS's main convolution took 4x (AVX-512) to 15x (AVX2)
    as long as in fp32 (measured with ``ONEDNN_MAX_CPU_ISA``, benchmarks/README.md).
    """
    import torch

    if precision != "bf16" or torch.device(device).type != "cpu":
        return None
    supported = getattr(torch.cpu, "_is_avx512_bf16_supported", None)  # private: may go away
    if supported is None or supported() or getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)():
        return None
    return ("bf16 precision: this CPU has no bfloat16 instructions (avx512_bf16 / AMX), so bfloat16 is "
            "emulated and several times slower than fp32; use fp32 here")
