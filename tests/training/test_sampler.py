"""Batch composition (ComposedBatchSampler): fixed and union modes, epoch order, ranks."""

from __future__ import annotations

import torch

from jointsed.training.sampler import ComposedBatchSampler


# ----- batch composition --------------------------------------------------------------------------
def _sets():
    return {"weak": torch.arange(0, 10), "synthetic": torch.arange(10, 30), "unlabelled": torch.arange(30, 70)}


def test_fixed_composition_draws_the_configured_counts():
    s = ComposedBatchSampler(_sets(), mode="fixed", composition={"weak": 2, "synthetic": 3, "unlabelled": 5}, seed=3)
    batches = list(s)
    assert len(batches) == 5  # weak set (10 clips, 2 per batch) runs out first
    for b in batches:
        b = torch.tensor(b)
        assert int((b < 10).sum()) == 2 and int(((b >= 10) & (b < 30)).sum()) == 3 and int((b >= 30).sum()) == 5
    weak = torch.cat([torch.tensor(b)[torch.tensor(b) < 10] for b in batches])
    assert sorted(weak.tolist()) == list(range(10))  # one pass over the weak set


def test_union_epoch_order_depends_only_on_seed_and_epoch():
    a = ComposedBatchSampler(_sets(), mode="union", batch_size=7, seed=1)
    b = ComposedBatchSampler(_sets(), mode="union", batch_size=7, seed=1)
    a.set_epoch(4)
    b.set_epoch(4)
    assert list(a) == list(b)
    b.set_epoch(5)
    assert list(a) != list(b)
    flat = [i for batch in a for i in batch]
    assert len(flat) == len(set(flat)) == 70 // 7 * 7


def test_ranks_get_disjoint_equal_shares():
    ranks = [ComposedBatchSampler(_sets(), mode="union", batch_size=5, seed=0, rank=r, world_size=3) for r in range(3)]
    shares = [[i for b in s for i in b] for s in ranks]
    assert len({len(s) for s in shares}) == 1
    assert not set(shares[0]) & set(shares[1]) and not set(shares[1]) & set(shares[2])
