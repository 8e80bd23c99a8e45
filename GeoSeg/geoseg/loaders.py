"""The reference datasets and data loaders that are described in a config and built when a run starts."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader, Dataset

from rscommon.files import InputError

from .datasets import PotsdamDataset, UrbanDataset

DATASET_CLASSES = {"Urban": UrbanDataset, "potsdam": PotsdamDataset}


def reference_datasets(name: str, crop_size: int = 512, scale_resize: str = "pil") -> tuple[Dataset, Dataset]:
    """The ``train`` split with training augmentations and the ``val`` split, under ``GeoSeg/data/<name>/``."""
    if name not in DATASET_CLASSES:
        raise InputError(f"no reference dataset {name!r}; known: {', '.join(DATASET_CLASSES)}")
    dataset_class = DATASET_CLASSES[name]
    return dataset_class("train", train=True, crop_size=crop_size, scale_resize=scale_resize), dataset_class("val")


def default_workers() -> int:
    """The reference's 4 loader workers, fewer on smaller machines."""
    return min(4, os.cpu_count() or 1)


@dataclass(frozen=True)
class LoaderSpec:
    """A data loader described in a config and built only when training or prediction starts.

    ``train=True`` shuffles and drops the last incomplete batch, as the reference's training loader.
    """

    dataset: Dataset
    batch_size: int
    train: bool
    num_workers: int = -1

    def build(self, num_workers: int | None = None) -> DataLoader:
        """The :class:`~torch.utils.data.DataLoader` (``num_workers`` overrides the spec's; -1 = default)."""
        workers = self.num_workers if num_workers is None else num_workers
        workers = default_workers() if workers < 0 else workers
        if self.train and len(self.dataset) < self.batch_size:
            raise InputError(
                f"training set of {len(self.dataset)} item(s) is smaller than the batch size {self.batch_size}: "
                f"no complete batch to train on"
            )
        return DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            shuffle=self.train,
            drop_last=self.train,
            num_workers=workers,
            pin_memory=torch.cuda.is_available(),
            persistent_workers=workers > 0,
        )
