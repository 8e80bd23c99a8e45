"""ISPRS Potsdam as GeoSeg lays it out: ``GeoSeg/data/potsdam/{train,val}/{images_1024,masks,masks_eroded}``."""

from __future__ import annotations

from pathlib import Path

from .augment import train_transform, val_transform
from .folder import SegmentationFolder

POTSDAM_IGNORE_INDEX = 6


class PotsdamDataset(SegmentationFolder):
    """One split of the 1024 x 1024 Potsdam patches written by ``tools/potsdam_patch_split.py``.

    ``mask_dir="masks_eroded"`` reads the labels without object boundaries (boundaries = ignore 6).
    """

    def __init__(
        self,
        split: str,
        train: bool = False,
        crop_size: int = 512,
        root: str | Path = "data/potsdam",
        mask_dir: str = "masks",
        scale_resize: str = "pil",
    ):
        transform = (
            train_transform(crop_size, POTSDAM_IGNORE_INDEX, scale_resize=scale_resize) if train else val_transform()
        )
        super().__init__(Path(root) / split, transform, img_dir="images_1024", mask_dir=mask_dir)
