"""A class raster as polygons, one per region: polygonised strip by strip in bounded memory, joined across strips.

Each strip's 4-connected regions of one class are labelled (as ``gdal_polygonize`` and
``rasterio.features.shapes`` see regions) and polygonised in pixel coordinates, which are integers, so the
pieces of one region in two strips share their edges exactly. Pieces joined by same-class pixels across a strip
edge are dissolved (union-find, then ``shapely.union_all``), so every region is one polygon and the count equals
``rasterio.features.shapes`` on the whole raster. Only then are coordinates mapped through the raster's transform
(identical vertices stay identical). Nodata pixels are never polygonised.

Then, optionally: regions smaller than a minimum area are left out; the polygons are simplified together as a
coverage (``shapely.coverage_simplify``: shared edges stay shared, no gaps or overlaps appear); they are
reprojected. The layer ``classes`` has the fields ``class`` (index), ``name`` and ``area`` (map units squared),
in the format the file's extension names (:data:`FORMATS`).
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyogrio
import shapely
from affine import Affine
from pyogrio.raw import write as write_features
from rasterio.crs import CRS
from rasterio.features import shapes
from rasterio.warp import transform_geom
from rasterio.windows import Window
from scipy import ndimage
from shapely.geometry import mapping, shape

from rscommon.datasets import DatasetSpec
from rscommon.files import InputError

LAYER = "classes"
# extension -> (OGR driver, dataset creation options); GeoPackage 1.2 is read by every GDAL from 2.2 on.
FORMATS = {
    ".gpkg": ("GPKG", {"VERSION": "1.2"}),
    ".fgb": ("FlatGeobuf", {}),
    ".parquet": ("Parquet", {}),
    ".shp": ("ESRI Shapefile", {}),
}
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


AREA_UNITS = ("px", "m2")


@dataclass(frozen=True)
class VectorSettings:
    """Where and how the polygons are written: ``min_area`` in ``area_unit`` (pixels, or square metres, that is
    square map units of a projected CRS), ``simplify`` in map units, ``dst_crs`` the CRS to reproject to."""

    path: Path
    min_area: float = 0.0
    area_unit: str = "px"
    simplify: float = 0.0
    dst_crs: CRS | None = None

    def min_pixels(self, transform: Affine) -> float:
        """The minimum area in pixels."""
        return self.min_area if self.area_unit == "px" else self.min_area / abs(transform.determinant)


def parse_min_area(text: str) -> tuple[float, str]:
    """``--min-area``: a number with the unit ``px`` (pixels) or ``m2`` (square metres), e.g. ``4px``, ``0.5m2``."""
    for unit in AREA_UNITS:
        if text.lower().endswith(unit):
            try:
                value = float(text[: -len(unit)])
            except ValueError:
                break
            if 0 <= value < math.inf:
                return value, unit
    raise InputError(
        f"--min-area {text}: give a finite number of pixels or square metres with its unit, e.g. 4px or 0.5m2"
    )


def vector_driver(path: Path) -> str:
    """The OGR driver the extension names; refused up front when unknown or not writable by this GDAL."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise InputError(
            f"{path}: the vector output is {', '.join(FORMATS)} (GeoPackage, FlatGeobuf, GeoParquet, Shapefile)"
        )
    driver = FORMATS[suffix][0]
    if driver not in pyogrio.list_drivers(write=True):
        raise InputError(
            f"{path}: this GDAL ({pyogrio.__gdal_version_string__}) cannot write {driver}; choose .gpkg or .fgb"
        )
    if suffix == ".shp":
        print(
            f"warning: {path}: Shapefile truncates field names, limits files to 2 GB and has no CRS "
            f"declaration beyond .prj; prefer .gpkg",
            file=sys.stderr,
        )
    return driver


class RegionPolygons:
    """Regions of a class raster fed strip by strip from the top (full width); each finished region is one
    polygon in pixel coordinates, with its class."""

    def __init__(self, nodata: int) -> None:
        self.nodata = nodata
        self.parent: dict[int, int] = {}
        self.pieces: dict[int, tuple[int, list[shapely.Geometry]]] = {}  # root -> (class, pieces)
        self.last_row: np.ndarray | None = None  # piece ids of the previous strip's last row (-1: none)
        self.next_id = 0

    def _root(self, piece: int) -> int:
        while self.parent[piece] != piece:
            self.parent[piece] = self.parent[self.parent[piece]]
            piece = self.parent[piece]
        return piece

    def add(self, labels: np.ndarray, window: Window) -> list[tuple[shapely.Geometry, int]]:
        """Take a strip (``window`` of the raster); returns the regions finished by it."""
        row0 = int(window.row_off)
        components, count = _regions(labels, self.nodata)
        ids = np.where(components > 0, components - 1 + self.next_id, -1)
        classes = np.zeros(count + 1, np.int64)
        classes[components.ravel()] = labels.ravel()
        for geometry, value in shapes(
            components, mask=components > 0, transform=Affine.translation(int(window.col_off), row0)
        ):
            piece = int(value) - 1 + self.next_id
            self.parent[piece] = piece
            self.pieces[piece] = (int(classes[int(value)]), [shape(geometry)])
        self.next_id += count
        if self.last_row is not None:
            joined = (self.last_row >= 0) & (ids[0] >= 0)
            for above, below in set(zip(self.last_row[joined].tolist(), ids[0][joined].tolist())):
                self._join(above, below)
        self.last_row = ids[-1]
        open_roots = {self._root(piece) for piece in set(ids[-1].tolist()) - {-1}}
        return self._finish(lambda root: root not in open_roots)

    def _join(self, above: int, below: int) -> None:
        a, b = self._root(above), self._root(below)
        if a == b or self.pieces[a][0] != self.pieces[b][0]:
            return
        self.parent[b] = a
        self.pieces[a][1].extend(self.pieces.pop(b)[1])

    def _finish(self, done) -> list[tuple[shapely.Geometry, int]]:
        finished = []
        for root in [root for root in self.pieces if done(root)]:
            cls, pieces = self.pieces.pop(root)
            finished.append((pieces[0] if len(pieces) == 1 else shapely.union_all(pieces), cls))
        self.parent = {piece: parent for piece, parent in self.parent.items() if self._root(piece) in self.pieces}
        return finished

    def close(self) -> list[tuple[shapely.Geometry, int]]:
        """The regions still open (those reaching the raster's last row)."""
        return self._finish(lambda root: True)


def _regions(labels: np.ndarray, nodata: int) -> tuple[np.ndarray, int]:
    """4-connected regions of equal class (int32 ids 1..n, 0 for nodata) and their number."""
    components = np.zeros(labels.shape, np.int32)
    count = 0
    for cls in np.unique(labels):
        if cls == nodata:
            continue
        found, number = ndimage.label(labels == cls)
        components[found > 0] = found[found > 0] + count
        count += number
    return components, count


def write_polygons(
    settings: VectorSettings,
    regions: Iterable[tuple[shapely.Geometry, int]],
    transform: Affine,
    crs: CRS | None,
    spec: DatasetSpec,
) -> int:
    """Write the regions (pixel coordinates) to ``settings.path`` atomically; returns how many were written."""
    smallest = settings.min_pixels(transform)
    kept = [(geometry, cls) for geometry, cls in regions if geometry.area >= smallest]
    matrix = np.array(transform.to_shapely())  # a, b, d, e, xoff, yoff
    geometries = shapely.transform(
        np.array([g for g, _ in kept], dtype=object), lambda xy: xy @ matrix[[0, 2, 1, 3]].reshape(2, 2) + matrix[4:]
    )
    classes = np.array([cls for _, cls in kept], dtype=np.int32)
    if settings.simplify > 0 and len(geometries):
        geometries = shapely.coverage_simplify(geometries, settings.simplify, simplify_boundary=True)
    if settings.dst_crs is not None and len(geometries):
        geometries = np.array(
            [shape(g) for g in transform_geom(crs, settings.dst_crs, [mapping(g) for g in geometries])], dtype=object
        )
    out_crs = settings.dst_crs or crs
    names = np.array([spec.classes[c] for c in classes], dtype=object)
    areas = shapely.area(geometries) if len(geometries) else np.zeros(0)
    driver, options = FORMATS[settings.path.suffix.lower()]
    path = settings.path
    staged = path.with_name(f".{path.stem}.tmp{path.suffix}")
    _remove_dataset(staged)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings():  # a scene without georeferencing gives polygons in pixel coordinates
            warnings.filterwarnings("ignore", message="'crs' was not provided", category=UserWarning)
            write_features(
                staged,
                shapely.to_wkb(geometries) if len(geometries) else np.array([], dtype=object),
                [classes, names, areas],
                ["class", "name", "area"],
                layer=LAYER,
                driver=driver,
                geometry_type="Polygon",
                crs=out_crs.to_wkt() if out_crs is not None else None,
                dataset_options=options or None,
            )
        _remove_dataset(path)
        for part in _dataset_files(staged):
            os.replace(part, path.with_name(path.stem + part.name[len(staged.stem) :]))
    finally:
        _remove_dataset(staged)
    return len(kept)


def _dataset_files(path: Path) -> list[Path]:
    """The files of a vector dataset (a Shapefile is several files with one stem)."""
    suffixes = SHAPEFILE_PARTS if path.suffix.lower() == ".shp" else (path.suffix,)
    return [part for part in (path.with_suffix(suffix) for suffix in suffixes) if part.is_file()]


def _remove_dataset(path: Path) -> None:
    for part in _dataset_files(path):
        part.unlink()
