"""The reference's augmentations, expressed as albumentations pipelines that move image and mask together."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import albumentations as A
import cv2
import numpy as np
from PIL import Image

from rscommon.files import InputError

# Scale factors the reference draws from (one of them, uniformly).
SCALES = (0.5, 0.75, 1.0, 1.25, 1.5)
# How the scale augmentation resizes: PIL bicubic (antialiased when shrinking; the reference's) or cv2 bicubic.
SCALE_RESIZERS = ("pil", "cv2")


class ClassAwareRandomCrop(A.RandomCrop):
    """A random crop that retries (``attempts`` times) until no class covers ``max_ratio`` or more of it.

    Pixels equal to ``ignore_index`` do not count, and a crop with a single class is rejected; after the
    last attempt the last crop is kept. Images smaller than the crop are padded on all sides, the image with
    0 and the mask with ``ignore_index``.
    """

    def __init__(self, size: int, ignore_index: int, max_ratio: float = 0.75, attempts: int = 11, p: float = 1.0):
        super().__init__(
            height=size,
            width=size,
            pad_if_needed=True,
            pad_position="center",
            border_mode=cv2.BORDER_CONSTANT,
            fill=0,
            fill_mask=ignore_index,
            p=p,
        )
        self.size = size
        self.ignore_index = ignore_index
        self.max_ratio = max_ratio
        self.attempts = attempts

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        mask = data.get("mask")
        for _ in range(self.attempts):
            choice = super().get_params_dependent_on_data(params, data)
            if mask is None or self._is_balanced(mask, choice):
                break
        return choice

    def _is_balanced(self, mask: np.ndarray, choice: dict[str, Any]) -> bool:
        pad = choice["pad_params"] or {"pad_top": 0, "pad_left": 0}
        x_min, y_min, x_max, y_max = choice["crop_coords"]
        top, left = pad["pad_top"], pad["pad_left"]
        window = mask[max(y_min - top, 0) : max(y_max - top, 0), max(x_min - left, 0) : max(x_max - left, 0)]
        counts = np.bincount(window.ravel())
        if self.ignore_index < counts.size:
            counts[self.ignore_index] = 0
        counts = counts[counts > 0]
        return counts.size > 1 and counts.max() / counts.sum() < self.max_ratio

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("size", "ignore_index", "max_ratio", "attempts")


class PILRandomScale(A.DualTransform):
    """Resize by one of ``scales`` chosen uniformly, as the reference does: PIL bicubic for the image (which
    low-pass filters when shrinking) and PIL nearest for the mask, to ``int(scale * side)`` pixels.

    (The reference reads PIL's ``(width, height)`` as ``(height, width)``, which swaps the sides of a non-square
    image; its tiles are all square, where the two agree, so the sides are kept here.)
    """

    def __init__(self, scales: Sequence[float] = SCALES, p: float = 1.0):
        super().__init__(p=p)
        self.scales = tuple(scales)

    def get_params(self) -> dict[str, float]:
        return {"scale": self.py_random.choice(self.scales)}

    @staticmethod
    def _resize(array: np.ndarray, scale: float, resample: Image.Resampling) -> np.ndarray:
        height, width = array.shape[:2]
        size = (int(scale * width), int(scale * height))
        squeezed = array[..., 0] if array.ndim == 3 and array.shape[2] == 1 else array
        resized = np.asarray(Image.fromarray(squeezed).resize(size, resample))
        return resized[..., None] if squeezed is not array else resized

    def apply(self, img: np.ndarray, scale: float = 1.0, **params: Any) -> np.ndarray:
        return self._resize(img, scale, Image.Resampling.BICUBIC)

    def apply_to_mask(self, mask: np.ndarray, scale: float = 1.0, **params: Any) -> np.ndarray:
        return self._resize(mask, scale, Image.Resampling.NEAREST)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("scales",)


def random_scale(scales: Sequence[float] = SCALES, resize: str = "pil") -> A.BasicTransform:
    """Resize by one of ``scales`` chosen uniformly: ``resize="pil"`` as the reference (PIL bicubic, antialiased
    when shrinking; mask nearest), ``"cv2"`` with cv2 bicubic (no antialiasing; mask nearest)."""
    if resize == "pil":
        return PILRandomScale(scales)
    if resize == "cv2":
        return A.OneOf(
            [A.RandomScale(scale_limit=(s - 1.0, s - 1.0), interpolation=cv2.INTER_CUBIC, p=1.0) for s in scales],
            p=1.0,
        )
    raise InputError(f"unknown scale resizer {resize!r}; choose one of {', '.join(SCALE_RESIZERS)}")


def train_transform(
    crop_size: int, ignore_index: int, scales: Sequence[float] = SCALES, scale_resize: str = "pil"
) -> A.Compose:
    """Flips, random scale, class-aware crop, rot90, ImageNet normalisation (the reference's order).

    The random draws come from the pipeline's own generator, which the datasets reseed for every item (see
    :class:`~geoseg.datasets.folder.SegmentationFolder`), so a seeded run augments identically.
    """
    return A.Compose(
        [
            A.HorizontalFlip(p=0.5),
            A.VerticalFlip(p=0.5),
            random_scale(scales, scale_resize),
            ClassAwareRandomCrop(crop_size, ignore_index=ignore_index),
            A.RandomRotate90(p=0.5),
            A.Normalize(),
        ]
    )


def val_transform() -> A.Compose:
    """ImageNet normalisation only."""
    return A.Compose([A.Normalize()])
