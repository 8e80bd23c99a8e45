"""Datasets of the GeoSeg stage: LoveDA Urban, Potsdam and the embedded real sample tiles."""

from .augment import ClassAwareRandomCrop, train_transform, val_transform
from .folder import SegmentationFolder
from .loveda import UrbanDataset
from .potsdam import PotsdamDataset
from .sample import SAMPLE_SOURCES, SampleDataset

__all__ = [
    "ClassAwareRandomCrop",
    "PotsdamDataset",
    "SAMPLE_SOURCES",
    "SampleDataset",
    "SegmentationFolder",
    "UrbanDataset",
    "train_transform",
    "val_transform",
]
