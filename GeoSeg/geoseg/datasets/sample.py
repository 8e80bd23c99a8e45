"""The real tiles embedded in ``data/real_samples`` (see its README) as a dataset in GeoSeg's conventions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rscommon.files import InputError
from rscommon.paths import REAL_SAMPLES

from .augment import train_transform, val_transform
from .folder import SegmentationFolder
from .labels import isprs_mmseg_to_geoseg, loveda_to_geoseg


@dataclass(frozen=True)
class SampleSource:
    """One folder of ``data/real_samples``: file suffixes, label conversion and the dataset it belongs to."""

    folder: str
    img_suffix: str
    mask_suffix: str
    label_map: Callable[[np.ndarray], np.ndarray]
    dataset: str
    ignore_index: int


SAMPLE_SOURCES = {
    "loveda": SampleSource("loveda", ".png", "_mask.png", loveda_to_geoseg, "Urban", 8),
    "potsdam": SampleSource("potsdam", "_RGB.png", "_label_mmseg.png", isprs_mmseg_to_geoseg, "potsdam", 6),
    "vaihingen": SampleSource("vaihingen", "_IRRG.png", "_label_mmseg.png", isprs_mmseg_to_geoseg, "potsdam", 6),
}


class SampleDataset(SegmentationFolder):
    """The embedded tiles of one source (``loveda``, ``potsdam`` or ``vaihingen``), labels converted on reading."""

    def __init__(
        self,
        source: str = "loveda",
        train: bool = False,
        crop_size: int = 512,
        ids: list[str] | None = None,
        repeats: int = 1,
        scale_resize: str = "pil",
    ):
        if source not in SAMPLE_SOURCES:
            raise InputError(f"unknown sample source {source!r}; known: {', '.join(SAMPLE_SOURCES)}")
        spec = SAMPLE_SOURCES[source]
        self.source = spec
        transform = (
            train_transform(crop_size, spec.ignore_index, scale_resize=scale_resize) if train else val_transform()
        )
        super().__init__(
            REAL_SAMPLES / spec.folder,
            transform,
            img_dir=".",
            mask_dir=".",
            img_suffix=spec.img_suffix,
            mask_suffix=spec.mask_suffix,
            label_map=spec.label_map,
            ids=ids,
            repeats=repeats,
        )
