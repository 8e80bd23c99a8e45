"""A weight-free object source: scikit-image superpixel regions. This is NOT SAM.

It exists so the pipeline runs on machines without a checkpoint (the demo uses it when ``weights/`` is empty).
Regions are computed on a copy of the image shrunk to ``max_side`` and scaled back with nearest neighbours,
so a 1024 x 1024 tile takes about a second on one CPU core.
"""

from __future__ import annotations

import cv2
import numpy as np
from skimage.segmentation import felzenszwalb, slic

from rscommon.files import InputError
from rscommon.objects import encode_object

from .settings import RegionSettings


def region_labels(image: np.ndarray, settings: RegionSettings) -> np.ndarray:
    """An H x W int array of region ids (0..n-1) for an H x W x 3 uint8 image."""
    height, width = image.shape[:2]
    factor = min(1.0, settings.max_side / max(height, width))
    small_size = (max(1, round(width * factor)), max(1, round(height * factor)))
    small = cv2.resize(image, small_size, interpolation=cv2.INTER_AREA) if factor < 1.0 else image
    if settings.method == "felzenszwalb":
        min_size = max(1, round(settings.min_mask_region_area * factor**2))
        labels = felzenszwalb(small, scale=settings.scale, sigma=settings.sigma, min_size=min_size)
    elif settings.method == "slic":
        labels = slic(small, n_segments=settings.n_segments, compactness=settings.compactness, start_label=0)
    else:
        raise InputError(f"unknown region method {settings.method!r} (felzenszwalb or slic)")
    rows = np.arange(height) * labels.shape[0] // height
    cols = np.arange(width) * labels.shape[1] // width
    return labels[rows[:, None], cols[None, :]]


class RegionObjectSource:
    """Each region at least ``min_mask_region_area`` pixels large becomes one object mask."""

    def __init__(self, settings: RegionSettings) -> None:
        self.settings = settings

    def __call__(self, image: np.ndarray) -> list[dict]:
        """``{"rles", "area"}`` records, one per region (each mask is encoded as soon as it is made)."""
        labels = region_labels(image, self.settings)
        ids, counts = np.unique(labels, return_counts=True)
        return [encode_object(labels == region_id) for region_id in ids[counts >= self.settings.min_mask_region_area]]
