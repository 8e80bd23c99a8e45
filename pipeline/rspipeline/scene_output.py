"""The refined scene as a GIS expects it: a Cloud-Optimized GeoTIFF of class indices with nodata declared, the
dataset's palette, internal overviews (mode resampling, so they hold classes), and the class names as GDAL
category names and a raster attribute table (value, name, red, green, blue, alpha), and beside it the QGIS style
``OUT.qml`` (a paletted legend of the dataset's classes only, nodata transparent: :mod:`rspipeline.qgis_styles`).

The strips are written once each, block-aligned, into a temporary tiled GeoTIFF, which GDAL's COG driver then
copies with its overviews into a fresh file (no dead space from rewritten blocks). GeoTIFF keeps categories and
attribute tables in GDAL's sidecar ``OUT.tif.aux.xml`` (as ``gdal_edit`` or QGIS would write them), which QGIS,
ArcGIS and every GDAL reader pick up. So that a copy of the .tif alone keeps them, the file itself holds the
colour table (the classes' colours), the class names as band tags
``class_<index>``, and the run's provenance as dataset tags (:func:`provenance_tags`), all in the TIFF's own
GDAL_METADATA tag.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import DatasetWriter
from rasterio.windows import Window

from rscommon.datasets import DatasetSpec
from rscommon.files import write_text_atomic
from rscommon.provenance import digest
from sessrs import Thresholds
from sessrs.modes import FAITHFUL

from .qgis_styles import is_own_raster_style, raster_qml

NODATA = 255
OUTPUT_BLOCK = 256
COG_OPTIONS = {
    "COMPRESS": "DEFLATE",
    "BLOCKSIZE": str(OUTPUT_BLOCK),
    "OVERVIEWS": "AUTO",
    "RESAMPLING": "MODE",
    "BIGTIFF": "IF_SAFER",
}
# GDAL raster attribute table field types and usages (gdal.h: GDALRATFieldType, GDALRATFieldUsage).
_INTEGER, _STRING = 0, 2
_MIN_MAX, _NAME, _RED, _GREEN, _BLUE, _ALPHA = 5, 2, 6, 7, 8, 9


def class_raster_profile(grid, nodata: int = NODATA) -> dict:
    """A tiled single-band uint8 GeoTIFF on ``grid`` declaring ``nodata`` (without georeferencing if ``grid`` has
    none)."""
    profile = {
        "driver": "GTiff",
        "width": grid.width,
        "height": grid.height,
        "count": 1,
        "dtype": "uint8",
        "nodata": nodata,
        "compress": "deflate",
        "BIGTIFF": "IF_SAFER",
        "photometric": "palette",
        "tiled": True,
        "blockxsize": OUTPUT_BLOCK,
        "blockysize": OUTPUT_BLOCK,
    }
    if grid.georeferenced:
        profile.update(crs=grid.crs, transform=grid.transform)
    return profile


def create_class_raster(path: Path, grid, spec: DatasetSpec) -> DatasetWriter:
    """A new class raster on ``grid`` with ``spec``'s palette and class names as band tags."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # a grid without georeferencing stays without
        dataset = rasterio.open(path, "w", **class_raster_profile(grid))
    colours = {index: (*colour, 255) for index, colour in enumerate(spec.palette)}
    dataset.write_colormap(1, {**colours, NODATA: (0, 0, 0, 0)})
    dataset.update_tags(1, **{f"class_{index}": name for index, name in enumerate(spec.classes)})
    return dataset


def write_class_cog(
    out: Path, grid, spec: DatasetSpec, windows: Iterable[tuple[Window, np.ndarray]], tags: Mapping[str, str]
) -> None:
    """Write the class strips into the COG ``out`` with its categories, attribute table and dataset ``tags``, and
    its QGIS style ``OUT.qml`` (unless a style of the user's is there), each atomically."""
    temporary, staged = out.with_name(f".{out.name}.strips.tif"), out.with_name(f".{out.name}.tmp")
    try:
        with create_class_raster(temporary, grid, spec) as raster:
            raster.update_tags(**tags)
            for window, labels in windows:
                raster.write(labels, 1, window=window)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            rasterio.shutil.copy(temporary, staged, driver="COG", **COG_OPTIONS)
        write_text_atomic(out.with_name(out.name + ".aux.xml"), aux_xml(spec))
        if is_own_raster_style(out.with_suffix(".qml")):
            write_text_atomic(out.with_suffix(".qml"), raster_qml(spec))
        os.replace(staged, out)
    finally:
        temporary.unlink(missing_ok=True)
        staged.unlink(missing_ok=True)


def provenance_tags(thresholds: Thresholds, record: Mapping, inputs: Mapping[str, Path | None]) -> dict[str, str]:
    """What the output was made from, as GeoTIFF dataset tags: the project version, the thresholds (JSON, their
    digest, the preset they are), the refinement mode, the object source and model (null when nothing was
    refined), and each input file of ``inputs`` (thresholds, prediction, config, checkpoint) by name with its
    SHA-256 from the run's fingerprint ``record`` (:func:`rscommon.provenance.fingerprint`)."""
    settings, identities = record["settings"], record["inputs"]
    objects, version = settings.get("objects"), _project_version()
    tags = {
        "TIFFTAG_SOFTWARE": f"sessrs {version} (pipeline/sessrs_scene.py)",
        "SESSRS_VERSION": version,
        "SESSRS_THRESHOLDS": json.dumps(thresholds.to_json(), sort_keys=True),
        "SESSRS_THRESHOLDS_DIGEST": digest(thresholds.to_json()),
        "SESSRS_MODE": FAITHFUL.mode,
        "SESSRS_OBJECTS": json.dumps(objects["settings"] if objects else None, sort_keys=True),
        "SESSRS_DATASET": settings["dataset"],
    }
    if settings.get("preset"):
        tags["SESSRS_THRESHOLDS_PRESET"] = settings["preset"]
    for name, path in inputs.items():
        if path is not None and identities.get(name):
            tags[f"SESSRS_{name.upper()}_FILE"] = f"{Path(path).name} sha256:{identities[name]['sha256']}"
    return tags


def _project_version() -> str:
    """The installed project's version (``unknown`` when run from a tree that was never installed)."""
    try:
        return importlib.metadata.version("sessrs")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def aux_xml(spec: DatasetSpec) -> str:
    """GDAL's PAM sidecar for band 1: the class names as categories and a thematic attribute table."""
    fields = [
        ("Value", _INTEGER, _MIN_MAX),
        ("Class", _STRING, _NAME),
        ("Red", _INTEGER, _RED),
        ("Green", _INTEGER, _GREEN),
        ("Blue", _INTEGER, _BLUE),
        ("Alpha", _INTEGER, _ALPHA),
    ]
    definitions = "".join(
        f'      <FieldDefn index="{i}"><Name>{name}</Name><Type>{kind}</Type><Usage>{usage}</Usage></FieldDefn>\n'
        for i, (name, kind, usage) in enumerate(fields)
    )
    rows = "".join(
        f'      <Row index="{index}"><F>{index}</F><F>{escape(name)}</F>'
        + "".join(f"<F>{value}</F>" for value in (*colour, 255))
        + "</Row>\n"
        for index, (name, colour) in enumerate(zip(spec.classes, spec.palette))
    )
    categories = "".join(f"      <Category>{escape(name)}</Category>\n" for name in spec.classes)
    return (
        '<PAMDataset>\n  <PAMRasterBand band="1">\n    <CategoryNames>\n'
        + categories
        + '    </CategoryNames>\n    <GDALRasterAttributeTable tableType="thematic">\n'
        + definitions
        + rows
        + "    </GDALRasterAttributeTable>\n  </PAMRasterBand>\n</PAMDataset>\n"
    )
