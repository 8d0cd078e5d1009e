"""Checkpoint selection (jointsed.training.trainer.BestCheckpoint, DESIGN section 8): ties go to
the later epoch. The first implementation's behaviour is named in the docstring.
"""

from __future__ import annotations

from types import SimpleNamespace

import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from jointsed.runs.state import summarize_history
from jointsed.training.trainer import BestCheckpoint


def test_ties_go_to_the_later_epoch():
    """Lightning's ModelCheckpoint and the first summarize_history kept the EARLIER epoch."""
    history = [{"epoch": e, "score": s} for e, s in enumerate([0.0, 0.2, 0.2, 0.1])]
    summary = summarize_history(history, "ap", {"score": 0.05})
    assert summary["best_epoch"] == 2 and summary["untrained"] == {"score": 0.05}
    trainer = SimpleNamespace(strategy=SimpleNamespace(reduce_boolean_decision=lambda decision: decision))
    for cls, keeps_tie in ((BestCheckpoint, True), (ModelCheckpoint, False)):
        callback = cls(monitor="val/score", mode="max", save_top_k=1)
        callback.best_k_models = {"best.ckpt": torch.tensor(0.2)}
        callback.kth_best_model_path = "best.ckpt"
        assert callback.check_monitor_top_k(trainer, torch.tensor(0.2)) is keeps_tie
        assert callback.check_monitor_top_k(trainer, torch.tensor(0.1)) is False
