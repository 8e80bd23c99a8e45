"""The labelled areas cut into the sweep's folders: ``pred/<area>.png``, ``sam/<area>.json``, ``gt/<area>.png``.

Each area's prediction and objects are made from its window as the scene command makes a tile's: the image read
with the scene's bands, nodata and stretch (:class:`~rspipeline.scene_tiles.ImageBands`), the prediction read from
the raster or predicted by the GeoSeg network on the window, the objects made by the SAM stage's source and cut
to the pixels with data. Pixels without data are unlabelled in the ground truth (and class 0 in the prediction,
which no object covers). An area is made again only when what it is made from changes (its window, the inputs,
the settings) or its files are not those written (edited, truncated, removed): ``areas.json`` records each area's
key and the SHA-256 of its prediction and objects; areas no longer labelled are removed. The ground truth is
written again on every run, from the labels, and its digest returned for the choice's record.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rscommon.datasets import DatasetSpec, get_dataset
from rscommon.files import InputError, read_json, write_json_atomic
from rscommon.labels import write_label_png
from rscommon.provenance import array_digest, digest, file_identity
from sam_objects import SourceRecipe
from sam_objects.registry import rebuilt_source

from .scene_tiles import ImageBands, objects_within
from .tile_sources import GeoSegPrediction, PredictionRaster
from .tiling import Tile
from .tune_labels import UNLABELLED

KINDS = {"pred": ".png", "sam": ".json", "gt": ".png"}


@dataclass(frozen=True)
class AreaJob:
    """What a worker needs to make one area's prediction and objects."""

    image: ImageBands
    prediction: PredictionRaster | GeoSegPrediction
    objects: SourceRecipe
    dataset: str
    tile: Tile


def read_area(job: AreaJob) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """The area's RGB, its prediction when read from a raster (else ``None``) and which pixels hold data (in the
    image and, when read, in the prediction)."""
    rgb, valid = job.image.read(job.tile)
    pred = None
    if isinstance(job.prediction, PredictionRaster):
        pred, has_class = job.prediction.read(job.tile, get_dataset(job.dataset))
        valid &= has_class
    return rgb, pred, valid


def cut_area(job: AreaJob) -> tuple[np.ndarray, list[dict]]:
    """The area's prediction (class 0 where it has no data) and its objects (cut to the pixels with data)."""
    rgb, pred, valid = read_area(job)
    if pred is None:
        pred = job.prediction.scores(rgb).argmax(axis=0).astype(np.uint8)
    objects = rebuilt_source(job.objects)(rgb) if valid.any() else []
    if not valid.all():
        objects = objects_within(objects, valid)
    return np.where(valid, pred, 0).astype(np.uint8), objects


class AreaStore:
    """The areas' folders and the record of what each area was made from."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.record_path = root / "areas.json"
        self.made: dict[str, dict] = self._read_record()

    def _read_record(self) -> dict[str, dict]:
        """``areas.json``, or nothing when it is missing or damaged (every area is then made again)."""
        try:
            record = read_json(self.record_path) if self.record_path.is_file() else {}
        except InputError:
            return {}
        return record if isinstance(record, dict) else {}

    def path(self, kind: str, name: str) -> Path:
        return self.root / kind / f"{name}{KINDS[kind]}"

    def folder(self, kind: str) -> Path:
        return self.root / kind

    def current(self, name: str, key: dict) -> bool:
        """Whether the area ``name`` is there, made from ``key``, its files as they were written."""
        return self.made.get(name) == {"key": digest(key), **self._written(name)}

    def _written(self, name: str) -> dict[str, str | None]:
        """The SHA-256 of the area's prediction and objects (``None`` for a missing file)."""
        return {
            kind: file_identity(self.path(kind, name))["sha256"] if self.path(kind, name).is_file() else None
            for kind in ("pred", "sam")
        }

    def save(self, name: str, key: dict, pred: np.ndarray, objects: list[dict], spec: DatasetSpec) -> None:
        """The area's prediction and objects, then its key (so a part-written area is made again)."""
        self.made.pop(name, None)
        write_json_atomic(self.record_path, self.made)
        write_label_png(self.path("pred", name), pred, spec)
        write_json_atomic(self.path("sam", name), objects)
        self.made[name] = {"key": digest(key), **self._written(name)}
        write_json_atomic(self.record_path, self.made)

    def save_truth(self, name: str, labels: np.ndarray, valid: np.ndarray, spec: DatasetSpec) -> str:
        """The area's ground truth, unlabelled where the image or the prediction has no data; returns the digest
        of its pixels."""
        truth = np.where(valid, labels, UNLABELLED).astype(np.uint8)
        write_label_png(self.path("gt", name), truth, spec)
        return array_digest([truth])

    def keep_only(self, names: set[str]) -> list[str]:
        """Remove the areas not in ``names`` (no longer labelled); returns the removed names."""
        gone = sorted({path.stem for kind in KINDS for path in self.folder(kind).glob(f"*{KINDS[kind]}")} - names)
        for name in gone:
            for kind in KINDS:
                self.path(kind, name).unlink(missing_ok=True)
            self.made.pop(name, None)
        write_json_atomic(self.record_path, self.made)
        return gone
