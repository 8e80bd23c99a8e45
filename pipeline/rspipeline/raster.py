"""Georeferenced rasters read and written window by window: the scene's bands as 8-bit RGB, class rasters,
and the refined output GeoTIFF with the dataset's palette.

16-bit and floating-point bands are stretched to 8 bits per band between the band's 2nd and 98th percentiles,
as the SAM stage does for an image file (``rscommon.images``); here the percentiles are taken once over the
whole scene, from a decimated read of at most :data:`STRETCH_SAMPLE_SIDE` pixels a side, so every tile is
stretched alike and no read holds the scene. Pixels masked as nodata are left out of the percentiles and
become 0.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
from rasterio.io import DatasetReader, DatasetWriter
from rasterio.windows import Window

from rscommon.datasets import DatasetSpec
from rscommon.files import InputError
from rscommon.images import percentile_ranges, stretch_with_ranges

# GDAL's block cache is bounded so that reading and writing windows never holds more than this (MB) per process.
GDAL_OPTIONS = {"GDAL_CACHEMAX": 64}
STRETCH_SAMPLE_SIDE = 1024
OUTPUT_BLOCK = 256
_INTEGER_KINDS = "ui"


@dataclass(frozen=True)
class Grid:
    """A raster's pixel grid: size, coordinate reference system and affine transform."""

    width: int
    height: int
    crs: rasterio.crs.CRS | None
    transform: rasterio.Affine

    @property
    def georeferenced(self) -> bool:
        return self.crs is not None or not self.transform.is_identity


def open_raster(path: str | Path) -> DatasetReader:
    """Open a raster for reading; a clear error names a missing or unreadable file.

    A raster without georeferencing (a plain PNG class map, say) is accepted quietly: it is read on the pixel grid.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            return rasterio.open(path)
    except RasterioIOError as error:
        raise InputError(f"{path}: not a raster GDAL can read ({error})") from error


def grid_of(dataset: DatasetReader) -> Grid:
    return Grid(dataset.width, dataset.height, dataset.crs, dataset.transform)


def check_bands(dataset: DatasetReader, bands: Sequence[int]) -> None:
    """Three 1-based band numbers that the raster has."""
    if len(bands) != 3:
        raise InputError(f"--bands takes three band numbers (red green blue), got {list(bands)}")
    bad = [band for band in bands if not 1 <= band <= dataset.count]
    if bad:
        hint = " (for a single-band image pass --bands 1 1 1)" if dataset.count == 1 else ""
        raise InputError(f"{dataset.name}: has {dataset.count} band(s); --bands {bad} not among "
                         f"1..{dataset.count}{hint}")


def check_same_grid(image: DatasetReader, other: DatasetReader, what: str) -> None:
    """``other`` covers ``image``'s pixel grid: the same size, and the same CRS and transform when georeferenced."""
    a, b = grid_of(image), grid_of(other)
    if (a.width, a.height) != (b.width, b.height):
        raise InputError(f"{other.name}: {what} is {b.width} x {b.height} pixels, the image {image.name} "
                         f"{a.width} x {a.height}")
    if not b.georeferenced:
        return
    if a.crs != b.crs:
        raise InputError(f"{other.name}: {what} CRS {b.crs} differs from the image's {a.crs}")
    if not a.transform.almost_equals(b.transform):
        raise InputError(f"{other.name}: {what} transform {tuple(b.transform)[:6]} differs from the image's "
                         f"{tuple(a.transform)[:6]}")


def check_class_raster(dataset: DatasetReader) -> None:
    """A class raster: one band of integers."""
    if dataset.count != 1:
        raise InputError(f"{dataset.name}: a class raster has one band, this one {dataset.count}")
    if np.dtype(dataset.dtypes[0]).kind not in _INTEGER_KINDS:
        raise InputError(f"{dataset.name}: class values must be integers, the band is {dataset.dtypes[0]}")


def needs_stretch(dataset: DatasetReader, bands: Sequence[int]) -> bool:
    """Whether any chosen band is other than 8-bit (and so is stretched)."""
    return any(dataset.dtypes[band - 1] != "uint8" for band in bands)


def stretch_ranges(dataset: DatasetReader, bands: Sequence[int]) -> tuple[tuple[float, float], ...] | None:
    """Per chosen band the scene's (2nd, 98th) percentile, from a decimated read; ``None`` for 8-bit bands."""
    if not needs_stretch(dataset, bands):
        return None
    factor = min(1.0, STRETCH_SAMPLE_SIDE / max(dataset.width, dataset.height))
    shape = (len(bands), max(1, round(dataset.height * factor)), max(1, round(dataset.width * factor)))
    sample = dataset.read(list(bands), out_shape=shape, resampling=Resampling.nearest, masked=True)
    return tuple(percentile_ranges(np.ma.filled(sample.astype(np.float64), np.nan).transpose(1, 2, 0)))


def read_rgb_window(dataset: DatasetReader, bands: Sequence[int], window: Window,
                    ranges: Sequence[tuple[float, float]] | None) -> np.ndarray:
    """The chosen bands inside ``window`` as H x W x 3 uint8 (stretched with ``ranges`` unless 8-bit)."""
    if ranges is None:
        return np.ascontiguousarray(dataset.read(list(bands), window=window).transpose(1, 2, 0))
    data = dataset.read(list(bands), window=window, masked=True)
    values = np.ma.filled(data.astype(np.float64), np.nan).transpose(1, 2, 0)
    return stretch_with_ranges(values, ranges)


def read_class_window(dataset: DatasetReader, window: Window, spec: DatasetSpec) -> np.ndarray:
    """Band 1 inside ``window`` as uint8 class indices; a value outside the dataset's classes is an error."""
    values = dataset.read(1, window=window)
    bad = np.unique(values[(values < 0) | (values >= spec.num_classes)])
    if bad.size:
        raise InputError(f"{dataset.name}: class values {bad[:10].tolist()} in rows {window.row_off}.."
                         f"{window.row_off + window.height - 1}, columns {window.col_off}.."
                         f"{window.col_off + window.width - 1} are outside {spec.name}'s 0..{spec.num_classes - 1}")
    return values.astype(np.uint8)


def class_raster_profile(grid: Grid) -> dict:
    """A tiled, DEFLATE-compressed single-band uint8 GeoTIFF on ``grid`` (BigTIFF when it may need it).

    A grid without georeferencing (an image that had none) is written without it too."""
    profile = {
        "driver": "GTiff", "width": grid.width, "height": grid.height, "count": 1, "dtype": "uint8",
        "compress": "deflate", "BIGTIFF": "IF_SAFER", "photometric": "palette",
        "tiled": True, "blockxsize": OUTPUT_BLOCK, "blockysize": OUTPUT_BLOCK,
    }
    if grid.georeferenced:
        profile.update(crs=grid.crs, transform=grid.transform)
    return profile


def create_class_raster(path: Path, grid: Grid, spec: DatasetSpec) -> DatasetWriter:
    """A new class raster on ``grid`` (:func:`class_raster_profile`) whose colour table is ``spec``'s palette."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # a grid without georeferencing stays without
        dataset = rasterio.open(path, "w", **class_raster_profile(grid))
    write_palette(dataset, spec)
    return dataset


def write_palette(dataset: DatasetWriter, spec: DatasetSpec) -> None:
    """The dataset's palette as band 1's colour table, and its class names as band tags."""
    dataset.write_colormap(1, {index: (*colour, 255) for index, colour in enumerate(spec.palette)})
    dataset.update_tags(1, **{f"class_{index}": name for index, name in enumerate(spec.classes)})
