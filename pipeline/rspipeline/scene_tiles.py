"""The two tile tasks of a scene: a GeoSeg network's class scores on a tile, and a tile's refinement.

Each task reads its own window of the image (and of the prediction raster) and returns what the client saves
as the tile's part. Pixels without data are never refined: the objects are cut to the pixels with data and
those pixels hold a class of their own, beyond the dataset's, which no threshold names and which the refinement
gives to no other pixel (``sessrs.refine``'s ``nodata``). A pixel with data refined to a class outside the
dataset would be a bug of the refinement, and is reported as one (:class:`RefinementBug`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import RasterioIOError

from rscommon.datasets import get_dataset
from rscommon.files import InputError
from rscommon.objects import encode_object
from rscommon.rle import rle_pixels
from sam_objects import SourceRecipe
from sam_objects.registry import rebuilt_source
from sessrs import RefineOptions, Thresholds, refine

from .raster import GDAL_OPTIONS, Ranges, open_raster, read_rgb_window
from .scene_stitch import tile_claims
from .tile_sources import GeoSegPrediction, PredictionRaster
from .tiling import Span, Tile


class TileError(RuntimeError):
    """A tile task failed; the message names the tile and the cause."""


class RefinementBug(RuntimeError):
    """The refinement gave a pixel with data a class outside the dataset (never the input's fault)."""


@dataclass(frozen=True)
class ImageBands:
    """The scene's image as the tiles read it: its file, the chosen bands, their nodata and stretch."""

    path: Path
    bands: tuple[int, int, int]
    nodata: float | None
    ranges: Ranges | None

    def read(self, tile: Tile) -> tuple[np.ndarray, np.ndarray]:
        """The tile's H x W x 3 uint8 RGB and which of its pixels hold data."""
        with rasterio.Env(**GDAL_OPTIONS), open_raster(self.path) as dataset:
            try:
                return read_rgb_window(dataset, self.bands, tile.window, self.ranges, self.nodata)
            except RasterioIOError as error:
                reason = str(error)
        # Raised outside the handler so that the refusal carries no rasterio exception with it: a cluster sends a
        # failure back with its chained exceptions, and rasterio's cannot be unpickled.
        raise InputError(f"{self.path}: window {tile.window} cannot be read ({reason})")


@dataclass(frozen=True)
class ScoreJob:
    image: ImageBands
    model: GeoSegPrediction
    tile: Tile


@dataclass(frozen=True)
class RefineTask:
    """What every refinement task of a scene shares (small: it travels with each tile job)."""

    image: ImageBands
    prediction: PredictionRaster
    objects: SourceRecipe
    thresholds: Thresholds
    dataset: str
    max_objects: int
    options: RefineOptions
    rows: tuple[Span, ...]
    cols: tuple[Span, ...]


@dataclass(frozen=True)
class RefineJob:
    task: RefineTask
    tile: Tile


def tile_scores(job: ScoreJob) -> tuple[Tile, np.ndarray]:
    """The network's C x H x W class probabilities on the tile."""
    with _named(job.tile):
        rgb, _ = job.image.read(job.tile)
        return job.tile, job.model.scores(rgb)


def refine_tile(job: RefineJob) -> tuple[Tile, np.ndarray]:
    """The tile's part: its refinement's changes as :func:`~rspipeline.scene_stitch.tile_claims` keeps them."""
    task, tile = job.task, job.tile
    spec = get_dataset(task.dataset)
    with _named(tile):
        rgb, valid = task.image.read(tile)
        pred, has_class = task.prediction.read(tile, spec)
        valid &= has_class
        marked = np.where(valid, pred, spec.num_classes).astype(np.uint8)
        refined = marked
        if task.thresholds.modify and valid.any():
            objects = rebuilt_source(task.objects)(rgb)  # built once per process
            if not valid.all():
                objects = objects_within(objects, valid)
            refined = refine(
                marked,
                objects,
                task.thresholds,
                max_objects=task.max_objects,
                num_classes=spec.num_classes + 1,
                nodata=spec.num_classes,
                options=task.options,
            )
            check_refined_classes(refined, valid, spec.num_classes)
        return tile, tile_claims(refined, marked, valid, tile, task.rows, task.cols)


def check_refined_classes(refined: np.ndarray, valid: np.ndarray, num_classes: int) -> None:
    """Raise :class:`RefinementBug` when a pixel with data holds a class outside ``0..num_classes - 1``."""
    outside = valid & (refined >= num_classes)
    if outside.any():
        rows, cols = np.nonzero(outside)
        raise RefinementBug(
            f"bug: the refinement gave {int(outside.sum())} pixels with data class(es) "
            f"{np.unique(refined[outside]).tolist()}, outside the dataset's 0..{num_classes - 1} (first at row "
            f"{rows[0]}, column {cols[0]} of the tile); please report it with this scene's inputs"
        )


def objects_within(objects: list[dict], valid: np.ndarray) -> list[dict]:
    """The object records cut to the ``valid`` pixels (objects left empty are dropped)."""
    height, width = valid.shape
    column_major = valid.ravel(order="F")
    kept = []
    for record in objects:
        pixels = rle_pixels(record["rles"]["counts"], record["rles"]["size"])
        pixels = pixels[column_major[pixels]]
        if pixels.size:
            mask = np.zeros(height * width, bool)
            mask[pixels] = True
            kept.append(encode_object(mask.reshape(width, height).T))
    return kept


class _named:
    """Re-raise a tile task's failure naming the tile (input errors stay input errors)."""

    def __init__(self, tile: Tile) -> None:
        self.tile = tile

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, traceback) -> bool:
        if error is None:
            return False
        if isinstance(error, InputError):
            raise InputError(f"tile {self.tile.name}: {error}") from None
        if isinstance(error, Exception):
            raise TileError(f"tile {self.tile.name} (window {self.tile.window}): {kind.__name__}: {error}") from error
        return False
