"""Several processes (Lightning DDP): ranks before a trainer exists, barriers between the joint
framework's phases, and the checks that refuse impossible device requests up front.

Lightning's ``ddp`` strategy re-launches the whole command once per extra rank; the children
find the run folder in :data:`RUN_DIR_ENV`. No home-made distributed code: only
``torch.distributed``'s barrier between phases (the group Lightning created lives until exit).
"""

from __future__ import annotations

import os
from typing import Optional

import torch

from jointsed.training.config import RecipeConfig
from jointsed.training.errors import TrainingError

#: env var telling DDP child processes (re-launched copies of the command) which run folder to use
RUN_DIR_ENV = "JOINTSED_RUN_DIR"


def global_rank() -> int:
    """This process's global rank, also before a trainer exists: the process group's when there is
    one, else what the launchers set (torchrun: ``RANK``; SLURM with several tasks: ``SLURM_PROCID``;
    Lightning's ``ddp`` re-launch: ``NODE_RANK`` / ``LOCAL_RANK``, rank 0 being the command itself)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank()
    if os.environ.get("RANK", "").isdigit():
        return int(os.environ["RANK"])
    if os.environ.get("SLURM_PROCID", "").isdigit() and int(os.environ.get("SLURM_NTASKS", "1") or 1) > 1:
        return int(os.environ["SLURM_PROCID"])
    return 0 if os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0" else 1


def is_global_zero() -> bool:
    """Only rank 0 writes the phase bookkeeping (finished.json, config.yaml, published checkpoints)."""
    return global_rank() == 0


def barrier() -> None:
    """Wait for every rank, when a process group exists (between the phases of a DDP run: the
    group Lightning created at the first ``fit`` lives until the process exits)."""
    if (torch.distributed.is_available() and torch.distributed.is_initialized()
            and torch.distributed.get_world_size() > 1):
        torch.distributed.barrier()


def uses_gpu(accelerator: str) -> bool:
    return accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())


def requested_devices(devices: int | str) -> Optional[int]:
    """Processes per node asked for by ``trainer.devices`` (None: "auto" / -1, Lightning decides)."""
    if isinstance(devices, int):
        return None if devices < 0 else devices
    text = str(devices).strip().strip("[]")
    if "," in text:  # a list of device indices, e.g. "0,1"
        return len([d for d in text.split(",") if d.strip()])
    try:
        n = int(text)
    except ValueError:
        return None
    return None if n < 0 else n


def several_processes(config: RecipeConfig) -> bool:
    t = config.trainer
    return (requested_devices(t.devices) or 1) > 1 or t.num_nodes > 1


def check_devices(config: RecipeConfig) -> None:
    """Refuse more devices per node than this machine has, before anything starts (Lightning's
    ``ddp`` on CPU would otherwise launch that many processes, one per "device").

    Raises:
        TrainingError: naming ``trainer.devices`` and what the machine has.
    """
    t = config.trainer
    n = requested_devices(t.devices)
    if n is None or n <= 1:
        return
    if uses_gpu(t.accelerator):
        available, kind = torch.cuda.device_count(), "CUDA GPU(s)"
    elif t.accelerator == "cpu" or t.accelerator == "auto":
        available, kind = os.cpu_count() or 1, "CPU core(s) (os.cpu_count())"
    else:  # mps, tpu...: Lightning checks those itself
        return
    if n > available:
        raise TrainingError(
            f"trainer.devices={t.devices} (--devices): {n} processes per node asked for, but this machine has "
            f"{available} {kind}; --devices counts devices of ONE node (use --num-nodes for more machines)"
        )


#: Lightning strategies that re-launch the whole command per rank (or whose ranks are started by
#: torchrun / SLURM), so that every rank runs every phase of a multi-phase recipe itself
_RELAUNCHING_STRATEGIES = ("auto", "ddp", "ddp_find_unused_parameters_true", "ddp_find_unused_parameters_false")


#: strategies that run ``fit`` in child processes, even on one device: the checkpoint a phase
#: hands to the next is then the children's temporary one (refused before any work)
_SPAWNING_STRATEGIES = ("ddp_spawn", "ddp_fork", "ddp_notebook")


def spawning_strategy(config: RecipeConfig) -> bool:
    """Whether ``trainer.strategy`` starts child processes for ``fit`` (``ddp_spawn`` ...)."""
    return str(config.trainer.strategy).split("_find_unused")[0] in _SPAWNING_STRATEGIES


def check_multi_phase_strategy(config: RecipeConfig) -> None:
    """The joint phases run one after another in every process: only ``ddp`` does that
    (``ddp_spawn`` / ``ddp_fork`` run just ``fit`` in the children, the phases in between would
    happen in the parent alone)."""
    strategy = str(config.trainer.strategy)
    if spawning_strategy(config) and not several_processes(config):
        raise TrainingError(
            f"trainer.strategy={strategy} on one device: a multi-phase recipe (frame teacher / two stages) "
            "cannot hand its checkpoints from phase to phase through spawned processes; leave --strategy "
            "out (auto) on one device, or use --strategy ddp on several"
        )
    if strategy not in _RELAUNCHING_STRATEGIES:
        raise TrainingError(
            f"trainer.strategy={strategy}: a multi-phase recipe (frame teacher / two stages) on several "
            "devices needs --strategy ddp (every process runs every phase); or run the phases one by one "
            "with --stage 1 / --stage 2"
        )
