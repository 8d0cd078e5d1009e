"""Training data (jointsed.training.data): class ratios for the disentangled dims (DESIGN section 1)."""

from __future__ import annotations

import pytest

from helpers import GL_RECIPE, LEARNABLE_CLASSES, TINY_GL_WIDTHS
from jointsed.models.pooling import single_class_ratios
from jointsed.training.config import load_recipe
from jointsed.training.data import class_ratios, load_training_set


TINY = TINY_GL_WIDTHS


# ----- disentangled dims (DESIGN section 1) -----------------------------------------------------------
def test_class_ratios_count_weak_and_strong_clips(learnable_dataset):
    """The first implementation counted weak clips only: without a weak set every ratio was 1,
    and at the CPU width rare classes got k_c = 1."""
    config = load_recipe(GL_RECIPE, TINY)
    train = load_training_set(config, learnable_dataset, progress=False)
    from jointsed.data.annotations import read_strong_tsv, read_weak_tsv

    weak = read_weak_tsv(learnable_dataset / config.data.weak_tsv, LEARNABLE_CLASSES)
    strong = read_strong_tsv(learnable_dataset / config.data.synthetic_tsv, LEARNABLE_CLASSES)
    by_file = strong.by_file()
    label_sets = [tuple(v) for v in weak.labels.values()]
    label_sets += [tuple({e.event_label for e in by_file[f]}) for f in strong.filenames if by_file[f]]
    assert class_ratios(train, LEARNABLE_CLASSES) == pytest.approx(single_class_ratios(label_sets, LEARNABLE_CLASSES))
    strong_only = load_recipe(GL_RECIPE, TINY + ["data.weak_tsv=null"])
    ratios = class_ratios(load_training_set(strong_only, learnable_dataset, progress=False), LEARNABLE_CLASSES)
    assert ratios != [1.0] * len(LEARNABLE_CLASSES)
