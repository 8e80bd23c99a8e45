"""Image/mask folder datasets that open their folders only when first used."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import albumentations as A
import numpy as np
import torch
from torch.utils.data import Dataset

from rscommon.files import InputError
from rscommon.images import read_rgb
from rscommon.labels import read_label_png

from ..paths import resolve_geoseg_path


class SegmentationFolder(Dataset):
    """Pairs ``root/img_dir/<id><img_suffix>`` with ``root/mask_dir/<id><mask_suffix>``.

    Items are dicts ``img_id``, ``img`` (float C x H x W, normalised by ``transform``) and, when the mask
    folder exists, ``gt_semantic_seg`` (long H x W). ``label_map`` converts raw mask codes on reading;
    ``repeats`` > 1 lists every image that many times per epoch (small datasets with random crops).
    Relative roots are resolved against ``GeoSeg/``; nothing is read before the first ``len``/item.

    Before each item the transform is reseeded from torch's random generator, which Lightning's
    ``seed_everything(workers=True)`` seeds in the main process and in every loader worker: the same seed gives
    the same augmentations, whatever albumentations' own seeding does.
    """

    def __init__(
        self,
        root: str | Path,
        transform: A.Compose,
        img_dir: str = "images",
        mask_dir: str = "masks",
        img_suffix: str = ".png",
        mask_suffix: str = ".png",
        label_map: Callable[[np.ndarray], np.ndarray] | None = None,
        ids: list[str] | None = None,
        repeats: int = 1,
    ):
        if repeats < 1:
            raise InputError(f"repeats must be >= 1, got {repeats}")
        self.root = resolve_geoseg_path(root)
        self.transform = transform
        self.img_dir, self.mask_dir = img_dir, mask_dir
        self.img_suffix, self.mask_suffix = img_suffix, mask_suffix
        self.label_map = label_map
        self._ids = list(ids) if ids is not None else None
        self.repeats = repeats

    @property
    def has_masks(self) -> bool:
        return (self.root / self.mask_dir).is_dir()

    @property
    def img_ids(self) -> list[str]:
        if self._ids is None:
            self._ids = self._list_ids()
        return self._ids

    def _list_ids(self) -> list[str]:
        img_folder = self.root / self.img_dir
        if not img_folder.is_dir():
            raise FileNotFoundError(f"image folder {img_folder} not found (dataset root {self.root})")
        names = sorted(p.name for p in img_folder.glob(f"*{self.img_suffix}"))
        if self.img_dir == self.mask_dir:
            names = [n for n in names if not n.endswith(self.mask_suffix)]
        ids = [n[: -len(self.img_suffix)] for n in names]
        if not ids:
            raise FileNotFoundError(f"no *{self.img_suffix} images in {img_folder}")
        if self.has_masks:
            missing = [i for i in ids if not self.mask_path(i).is_file()]
            if missing:
                raise FileNotFoundError(
                    f"{len(missing)} image(s) in {img_folder} have no mask in {self.root / self.mask_dir}: "
                    f"{', '.join(missing[:10])}"
                )
        return ids

    def image_path(self, img_id: str) -> Path:
        return self.root / self.img_dir / f"{img_id}{self.img_suffix}"

    def mask_path(self, img_id: str) -> Path:
        return self.root / self.mask_dir / f"{img_id}{self.mask_suffix}"

    def __len__(self) -> int:
        return len(self.img_ids) * self.repeats

    def load(self, index: int) -> tuple[str, np.ndarray, np.ndarray | None]:
        """The raw image and mask (label-mapped) of item ``index``, before any transform."""
        img_id = self.img_ids[index % len(self.img_ids)]
        image = read_rgb(self.image_path(img_id))
        if not self.has_masks:
            return img_id, image, None
        mask_path = self.mask_path(img_id)
        mask = read_label_png(mask_path)
        if self.label_map is not None:
            mask = self.label_map(mask)
        if mask.shape != image.shape[:2]:
            raise InputError(f"{mask_path}: mask is {mask.shape}, its image {image.shape[:2]}")
        return img_id, image, mask

    def __getitem__(self, index: int) -> dict:
        img_id, image, mask = self.load(index)
        self.transform.set_random_seed(int(torch.randint(2**31 - 1, ()).item()))
        if mask is None:
            out = self.transform(image=image)
            return {"img_id": img_id, "img": torch.from_numpy(out["image"]).permute(2, 0, 1).float()}
        out = self.transform(image=image, mask=mask)
        return {
            "img_id": img_id,
            "img": torch.from_numpy(out["image"]).permute(2, 0, 1).float(),
            "gt_semantic_seg": torch.from_numpy(np.ascontiguousarray(out["mask"])).long(),
        }
