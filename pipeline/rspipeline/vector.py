"""Class rasters as polygons in one GeoPackage layer, written window by window in bounded memory.

Each window's pixels of one class that touch (4-connectivity) become one polygon (``rasterio.features.shapes``),
with the attributes ``class`` (the index) and ``name`` (the dataset's class name). Windows are polygonised
separately, so a region crossing a window edge (a tile core's edge) is cut there into several polygons of the
same class; dissolving by ``class`` in a GIS joins them. Features are buffered up to :data:`BATCH_FEATURES` and
appended with pyogrio; the file is written under a temporary name and renamed into place by :meth:`close`.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import shapely
from affine import Affine
from pyogrio.raw import write as write_features
from rasterio.crs import CRS
from rasterio.features import shapes
from shapely.geometry import shape

from rscommon.datasets import DatasetSpec

LAYER = "classes"
BATCH_FEATURES = 20_000


class PolygonWriter:
    """Appends the polygons of class windows to the layer :data:`LAYER` of a new GeoPackage."""

    def __init__(self, path: str | Path, crs: CRS | None, spec: DatasetSpec) -> None:
        self.path = Path(path)
        self.temporary = self.path.with_name(f".{self.path.stem}.tmp.gpkg")
        self.crs = crs.to_wkt() if crs is not None else None
        self.spec = spec
        self.geometries: list[bytes] = []
        self.classes: list[int] = []
        self.written = 0
        self.temporary.unlink(missing_ok=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def add(self, labels: np.ndarray, transform: Affine) -> None:
        """The polygons of a window of class indices whose upper-left pixel corner ``transform`` places."""
        for geometry, value in shapes(labels, transform=transform):
            self.geometries.append(shapely.to_wkb(shape(geometry)))
            self.classes.append(int(value))
        if len(self.geometries) >= BATCH_FEATURES:
            self._flush()

    def _flush(self) -> None:
        if not self.geometries:
            return
        classes = np.array(self.classes, dtype=np.int32)
        names = np.array([self.spec.classes[c] if c < self.spec.num_classes else "" for c in self.classes],
                         dtype=object)
        with warnings.catch_warnings():  # a scene without georeferencing gives polygons in pixel coordinates
            warnings.filterwarnings("ignore", message="'crs' was not provided", category=UserWarning)
            write_features(self.temporary, np.array(self.geometries, dtype=object), [classes, names],
                           ["class", "name"], layer=LAYER, driver="GPKG", geometry_type="Polygon", crs=self.crs,
                           append=self.written > 0)
        self.written += len(self.geometries)
        self.geometries, self.classes = [], []

    def close(self) -> None:
        """Write what is buffered and move the file into place."""
        self._flush()
        os.replace(self.temporary, self.path)

    def discard(self) -> None:
        """Remove the unfinished file."""
        self.temporary.unlink(missing_ok=True)
