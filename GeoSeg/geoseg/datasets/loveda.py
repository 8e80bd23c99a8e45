"""LoveDA Urban as GeoSeg lays it out: ``GeoSeg/data/Urban/{train,val}/{images,masks}``."""

from __future__ import annotations

from pathlib import Path

from .augment import train_transform, val_transform
from .folder import SegmentationFolder

URBAN_IGNORE_INDEX = 8


class UrbanDataset(SegmentationFolder):
    """One split of LoveDA Urban; masks hold GeoSeg's codes (0..6 classes, 7 other; see tools/loveda_mask_convert.py).

    ``train=True`` applies the training augmentations with ``crop_size`` crops, otherwise normalisation only.
    """

    def __init__(
        self,
        split: str,
        train: bool = False,
        crop_size: int = 512,
        root: str | Path = "data/Urban",
        mask_dir: str = "masks",
        scale_resize: str = "pil",
    ):
        transform = (
            train_transform(crop_size, URBAN_IGNORE_INDEX, scale_resize=scale_resize) if train else val_transform()
        )
        super().__init__(Path(root) / split, transform, img_dir="images", mask_dir=mask_dir)
