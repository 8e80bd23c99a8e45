"""A few labelled areas of a scene: polygons with a class field (any vector format OGR reads) or a label raster on
the scene's grid, gathered into areas and cut to their windows.

An **area** is a box of labelled pixels: the boxes of the labels (of each polygon, or of each connected group of
labelled raster pixels) that overlap or touch are merged until no two areas' boxes do, so each labelled pixel
belongs to exactly one area. An area's **window** is its box grown by ``context`` pixels on every side (cut to the
scene): the objects and the prediction see that much around the labels, while only the box's labels are scored.

Polygons are burnt with ``rasterio.features.rasterize`` on the window's grid (the pixels whose centre lies inside;
where polygons overlap, the later one wins), after reprojection to the scene's CRS when theirs differs (a layer
without a CRS is taken to be in the scene's). Class values are class ids or class names of the dataset. In a label
raster, a pixel is unlabelled when its mask says so (its declared nodata, or as ``--labels-nodata`` says; a
declared nodata that is a class is refused) or it holds 255. Unlabelled pixels are
255 in the area's ground truth, and every score leaves them out.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pyogrio
import shapely
from affine import Affine
from pyogrio.errors import DataSourceError
from rasterio.crs import CRS
from rasterio.features import rasterize
from rasterio.warp import transform_geom
from rasterio.windows import Window, from_bounds
from shapely.geometry import mapping, shape

from rscommon.datasets import DatasetSpec
from rscommon.files import InputError

from .raster import (
    DECLARED,
    ClassNodata,
    Grid,
    check_class_nodata,
    check_class_raster,
    check_same_grid,
    class_valid,
    open_raster,
)
from .scene_scan import scan_windows
from .tiling import Span, Tile

UNLABELLED = 255
RASTER_SUFFIXES = (".tif", ".tiff", ".png", ".vrt", ".img", ".jp2")


@dataclass(frozen=True)
class Box:
    """Rows ``[top, bottom)`` and columns ``[left, right)`` of the scene."""

    top: int
    left: int
    bottom: int
    right: int

    def near(self, other: Box) -> bool:
        """Whether the boxes overlap or touch."""
        return (
            self.top <= other.bottom
            and other.top <= self.bottom
            and self.left <= other.right
            and other.left <= self.right
        )

    def union(self, other: Box) -> Box:
        return Box(
            min(self.top, other.top),
            min(self.left, other.left),
            max(self.bottom, other.bottom),
            max(self.right, other.right),
        )


@dataclass(frozen=True)
class Area:
    """One labelled area: its box of labels and the window read around it (as a one-tile :class:`Tile`)."""

    box: Box
    tile: Tile

    @property
    def name(self) -> str:
        window = self.tile.window
        return f"area_r{window.row_off}_c{window.col_off}_{window.height}x{window.width}"

    def scored(self, labels: np.ndarray) -> np.ndarray:
        """``labels`` of the window with every pixel outside the box unlabelled."""
        window = self.tile.window
        kept = np.full(labels.shape, UNLABELLED, np.uint8)
        rows = slice(self.box.top - window.row_off, self.box.bottom - window.row_off)
        cols = slice(self.box.left - window.col_off, self.box.right - window.col_off)
        kept[rows, cols] = labels[rows, cols]
        return kept


def merged(boxes: Sequence[Box]) -> list[Box]:
    """The boxes with every overlapping or touching pair merged, until none is left (row-major order)."""
    pending, done = list(boxes), []
    while pending:
        box = pending.pop()
        joined = True
        while joined:
            joined = False
            for other in [other for other in pending if box.near(other)]:
                pending.remove(other)
                box, joined = box.union(other), True
        done.append(box)
    if any(a.near(b) for i, a in enumerate(done) for b in done[i + 1 :]):  # a union grew onto a finished box
        return merged(done)
    return sorted(done, key=lambda box: (box.top, box.left))


def areas_of(boxes: Sequence[Box], grid: Grid, context: int) -> list[Area]:
    """The areas of the labels' boxes, each window its box grown by ``context`` pixels within the scene."""
    areas = []
    for box in merged(boxes):
        top, left = max(box.top - context, 0), max(box.left - context, 0)
        bottom, right = min(box.bottom + context, grid.height), min(box.right + context, grid.width)
        areas.append(Area(box, Tile(0, 0, Span(top, bottom, top, bottom), Span(left, right, left, right))))
    return areas


class PolygonLabels:
    """Labelled polygons read from a vector file: geometries in the scene's CRS and their class ids."""

    def __init__(self, path: Path, field: str, spec: DatasetSpec, grid: Grid) -> None:
        self.path = path
        try:
            meta, _, geometries, values = pyogrio.raw.read(path, columns=[field] if field else None)
        except DataSourceError as error:
            raise InputError(f"{path}: not a vector file OGR can read ({error})") from None
        if field not in list(meta["fields"]):
            raise InputError(
                f"{path}: has no field {field!r} (its fields: {', '.join(meta['fields']) or 'none'}); "
                "name the class field with --class-field"
            )
        shapes_ = shapely.from_wkb(geometries)
        keep = np.array([geometry is not None and not geometry.is_empty for geometry in shapes_], bool)
        if not keep.any():
            raise InputError(f"{path}: holds no polygon")
        self.classes = class_ids(values[0][keep], spec, path, field)
        crs = CRS.from_user_input(meta["crs"]) if meta["crs"] else None
        if crs is not None and grid.crs is None:
            raise InputError(
                f"{path}: the polygons are in {crs.to_string()} but the scene has no CRS to place them in; give "
                "the scene its CRS (gdal_edit.py -a_srs) or polygons without one, in the scene's coordinates"
            )
        self.geometries = reprojected(shapes_[keep], crs, grid.crs)
        self.grid = grid

    def boxes(self) -> list[Box]:
        """Each polygon's box of pixels; a polygon outside the scene is an error."""
        boxes, outside = [], 0
        for geometry in self.geometries:
            window = from_bounds(*shapely.bounds(geometry), transform=self.grid.transform)
            top, left = max(int(np.floor(window.row_off)), 0), max(int(np.floor(window.col_off)), 0)
            bottom = min(int(np.ceil(window.row_off + window.height)), self.grid.height)
            right = min(int(np.ceil(window.col_off + window.width)), self.grid.width)
            if bottom <= top or right <= left:
                outside += 1
            else:
                boxes.append(Box(top, left, bottom, right))
        if outside:
            raise InputError(
                f"{self.path}: {outside} of {len(self.geometries)} polygons lie outside the scene "
                f"(another CRS or another scene?)"
            )
        return boxes

    def labels(self, window: Window) -> np.ndarray:
        """The polygons burnt into ``window`` (unlabelled pixels 255)."""
        shapes_ = [(mapping(g), int(c)) for g, c in zip(self.geometries, self.classes, strict=True)]
        return rasterize(
            shapes_,
            out_shape=(int(window.height), int(window.width)),
            fill=UNLABELLED,
            transform=window_grid(window, self.grid.transform),
            dtype=np.uint8,
        )


class RasterLabels:
    """Labelled pixels read from a class raster on the scene's grid."""

    def __init__(self, path: Path, spec: DatasetSpec, image, nodata: ClassNodata = DECLARED) -> None:
        self.path, self.spec, self.nodata = path, spec, nodata
        with open_raster(path) as labels:
            check_class_raster(labels)
            check_class_nodata(labels, spec, nodata, "--labels-nodata")
            check_same_grid(image, labels, "the label raster")

    def boxes(self) -> list[Box]:
        """The boxes of the connected groups of labelled pixels, window by window of the scan."""
        boxes = []
        with open_raster(self.path) as dataset:
            for window in scan_windows(dataset.height, dataset.width):
                labelled = self._labelled(dataset, window)
                count, _, stats, _ = cv2.connectedComponentsWithStats(labelled.view(np.uint8), connectivity=8)
                for left, top, wide, tall, _ in stats[1:count]:
                    top, left = int(top) + window.row_off, int(left) + window.col_off
                    boxes.append(Box(top, left, top + int(tall), left + int(wide)))
        return boxes

    def labels(self, window: Window) -> np.ndarray:
        with open_raster(self.path) as dataset:
            labelled = self._labelled(dataset, window)
            return np.where(labelled, dataset.read(1, window=window), UNLABELLED).astype(np.uint8)

    def _labelled(self, dataset, window: Window) -> np.ndarray:
        """Which pixels of ``window`` are labelled; a value outside the classes (and not 255) is an error."""
        values = dataset.read(1, window=window)
        labelled = class_valid(dataset, window, values, self.nodata) & (values != UNLABELLED)
        bad = np.unique(values[labelled & ((values < 0) | (values >= self.spec.num_classes))])
        if bad.size:
            raise InputError(
                f"{self.path}: label values {bad[:10].tolist()} are not {self.spec.name} classes "
                f"(0..{self.spec.num_classes - 1}; 255 or the raster's nodata for unlabelled)"
            )
        return labelled


Labels = PolygonLabels | RasterLabels


def read_labels(path: Path, field: str, spec: DatasetSpec, image, nodata: ClassNodata = DECLARED) -> Labels:
    """The labels in ``path``: a label raster (by its extension) on ``image``'s grid (its nodata as ``nodata``
    says), else polygons."""
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.suffix.lower() in RASTER_SUFFIXES:
        return RasterLabels(path, spec, image, nodata)
    if nodata != DECLARED:
        raise InputError(f"{path}: --labels-nodata goes with a label raster, not polygons")
    return PolygonLabels(path, field, spec, Grid(image.width, image.height, image.crs, image.transform))


def class_ids(values: np.ndarray, spec: DatasetSpec, path: Path, field: str) -> np.ndarray:
    """The class field's values as class ids: whole numbers 0..C-1 or class names (case-insensitive)."""
    names = {name.lower(): index for index, name in enumerate(spec.classes)}
    ids, unknown = [], set()
    for value in values:
        text = str(value).strip()
        number = int(text) if text.lstrip("-").isdecimal() else names.get(text.lower())
        if number is None or not 0 <= number < spec.num_classes:
            unknown.add(text)
        ids.append(number)
    if unknown:
        raise InputError(
            f"{path}: class values {sorted(unknown)[:10]} in field {field!r} are not {spec.name} "
            f"classes (ids 0..{spec.num_classes - 1} or names {', '.join(spec.classes)})"
        )
    return np.array(ids, np.uint8)


def window_grid(window: Window, transform: Affine) -> Affine:
    """The transform of ``window``'s pixels."""
    return transform @ Affine.translation(window.col_off, window.row_off)


def reprojected(geometries: np.ndarray, source: CRS | None, target: CRS | None) -> np.ndarray:
    """``geometries`` in ``target``'s CRS (as they are when either CRS is unknown or both are the same)."""
    if source is None or target is None or source == target:
        return geometries
    moved = transform_geom(source, target, [mapping(g) for g in geometries])
    return np.array([shape(g) for g in moved], dtype=object)


def labelled_areas(labels: Labels, grid: Grid, context: int) -> Iterator[tuple[Area, np.ndarray]]:
    """Each area and its ground truth on its window (labels outside its box unlabelled)."""
    for area in areas_of(labels.boxes(), grid, context):
        yield area, area.scored(labels.labels(area.tile.window))
