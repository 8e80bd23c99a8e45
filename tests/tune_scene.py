"""A generated Urban scene for tuning (pipeline/sessrs_tune.py): the image, its prediction and polygons of its
ground truth inside labelled rectangles, and the command line that tunes on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyogrio
import shapely
from rasterio.features import shapes
from rasterio.windows import Window
from scene_files import CRS, TRANSFORM, write_raster
from shapely.geometry import shape

from rscommon.datasets import URBAN
from rspipeline.tune_cli import tune_argv
from rspipeline.tune_labels import window_grid
from sessrs.synthetic import URBAN_LIKE, make_image

SIZE, CONTEXT = 320, 24
RECTANGLES = [(16, 20, 120, 150), (200, 170, 300, 300)]  # top, left, bottom, right: two labelled areas


def make_tune_scene(folder: Path, size: int = SIZE, rectangles: list = RECTANGLES) -> dict:
    """A generated Urban scene as image.tif (its ground truth in palette colours, with noise) and pred.tif, and
    polygons of its ground truth inside ``rectangles`` (class ids in the first, class names in the others)."""
    gt, pred, _ = make_image(np.random.default_rng(3), size, URBAN_LIKE)
    noise = np.random.default_rng(4).integers(-12, 13, (size, size, 3))
    rgb = np.clip(np.array(URBAN.palette)[gt] * 0.8 + 20 + noise, 0, 255).astype(np.uint8)
    image = write_raster(folder / "image.tif", rgb.transpose(2, 0, 1))
    pred_tif = write_raster(folder / "pred.tif", pred[None])
    geometries, values = [], []
    for number, (top, left, bottom, right) in enumerate(rectangles):
        window = Window(left, top, right - left, bottom - top)
        for geometry, value in shapes(gt[top:bottom, left:right], transform=window_grid(window, TRANSFORM)):
            geometries.append(shape(geometry))
            values.append(str(int(value)) if number == 0 else URBAN.classes[int(value)].upper())
    labels = write_polygons(folder / "labels.gpkg", geometries, values)
    return {
        "folder": folder,
        "gt": gt,
        "pred": pred,
        "rgb": rgb,
        "image": image,
        "pred_tif": pred_tif,
        "labels": labels,
        "geometries": geometries,
        "values": values,
    }


def write_polygons(
    path: Path, geometries: list, values: list[str], field: str = "class", crs: str | None = CRS
) -> Path:
    """Polygons with a class field written as a GeoPackage."""
    pyogrio.raw.write(
        path,
        shapely.to_wkb(np.array(geometries, dtype=object)),
        [np.array(values, dtype=object)],
        [field],
        driver="GPKG",
        geometry_type="Polygon",
        crs=crs,
    )
    return path


def tune_args(scene: dict, out: Path, *extra: str, labels: Path | None = None, context: int = CONTEXT) -> list[str]:
    """The tuning command's arguments for ``scene`` (regions as objects) into ``out``."""
    return [
        *tune_argv(
            image=scene["image"],
            pred=scene["pred_tif"],
            labels=labels or scene["labels"],
            objects="regions",
            dataset="Urban",
            out=out,
            context=context,
        ),
        *extra,
    ]
