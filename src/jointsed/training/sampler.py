"""Batch composition: which clips form each batch of an epoch, for each process.

- ``union`` (Lin et al.): a permutation of all training clips cut into batches of ``batch_size``;
- ``fixed`` (DCASE baseline): ``composition[set]`` clips of each set per batch, each set drawn
  from its own stream of permutations.

The order of epoch ``e`` is a pure function of ``(seed, e)`` (no hidden RNG state), so that a run
resumed from a checkpoint sees exactly the batches the uninterrupted run would have seen. With
several processes (DDP), the epoch's batches are dealt round-robin to the ranks, each rank getting
the same number; batch sizes are per process. The sampler knows only set names and clip indices,
not the data.
"""

from __future__ import annotations

import math
from typing import Iterator, Optional

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Sampler

from jointsed.training.config import SET_NAMES
from jointsed.training.errors import DataError

#: set name -> integer id (stored per clip in ``TrainingSet.source``; keys the sets' random streams)
SET_IDS: dict[str, int] = {name: i for i, name in enumerate(SET_NAMES)}

def derive_seed(*keys: int) -> int:
    """A 63-bit seed hashed from integer keys (independent streams per key tuple)."""
    seq = np.random.SeedSequence([int(k) % (2**63) for k in keys])
    return int(seq.generate_state(1, dtype=np.uint64)[0] % (2**63))


def _generator(*keys: int) -> torch.Generator:
    """A torch generator seeded with :func:`derive_seed` of ``keys``."""
    g = torch.Generator()
    g.manual_seed(derive_seed(*keys))
    return g


class ComposedBatchSampler(Sampler[list[int]]):
    """Yields the batches (lists of clip indices) of one epoch for one process.

    Args:
        set_indices: indices of each training set's clips, by set name.
        mode: ``union`` or ``fixed`` (see the module docstring).
        batch_size: union mode batch size.
        composition: fixed mode clips per set per batch.
        epoch_batches: fixed mode epoch length: "min", "max" or a number of batches.
        drop_last: union mode: drop an incomplete last batch.
        seed: base seed; the order of epoch ``e`` depends only on ``(seed, e)``.
        rank, world_size: this process's share of every epoch's batches.
        limit: at most this many batches per process and epoch.
    """

    def __init__(
        self,
        set_indices: dict[str, Tensor],
        mode: str = "union",
        batch_size: int = 64,
        composition: Optional[dict[str, int]] = None,
        epoch_batches: str | int = "min",
        drop_last: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        limit: Optional[int] = None,
    ) -> None:
        self.set_indices = {k: v.cpu().long() for k, v in set_indices.items() if v.numel() > 0}
        self.mode = mode
        self.batch_size = batch_size
        self.composition = {k: n for k, n in (composition or {}).items() if n > 0}
        self.epoch_batches = epoch_batches
        self.drop_last = drop_last
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.limit = limit
        self.epoch = 0
        if mode == "fixed":
            empty = [k for k in self.composition if k not in self.set_indices]
            if empty:
                raise DataError(f"batch.composition.{empty[0]}: the {empty[0]} set has no clip")
        elif not self.set_indices:
            raise DataError("no training clip to draw batches from")

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at the start of every epoch."""
        self.epoch = int(epoch)

    def _total_batches(self) -> int:
        if self.mode == "union":
            n = sum(v.numel() for v in self.set_indices.values())
            return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
        counts = [self.set_indices[k].numel() / n for k, n in self.composition.items()]
        if isinstance(self.epoch_batches, int):
            return self.epoch_batches
        if self.epoch_batches == "max":
            return max(1, max(math.ceil(c) for c in counts))
        return max(1, min(int(c) for c in counts))

    def __len__(self) -> int:
        n = self._total_batches() // self.world_size
        return min(n, self.limit) if self.limit is not None else n

    def epoch_batches_all(self, epoch: int) -> list[Tensor]:
        """Every batch of ``epoch`` (all ranks), as index tensors."""
        total = self._total_batches()
        if self.mode == "union":
            pool = torch.cat([self.set_indices[k] for k in sorted(self.set_indices)])
            order = pool[torch.randperm(pool.numel(), generator=_generator(self.seed, epoch, 0))]
            return [order[i * self.batch_size : (i + 1) * self.batch_size] for i in range(total)]
        parts = []
        for set_name, n in sorted(self.composition.items()):
            idx = self.set_indices[set_name]
            g = _generator(self.seed, epoch, 1 + SET_IDS[set_name])
            need = total * n
            stream = torch.cat([idx[torch.randperm(idx.numel(), generator=g)]
                                for _ in range(math.ceil(need / idx.numel()))])[:need]
            parts.append(stream.view(total, n))
        return list(torch.cat(parts, dim=1))

    def __iter__(self) -> Iterator[list[int]]:
        batches = self.epoch_batches_all(self.epoch)
        mine = batches[self.rank :: self.world_size][: len(self)]
        for b in mine:
            yield b.tolist()
