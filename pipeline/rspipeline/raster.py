"""Georeferenced rasters read window by window: the scene's bands as 8-bit RGB, which pixels hold data, and
class rasters.

16-bit and floating-point bands are stretched to 8 bits per band between the band's 2nd and 98th percentiles,
as the SAM stage does for an image file (``rscommon.images``); here the percentiles are taken once over the
whole scene, from a regular sample of at most about :data:`STRETCH_SAMPLE_SIDE` squared pixels gathered by the
scene scan (:mod:`rspipeline.scene_scan`), so every tile is stretched alike and no read holds the scene.

Nodata: a pixel of the image holds no data when GDAL's dataset mask says so (a declared nodata value in every
band, a mask band or an alpha band), or, with an explicit nodata value, when every chosen band equals it. A
pixel of a class raster holds no data when its band's mask says so (its declared nodata value or mask band), or as
the command's option says (:data:`ClassNodata`: ``none`` ignores a declared nodata value, a number replaces it).
A declared nodata value that is one of the dataset's classes is refused (:func:`check_class_nodata`): obeyed, it
would silently drop every pixel of that class. Pixels without data are left out of the stretch and become 0 in
the RGB given to the object source.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import MaskFlags
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
from rasterio.io import DatasetReader
from rasterio.windows import Window

from rscommon.datasets import DatasetSpec
from rscommon.files import InputError
from rscommon.images import percentile_ranges, stretch_with_ranges
from rscommon.provenance import file_identity

# GDAL's block cache bounds what reading and writing windows holds per process. rasterio hands an integer to GDAL
# as *bytes* (64 would be 64 bytes, which re-reads every block for every window), so it is given in bytes here.
GDAL_CACHE_MB = 64
GDAL_OPTIONS = {"GDAL_CACHEMAX": GDAL_CACHE_MB * 1024 * 1024}
STRETCH_SAMPLE_SIDE = 1024
_INTEGER_KINDS = "ui"

Ranges = tuple[tuple[float, float], ...]

DECLARED, NO_NODATA = "declared", "none"
ClassNodata = str | int
"""Which pixels of a class raster hold no data: :data:`DECLARED` (its band's mask: the declared nodata value or
a mask band), :data:`NO_NODATA` (a declared nodata value is ignored; a mask band still counts) or a value (it
replaces the declared one)."""


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


def raster_files(path: str | Path) -> list[Path]:
    """Every local file GDAL reads for the raster ``path``: the file itself first, then, recursively, the files
    GDAL names for it (a VRT's sources and theirs, an external mask ``.msk``, a ``.aux.xml`` holding its nodata,
    overviews ``.ovr``), each once."""
    found, pending = [], [Path(path).resolve()]
    while pending:
        current = pending.pop(0)
        if current in found or not current.is_file():
            continue
        found.append(current)
        try:
            with rasterio.Env(**GDAL_OPTIONS), open_raster(current) as dataset:
                named = dataset.files
        except InputError:  # not a raster (an .aux.xml): its bytes are all it adds
            continue
        pending += [(current.parent / name).resolve() for name in named]
    return found


def raster_identity(path: str | Path) -> dict:
    """The identity of a raster by content: its file's and those of every file GDAL reads for it
    (:func:`raster_files`, named relative to the raster's folder), so that editing a VRT's source tile or an
    external mask changes it."""
    own, *read = raster_files(path)
    return {
        **file_identity(own),
        "reads": {os.path.relpath(file, own.parent): file_identity(file) for file in read},
    }


def grid_of(dataset: DatasetReader) -> Grid:
    return Grid(dataset.width, dataset.height, dataset.crs, dataset.transform)


def check_bands(dataset: DatasetReader, bands: Sequence[int]) -> None:
    """Three 1-based band numbers that the raster has."""
    if len(bands) != 3:
        raise InputError(f"--bands takes three band numbers (red green blue), got {list(bands)}")
    bad = [band for band in bands if not 1 <= band <= dataset.count]
    if bad:
        hint = " (for a single-band image pass --bands 1 1 1)" if dataset.count == 1 else ""
        raise InputError(
            f"{dataset.name}: has {dataset.count} band(s); --bands {bad} not among 1..{dataset.count}{hint}"
        )


def check_same_grid(image: DatasetReader, other: DatasetReader, what: str) -> None:
    """``other`` covers ``image``'s pixel grid: the same size, and the same CRS and transform when georeferenced."""
    a, b = grid_of(image), grid_of(other)
    if (a.width, a.height) != (b.width, b.height):
        raise InputError(
            f"{other.name}: {what} is {b.width} x {b.height} pixels, the image {image.name} {a.width} x {a.height}"
        )
    if not b.georeferenced:
        return
    if a.crs != b.crs:
        raise InputError(f"{other.name}: {what} CRS {b.crs} differs from the image's {a.crs}")
    if not a.transform.almost_equals(b.transform):
        raise InputError(
            f"{other.name}: {what} transform {tuple(b.transform)[:6]} differs from the image's {tuple(a.transform)[:6]}"
        )


def check_class_raster(dataset: DatasetReader) -> None:
    """A class raster: one band of integers."""
    if dataset.count != 1:
        raise InputError(f"{dataset.name}: a class raster has one band, this one {dataset.count}")
    if np.dtype(dataset.dtypes[0]).kind not in _INTEGER_KINDS:
        raise InputError(f"{dataset.name}: class values must be integers, the band is {dataset.dtypes[0]}")


def needs_stretch(dataset: DatasetReader, bands: Sequence[int]) -> bool:
    """Whether any chosen band is other than 8-bit (and so is stretched)."""
    return any(dataset.dtypes[band - 1] != "uint8" for band in bands)


def sample_step(dataset: DatasetReader) -> int:
    """Every how many rows and columns the stretch samples a pixel (about STRETCH_SAMPLE_SIDE a side in all)."""
    return max(1, -(-max(dataset.width, dataset.height) // STRETCH_SAMPLE_SIDE))


def ranges_of_sample(sample: np.ndarray) -> Ranges:
    """Per band of an N x B sample of valid pixels the (2nd, 98th) percentile."""
    return tuple(percentile_ranges(sample.astype(np.float64)[None]))


def read_valid(
    dataset: DatasetReader, bands: Sequence[int], window: Window, nodata: float | None, data: np.ndarray | None = None
) -> np.ndarray:
    """Which pixels of ``window`` hold data (H x W bool); see the module's docstring. ``data``, the chosen bands
    already read (B x H x W), spares a second read when ``nodata`` is given."""
    if nodata is None:
        return dataset.dataset_mask(window=window) > 0
    if data is None:
        data = dataset.read(list(bands), window=window)
    return ~np.all(data == nodata, axis=0) if not np.isnan(nodata) else ~np.all(np.isnan(data), axis=0)


def read_rgb_window(
    dataset: DatasetReader, bands: Sequence[int], window: Window, ranges: Ranges | None, nodata: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The chosen bands inside ``window`` as H x W x 3 uint8 (stretched with ``ranges`` unless 8-bit, nodata
    pixels 0), and which pixels hold data."""
    data = dataset.read(list(bands), window=window)
    valid = read_valid(dataset, bands, window, nodata, data)
    if ranges is None:
        rgb = data.transpose(1, 2, 0)
    else:
        rgb = stretch_with_ranges(data.transpose(1, 2, 0), ranges)
    return np.ascontiguousarray(np.where(valid[..., None], rgb, 0).astype(np.uint8)), valid


def parse_class_nodata(text: str, option: str) -> ClassNodata:
    """``declared`` (the default), ``none`` or a whole number, as ``option`` (``--pred-nodata``,
    ``--labels-nodata``) takes it."""
    if text.strip().lower() in (DECLARED, NO_NODATA):
        return text.strip().lower()
    try:
        return int(text)
    except ValueError:
        raise InputError(f"{option} {text}: give none or a whole number (the value that marks no data)") from None


def check_class_nodata(dataset: DatasetReader, spec: DatasetSpec, nodata: ClassNodata, option: str) -> None:
    """Refuse a nodata value (declared by the raster, or given by ``option``) that is a class of ``spec``."""
    value = dataset.nodata if nodata == DECLARED else nodata
    if value == NO_NODATA or value is None or not float(value).is_integer() or not 0 <= value < spec.num_classes:
        return
    name = spec.classes[int(value)]
    what = f"declares nodata {value:g}, which is" if nodata == DECLARED else f"{option} {value} is"
    raise InputError(
        f"{dataset.name}: {what} {spec.name}'s class {int(value)} ({name}), so every {name} pixel "
        f"would be left out; pass {option} none to read every value as a class, or {option} VALUE for the "
        f"value that marks no data"
    )


def class_valid(dataset: DatasetReader, window: Window, values: np.ndarray, nodata: ClassNodata) -> np.ndarray:
    """Which pixels of a class raster's ``window`` (holding ``values``) hold data, as ``nodata`` says
    (:data:`ClassNodata`)."""
    if nodata == DECLARED or MaskFlags.nodata not in dataset.mask_flag_enums[0]:
        valid = dataset.read_masks(1, window=window) > 0
    else:
        valid = np.ones(values.shape, bool)
    if nodata not in (DECLARED, NO_NODATA):
        valid &= values != nodata
    return valid


def read_class_window(
    dataset: DatasetReader, window: Window, spec: DatasetSpec, nodata: ClassNodata = DECLARED
) -> tuple[np.ndarray, np.ndarray]:
    """Band 1 inside ``window`` as uint8 class indices (nodata pixels 0) and which pixels hold data (as
    ``nodata`` says); a value outside the dataset's classes in a pixel with data is an error."""
    values = dataset.read(1, window=window)
    valid = class_valid(dataset, window, values, nodata)
    check_class_values(dataset.name, values[valid], window, spec)
    return np.where(valid, values, 0).astype(np.uint8), valid


def check_class_values(name: str, values: np.ndarray, window: Window, spec: DatasetSpec) -> None:
    """Refuse class values outside the dataset's classes, naming the raster and the window."""
    outside = (values < 0) | (values >= spec.num_classes)
    if outside.any():
        bad = np.unique(values[outside])
        raise InputError(
            f"{name}: class values {bad[:10].tolist()} in rows {window.row_off}.."
            f"{window.row_off + window.height - 1}, columns {window.col_off}.."
            f"{window.col_off + window.width - 1} are outside {spec.name}'s 0..{spec.num_classes - 1} "
            f"(and are not its declared nodata)"
        )
