"""Training and validation data kept in memory, batch composition and the Lightning datamodule.

Every clip's log-mel features come from the :class:`~jointsed.audio.FeatureCache` (computed once,
shared by all runs on the same data) and are stacked into ONE ``(N, T, F)`` tensor, optionally
float16 and/or on the accelerator: a batch is a single ``index_select``, no per-clip loading.

Batches are drawn by :class:`jointsed.training.sampler.ComposedBatchSampler` (apart from the
data, as lhotse keeps samplers apart from datasets): the sampler yields clip indices, the
datamodule gathers them from the in-memory tensors.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

import lightning.pytorch as pl

from jointsed.audio.cache import FeatureCache
from jointsed.audio.features import LOG_EPS
from jointsed.audio.io import audio_info
from jointsed.data.annotations import (
    StrongAnnotations,
    read_durations_tsv,
    read_filenames_tsv,
    read_strong_tsv,
    read_weak_tsv,
)
from jointsed.data.audio_files import check_audio_files, list_audio_files
from jointsed.data.label_encoder import LabelEncoder
from jointsed.models.pooling import single_class_ratios
from jointsed.training.config import RecipeConfig
from jointsed.training.errors import DataError
from jointsed.training.sampler import SET_IDS, ComposedBatchSampler

#: a frame whose every band is within this of log(LOG_EPS) is digital silence / padding
_SILENCE_MARGIN = 1e-2


# ----- in-memory sets ---------------------------------------------------------------------------
@dataclass
class TrainingSet:
    """All training clips in memory.

    Attributes:
        features: ``(N, T, F)`` raw log-mel (float32 or float16).
        weak_targets: ``(N, C)`` float32 clip targets (zeros for unlabelled clips).
        weak_mask: ``(N,)`` bool, clip has clip-level labels (weak clips and strongly labelled
            clips, whose clip labels come from their events).
        strong_index: ``(N,)`` long, row of :attr:`strong_targets` or -1.
        strong_targets: ``(S, T, C)`` uint8 frame targets of the strongly labelled clips.
        source: ``(N,)`` long, :data:`SET_IDS` of each clip's set.
        filenames: clip names (``set/filename``).
        clip_labels: clip labels of every labelled clip, weak and strong (the single-class
            counts of Lin's disentangled dims ``k_c`` are taken over all of them, DESIGN section 1).
        strong_annotations: events of the strongly labelled clips (for Lin's median windows).
        paths: each clip's audio file (empty for sets built in memory): the data fingerprint
            (:mod:`jointsed.runs.fingerprint`) and the label checks against each file's length.
    """

    features: Tensor
    weak_targets: Tensor
    weak_mask: Tensor
    strong_index: Tensor
    strong_targets: Tensor
    source: Tensor
    filenames: list[str]
    clip_labels: list[tuple[str, ...]] = field(default_factory=list)
    strong_annotations: Optional[StrongAnnotations] = None
    paths: list[Path] = field(default_factory=list)

    def __len__(self) -> int:
        return self.features.shape[0]

    def indices_of(self, set_name: str) -> Tensor:
        """``(n,)`` long indices of the clips of one set (in load order)."""
        return torch.nonzero(self.source.cpu() == SET_IDS[set_name]).flatten()

    def set_sizes(self) -> dict[str, int]:
        return {name: int((self.source.cpu() == i).sum()) for name, i in SET_IDS.items()}

    def to(self, device: torch.device | str) -> "TrainingSet":
        """Move the tensors used per batch to ``device`` (in place; returns self)."""
        for name in ("features", "weak_targets", "weak_mask", "strong_index", "strong_targets", "source"):
            setattr(self, name, getattr(self, name).to(device))
        return self

    def gather(self, indices: Tensor) -> dict[str, Tensor]:
        """One batch.

        Returns:
            ``features (B, T, F)`` float32, ``weak (B, C)``, ``weak_mask (B,)`` bool,
            ``strong (B, T, C)`` float32 (zeros where absent), ``strong_mask (B,)`` bool,
            ``source (B,)`` long, ``index (B,)`` long.
        """
        idx = indices.to(self.features.device)
        strong_rows = self.strong_index[idx]
        strong_mask = strong_rows >= 0
        if self.strong_targets.shape[0] > 0:
            # gather unconditionally and zero the rows without strong labels (no host sync)
            strong = self.strong_targets[strong_rows.clamp_min(0)].float() * strong_mask[:, None, None]
        else:
            n_frames, n_classes = self.features.shape[1], self.weak_targets.shape[1]
            strong = torch.zeros(idx.shape[0], n_frames, n_classes, dtype=torch.float32, device=idx.device)
        return {
            "features": self.features[idx].float(),
            "weak": self.weak_targets[idx],
            "weak_mask": self.weak_mask[idx],
            "strong": strong,
            "strong_mask": strong_mask,
            "source": self.source[idx],
            "index": idx,
        }


@dataclass
class ValidationSet:
    """Validation clips in memory with their ground truth.

    ``features (V, T, F)``, ``weak_targets (V, C)`` (classes present in the clip), ``filenames``,
    ``durations`` (s; predictions are cropped to them), ``annotations`` (ground-truth events, every
    clip listed, including clips without events), ``frame_targets (V, T, C)`` uint8 (1 where a
    class is active; for the threshold-free validation monitor), ``paths`` (the audio files; empty
    for sets built in memory).
    """

    features: Tensor
    weak_targets: Tensor
    filenames: list[str]
    durations: list[float]
    annotations: StrongAnnotations
    frame_targets: Optional[Tensor] = None
    paths: list[Path] = field(default_factory=list)

    def __len__(self) -> int:
        return self.features.shape[0]


# ----- loading ----------------------------------------------------------------------------------
def _resolve(root: Path, rel: str) -> Path:
    p = Path(rel)
    return p if p.is_absolute() else root / p


def _limit(names: list[str], limit: Optional[int]) -> list[str]:
    return names if limit is None else names[:limit]


def _load_features(cache: FeatureCache, paths: Sequence[Path], workers: Optional[int], progress: bool,
                   dtype: torch.dtype) -> Tensor:
    if not paths:
        return torch.zeros(0, *cache.shape, dtype=dtype)
    stack = cache.load_stack(paths, workers=workers, progress=progress)
    return torch.from_numpy(stack).to(dtype)


def feature_cache(config: RecipeConfig, data_root: Path) -> FeatureCache:
    """The feature cache of ``data_root`` for the recipe's front-end."""
    return FeatureCache(_resolve(data_root, config.data.cache_dir), config.features)


def cache_note(config: RecipeConfig, data_root: str | os.PathLike) -> tuple[str, bool]:
    """Where the features of the recipe's clips are written (printed by ``jointsed train``) and
    whether that is outside the data root (an absolute ``data.cache_dir``)."""
    folder = feature_cache(config, Path(data_root)).folder.resolve()
    outside = not folder.is_relative_to(Path(data_root).resolve())
    return f"feature cache: {folder}" + (" (outside the data root: data.cache_dir)" if outside else ""), outside


def load_training_set(config: RecipeConfig, data_root: str | os.PathLike, progress: bool = True) -> TrainingSet:
    """Read the training tables, compute/load every clip's features and build a :class:`TrainingSet`.

    Raises:
        AnnotationError: a malformed table or audio files missing for listed clips.
        DataError: no training clip at all.
    """
    root = Path(data_root)
    d = config.data
    classes = list(d.classes)
    fc = config.features
    encoder = LabelEncoder(classes, fc.frame_hop, fc.n_frames())
    cache = feature_cache(config, root)
    dtype = torch.float16 if d.in_memory_dtype == "float16" else torch.float32

    paths: list[Path] = []
    names: list[str] = []
    weak_rows: list[np.ndarray] = []
    weak_mask: list[bool] = []
    strong_index: list[int] = []
    strong_rows: list[np.ndarray] = []
    source: list[int] = []
    clip_labels: list[tuple[str, ...]] = []
    strong_ann: Optional[StrongAnnotations] = None

    if d.weak_tsv is not None:
        tsv = _resolve(root, d.weak_tsv)
        weak = read_weak_tsv(tsv, classes)
        files = _limit(weak.filenames, d.max_clips_per_set)
        folder = _resolve(root, d.weak_audio)
        check_audio_files(files, folder, tsv)
        for name in files:
            labels = weak.labels[name]
            paths.append(folder / name)
            names.append(f"weak/{name}")
            weak_rows.append(encoder.encode_weak(labels))
            weak_mask.append(True)
            strong_index.append(-1)
            source.append(SET_IDS["weak"])
            clip_labels.append(tuple(labels))

    if d.synthetic_tsv is not None:
        tsv = _resolve(root, d.synthetic_tsv)
        strong = read_strong_tsv(tsv, classes)
        files = _limit(strong.filenames, d.max_clips_per_set)
        kept = set(files)
        strong_ann = StrongAnnotations(strong.path, [e for e in strong.events if e.filename in kept], files)
        by_file = strong_ann.by_file()
        folder = _resolve(root, d.synthetic_audio)
        check_audio_files(files, folder, tsv)
        for name in files:
            events = by_file[name]
            paths.append(folder / name)
            names.append(f"synthetic/{name}")
            weak_rows.append(encoder.encode_weak(e.event_label for e in events))
            weak_mask.append(True)
            strong_index.append(len(strong_rows))
            strong_rows.append(encoder.encode_strong(events).astype(np.uint8))
            source.append(SET_IDS["synthetic"])
            clip_labels.append(tuple(sorted({e.event_label for e in events})))

    if d.unlabelled_tsv is not None or d.unlabelled_audio is not None:
        if d.unlabelled_audio is None:
            raise DataError("data.unlabelled_audio: needed when data.unlabelled_tsv is set")
        folder = _resolve(root, d.unlabelled_audio)
        if d.unlabelled_tsv is not None:
            tsv = _resolve(root, d.unlabelled_tsv)
            files = _limit(read_filenames_tsv(tsv), d.max_clips_per_set)
            check_audio_files(files, folder, tsv)
        else:
            files = _limit([p.name for p in list_audio_files(folder)], d.max_clips_per_set)
        for name in files:
            paths.append(folder / name)
            names.append(f"unlabelled/{name}")
            weak_rows.append(np.zeros(len(classes), np.float32))
            weak_mask.append(False)
            strong_index.append(-1)
            source.append(SET_IDS["unlabelled"])

    if not paths:
        raise DataError(f"{root}: no training clip found (check the data section of the recipe)")
    features = _load_features(cache, paths, d.cache_workers, progress, dtype)
    n_frames = features.shape[1]
    strong_t = (
        torch.from_numpy(np.stack(strong_rows))
        if strong_rows
        else torch.zeros(0, n_frames, len(classes), dtype=torch.uint8)
    )
    return TrainingSet(
        features=features,
        weak_targets=torch.from_numpy(np.stack(weak_rows)),
        weak_mask=torch.tensor(weak_mask, dtype=torch.bool),
        strong_index=torch.tensor(strong_index, dtype=torch.long),
        strong_targets=strong_t,
        source=torch.tensor(source, dtype=torch.long),
        filenames=names,
        clip_labels=clip_labels,
        strong_annotations=strong_ann,
        paths=paths,
    )


def load_validation_set(
    config: RecipeConfig, data_root: str | os.PathLike, progress: bool = True
) -> Optional[ValidationSet]:
    """The validation set (``None`` when ``data.validation_tsv`` is null).

    Durations come from ``data.validation_durations`` if the file exists, else from the audio
    headers.
    """
    d = config.data
    if d.validation_tsv is None:
        return None
    root = Path(data_root)
    classes = list(d.classes)
    tsv = _resolve(root, d.validation_tsv)
    ann = read_strong_tsv(tsv, classes)
    files = _limit(ann.filenames, d.max_clips_per_set)
    kept = set(files)
    ann = StrongAnnotations(ann.path, [e for e in ann.events if e.filename in kept], files)
    folder = _resolve(root, d.validation_audio)
    check_audio_files(files, folder, tsv)
    durations_map: dict[str, float] = {}
    if d.validation_durations is not None and _resolve(root, d.validation_durations).is_file():
        durations_map = read_durations_tsv(_resolve(root, d.validation_durations))
    durations = [
        float(durations_map[name]) if name in durations_map else audio_info(folder / name).duration
        for name in files
    ]
    encoder = LabelEncoder(classes, config.features.frame_hop, config.features.n_frames())
    by_file = ann.by_file()
    weak = np.stack([encoder.encode_weak(e.event_label for e in by_file[name]) for name in files])
    frame_targets = np.stack([encoder.encode_strong(by_file[name]).astype(np.uint8) for name in files])
    cache = feature_cache(config, root)
    features = _load_features(cache, [folder / n for n in files], d.cache_workers, progress, torch.float32)
    return ValidationSet(features, torch.from_numpy(weak), list(files), durations, ann,
                         torch.from_numpy(frame_targets), [folder / n for n in files])


# ----- statistics computed from the training set -------------------------------------------------
def feature_statistics(features: Tensor, chunk: int = 256) -> tuple[Tensor, Tensor]:
    """Per-band mean and standard deviation of the training features, ``(F,)`` each (float32).

    Frames of digital silence (every band at the log floor, i.e. the zero padding of clips
    shorter than the clip duration) are left out so that padding does not skew the statistics.
    Accumulated in float64 over chunks (no full float64 copy of the set).
    """
    floor = math.log(LOG_EPS) + _SILENCE_MARGIN
    n_bands = features.shape[-1]
    total = torch.zeros(n_bands, dtype=torch.float64)
    total_sq = torch.zeros(n_bands, dtype=torch.float64)
    count = 0
    for start in range(0, features.shape[0], chunk):
        x = features[start : start + chunk].double().reshape(-1, n_bands).cpu()
        keep = x.amax(dim=1) > floor
        x = x[keep]
        total += x.sum(0)
        total_sq += (x * x).sum(0)
        count += x.shape[0]
    if count == 0:
        return torch.zeros(n_bands), torch.ones(n_bands)
    mean = total / count
    var = (total_sq / count - mean * mean).clamp_min(0.0)
    std = var.sqrt().clamp_min(1e-5)
    return mean.float(), std.float()


def class_ratios(train: TrainingSet, classes: Sequence[str]) -> list[float]:
    """Lin's ``r_c`` counted over every labelled training clip, weak and strong (DESIGN section 1;
    all 1 when there is no labelled clip)."""
    labelled = [labels for labels in train.clip_labels if labels]
    if not labelled:
        return [1.0] * len(classes)
    return single_class_ratios(labelled, classes)


class _GatherDataset(Dataset):
    """Map-style view of a :class:`TrainingSet` that gathers a whole batch at once."""

    def __init__(self, data: TrainingSet) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> dict[str, Tensor]:  # pragma: no cover - batched path used
        return {k: v[0] for k, v in self.data.gather(torch.tensor([index])).items()}

    def __getitems__(self, indices: list[int]) -> dict[str, Tensor]:
        return self.data.gather(torch.tensor(indices, dtype=torch.long))


class _ValidationDataset(Dataset):
    def __init__(self, data: ValidationSet) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitems__(self, indices: list[int]) -> dict[str, Tensor]:
        idx = torch.tensor(indices, dtype=torch.long)
        return {"features": self.data.features[idx], "index": idx}

    def __getitem__(self, index: int) -> dict[str, Tensor]:  # pragma: no cover
        return {"features": self.data.features[index], "index": torch.tensor(index)}


def _identity(batch):
    return batch


def training_set_names(config: RecipeConfig) -> tuple[str, ...]:
    """Sets a system draws its batches from: the frame-level teacher (deep feature distillation)
    trains on the strongly labelled clips only, the others on every enabled set."""
    if config.system == "frame_teacher":
        return ("synthetic",)
    return tuple(SET_IDS)


class SEDDataModule(pl.LightningDataModule):
    """Serves the in-memory training set through a :class:`ComposedBatchSampler` and the
    validation set in order. Built from already loaded sets (see :func:`load_training_set`).

    ``on_accelerator``: the training tensors are moved to the trainer's device in ``setup`` and
    batches are gathered there.
    """

    def __init__(self, config: RecipeConfig, train: TrainingSet, validation: Optional[ValidationSet]) -> None:
        super().__init__()
        self.config = config
        self.train_set = train
        self.val_set = validation

    def setup(self, stage: str) -> None:
        if self.config.data.on_accelerator and self.trainer is not None:
            device = self.trainer.strategy.root_device
            if device.type != "cpu":
                self.train_set.to(device)

    def _sampler(self) -> ComposedBatchSampler:
        b = self.config.batch
        rank, world = 0, 1
        if self.trainer is not None:
            rank, world = self.trainer.global_rank, self.trainer.world_size
        limit = self.config.trainer.limit_train_batches
        names = training_set_names(self.config)
        sets = {name: self.train_set.indices_of(name) for name in names}
        batch_size = b.batch_size
        if self.config.system == "frame_teacher":
            # the frame teacher draws batches of ``batch_size`` from its one (small) set: at most
            # the whole set per batch, so that a tiny set still gives one batch per epoch
            batch_size = max(1, min(batch_size, sum(v.numel() for v in sets.values()) // world))
        return ComposedBatchSampler(
            sets,
            mode=b.mode,
            batch_size=batch_size,
            composition=b.composition,
            epoch_batches=b.epoch_batches,
            drop_last=b.drop_last,
            seed=self.config.seed,
            rank=rank,
            world_size=world,
            limit=limit,
        )

    def train_dataloader(self) -> DataLoader:
        sampler = self._sampler()
        if len(sampler) == 0:
            raise DataError(
                f"an epoch has no complete batch: {len(self.train_set)} training clips for batch "
                f"settings {self.config.batch} on {sampler.world_size} process(es)"
            )
        return DataLoader(_GatherDataset(self.train_set), batch_sampler=sampler, collate_fn=_identity,
                          num_workers=0)

    def val_dataloader(self) -> DataLoader | list:
        if self.val_set is None or len(self.val_set) == 0:
            return []
        # Every process validates on the whole set (no distributed sampler): the metrics are
        # corpus-level (F1 after post-processing), identical on every rank.
        bs = self.config.batch.validation_batch_size
        batches = [list(range(i, min(i + bs, len(self.val_set)))) for i in range(0, len(self.val_set), bs)]
        return DataLoader(_ValidationDataset(self.val_set), batch_sampler=batches, collate_fn=_identity,
                          num_workers=0)

