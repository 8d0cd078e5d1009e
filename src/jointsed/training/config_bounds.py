"""Upper bounds on the sizes and numbers users set, checked when a file is loaded, before anything
is built from it, so that a typo or a hostile value is a one-line error naming the key instead of
a MemoryError after minutes, a RecursionError or a torch / Lightning traceback:

- :data:`RECIPE_BOUNDS`: every numeric recipe key (:meth:`jointsed.training.config.RecipeConfig.check_data`),
  shown in docs/config.md (``python scripts/gen_docs.py``);
- post-processing files and tuning grids: :mod:`jointsed.postprocess.bounds` (outside
  ``jointsed.training``, so that inference never imports the training package).

The ranges are generous for real DESED data and real machines; they stop values that are typos
(``mean_teacher.ema_decay: 2``), that no part of the code means (NaN, a negative rate) or that
would exhaust memory before anything says why (a batch of 10^9 clips, a median window of 10^9
frames, a grid of 10^15 candidates).
"""

from __future__ import annotations

import os
from typing import Any

from jointsed.audio.io import MIN_SAMPLE_RATE
from jointsed.config import Bound, ConfigError, check_bounds
from jointsed.postprocess.bounds import MAX_MEDIAN_WINDOW  # one owner: the post-processing bounds

#: clips per process and step: far above what one GPU of today holds for these networks
MAX_BATCH = 4096
MAX_EPOCHS = 1_000_000
#: seeds of Python, numpy (legacy) and torch all take 0 .. 2^32 - 1
MAX_SEED = 2**32 - 1
_BLOCKS = Bound(1, 4096)
_PROBABILITY = Bound(0, 1)
_RATE = Bound(0, 10, lo_open=True)
_EPOCHS = Bound(1, MAX_EPOCHS)
_WEIGHT = Bound(0, 1000)
_NETWORK = {
    "channels": _BLOCKS, "convs_per_block": Bound(1, 16), "kernel_sizes": Bound(1, 31), "pools": Bound(1, 64),
    "dropout": Bound(0, 1, hi_open=True), "width": Bound(0, 16, lo_open=True), "bn_eps": Bound(0, 1, lo_open=True),
    "bn_momentum": _PROBABILITY, "embedding_dim": Bound(1, 8192), "kernel_size": Bound(1, 31),
    "time_pools": Bound(1, 64), "freq_pools": Bound(1, 64), "rnn_hidden": _BLOCKS, "rnn_layers": Bound(1, 16),
    "rnn_dropout": Bound(0, 1, hi_open=True),
}
#: every numeric recipe key with a range, checked on load before anything is built from the data
#: (:meth:`RecipeConfig.check_data`) and shown in docs/config.md. Ranges are generous for real
#: DESED and real GPUs; they stop values that are typos or that would exhaust memory.
RECIPE_BOUNDS: dict[str, Bound] = {
    "data.cache_workers": Bound(0, 1024),
    "data.max_clips_per_set": Bound(1, 10_000_000),
    "features.sample_rate": Bound(MIN_SAMPLE_RATE, 192_000),
    "features.n_fft": Bound(16, 65_536),
    "features.win_length": Bound(1, 65_536),
    "features.hop_length": Bound(1, 65_536),
    "features.n_mels": Bound(1, 1024),
    "features.f_min": Bound(0, 96_000),
    "features.f_max": Bound(0, 96_000, lo_open=True),
    "features.clip_duration": Bound(0, 3600, lo_open=True),
    **{f"model.{net}.{key}": bound for net in ("teacher", "student", "crnn") for key, bound in _NETWORK.items()},
    "batch.batch_size": Bound(1, MAX_BATCH),
    "batch.validation_batch_size": Bound(1, MAX_BATCH),
    "batch.composition.*": Bound(0, MAX_BATCH),
    "batch.epoch_batches": Bound(1, 10_000_000),
    "optimizer.lr": _RATE,
    "optimizer.betas": Bound(0, 1, hi_open=True),
    "optimizer.eps": Bound(0, 1, lo_open=True),
    "optimizer.weight_decay": Bound(0, 10),
    "optimizer.step_epochs": _EPOCHS,
    "optimizer.gamma": Bound(0, 10, lo_open=True),
    "optimizer.warmup_epochs": Bound(0, MAX_EPOCHS),
    "trainer.max_epochs": _EPOCHS,
    "trainer.devices": Bound(-1, 4096),
    "trainer.num_nodes": Bound(1, 4096),
    "trainer.gradient_clip_val": Bound(0, 1e6, lo_open=True),
    "trainer.check_val_every_n_epoch": _EPOCHS,
    "trainer.log_every_n_steps": Bound(1, 10**9),
    "trainer.limit_train_batches": Bound(1, 10**9),
    "trainer.num_threads": Bound(1, 1024),
    "guided_learning.teacher_noise_std": Bound(0, 10),
    "guided_learning.teacher_weight_start": Bound(0, MAX_EPOCHS),
    "guided_learning.teacher_weight_base": _PROBABILITY,
    "guided_learning.threshold": _PROBABILITY,
    "guided_learning.strong_weight": _WEIGHT,
    "mean_teacher.ema_decay": _PROBABILITY,
    "mean_teacher.consistency_weight": _WEIGHT,
    "mean_teacher.rampup_epochs": Bound(0, MAX_EPOCHS),
    "mean_teacher.mixup_prob": _PROBABILITY,
    "mean_teacher.mixup_alpha": Bound(0, 100, lo_open=True),
    "postprocess.tag_threshold": _PROBABILITY,
    "postprocess.frame_threshold": Bound(0, 1, lo_open=True),
    "postprocess.median_windows": Bound(1, MAX_MEDIAN_WINDOW),
    "postprocess.median_factor": Bound(0, 100, lo_open=True),
    "joint.distillation.layers": Bound(0, 63),
    "joint.distillation.weight": _WEIGHT,
    "joint.distillation.teacher_epochs": _EPOCHS,
    "joint.distillation.teacher_lr": _RATE,
    "joint.distillation.teacher_batch_size": Bound(1, MAX_BATCH),
    "joint.distillation.min_teacher_gain": Bound(-1, 1),
    "joint.focal.gamma0": Bound(0, 100),
    "joint.focal.eta": Bound(0, 100),
    "joint.focal.momentum": _PROBABILITY,
    "joint.two_stage.epochs": _EPOCHS,
    "joint.two_stage.lr_factor": Bound(0, 100, lo_open=True),
    "seed": Bound(0, MAX_SEED),
}


def check_recipe_data(data: dict[str, Any]) -> None:
    """:data:`RECIPE_BOUNDS` on a recipe's raw data, and the batch's parts in all.

    Raises:
        ConfigError: naming the key, the value and the range.
    """
    check_bounds(data, RECIPE_BOUNDS)
    batch = data.get("batch") if isinstance(data.get("batch"), dict) else {}
    composition = batch.get("composition")
    if isinstance(composition, dict):
        counts = [v for v in composition.values() if isinstance(v, int) and not isinstance(v, bool)]
        if sum(counts) > MAX_BATCH:
            raise ConfigError(f"batch.composition: {sum(counts)} clips per batch in all, more than {MAX_BATCH}")


def check_cache_dir(cache_dir: str) -> None:
    """``data.cache_dir`` is written (the features of every clip): a relative path is the data
    root's, and one that climbs out of it (``..``) writes elsewhere by accident (a copied recipe,
    a typo). An absolute path keeps the cache elsewhere on purpose.

    Raises:
        ConfigError: a relative path that leads out of the data root.
    """
    if not os.path.isabs(cache_dir) and os.path.normpath(cache_dir).split(os.sep)[0] == "..":
        raise ConfigError(
            f"data.cache_dir: {cache_dir!r} leads out of the data root; the feature cache is written there. "
            "Give an absolute path to keep it outside the data root on purpose"
        )
