"""Raw scores of a split and their reuse (jointsed.pipeline.scoring), on the shared ``trained_run``."""

from __future__ import annotations

import os

import numpy as np
import pytest

from helpers import VALIDATION_TSV
from jointsed.data.annotations import read_strong_tsv
from jointsed.pipeline import PipelineError, score_split


# ----- scoring and reuse --------------------------------------------------------------------------
def test_score_split_is_reused_for_the_same_checkpoint(trained_run, tiny_dataset, monkeypatch):
    first = score_split(trained_run, tiny_dataset, progress=False, reuse=False)
    truth = read_strong_tsv(tiny_dataset / VALIDATION_TSV)
    assert first.filenames == truth.filenames and not first.reused
    assert all(s.shape == (250, 10) for s in first.frame_scores.values())  # 40 ms frames (CPU recipe)
    assert all(s.shape == (10,) for s in first.clip_scores.values())

    from jointsed.inference import Detector

    def no_model(*args, **kwargs):
        raise AssertionError("the model should not run again")

    monkeypatch.setattr(Detector, "predict_many", no_model)
    again = score_split(trained_run, tiny_dataset, progress=False)
    assert again.reused
    for name in first.filenames:
        np.testing.assert_array_equal(again.frame_scores[name], first.frame_scores[name])
        np.testing.assert_array_equal(again.clip_scores[name], first.clip_scores[name])
    # a retrained checkpoint (new modification time) is scored again
    ckpt = trained_run / "checkpoints" / "best.ckpt"
    stat = ckpt.stat()
    os.utime(ckpt, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    with pytest.raises(AssertionError, match="should not run again"):
        score_split(trained_run, tiny_dataset, progress=False)


def test_unknown_split_and_half_custom_split_are_clear_errors(trained_run, tiny_dataset):
    with pytest.raises(PipelineError, match="unknown split 'test'"):
        score_split(trained_run, tiny_dataset, "test", progress=False)
    with pytest.raises(PipelineError, match="--audio"):
        score_split(trained_run, tiny_dataset, tsv=tiny_dataset / VALIDATION_TSV, progress=False)
    with pytest.raises(PipelineError, match="--data-root"):
        score_split(trained_run, None, "validation", progress=False)
