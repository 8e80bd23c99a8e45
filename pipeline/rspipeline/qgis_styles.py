"""QGIS styles of the scene outputs: the class raster's ``.qml`` (a paletted legend of the dataset's classes only,
nodata transparent) and the polygons' default style stored in a GeoPackage's ``layer_styles`` table (categorized
by ``class``: the class colours, the class names as legend labels), as QGIS itself saves and loads them.

QGIS loads ``NAME.qml`` beside ``NAME.tif`` as the raster's default style, and the ``layer_styles`` row of a
GeoPackage layer with ``useAsDefault`` as that layer's.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pyogrio
from pyogrio.raw import write as write_features

from rscommon.datasets import DatasetSpec

STYLE_NAME = "sessrs classes"
STYLES_TABLE = "layer_styles"
_QGIS_VERSION = "3.22.0"  # the oldest QGIS these documents were checked with
# layer_styles as QGIS creates it (QgsOgrProviderMetadata::saveStyle): column -> empty column of its type
_STYLE_COLUMNS = {
    "f_table_catalog": np.array([], dtype=object),
    "f_table_schema": np.array([], dtype=object),
    "f_table_name": np.array([], dtype=object),
    "f_geometry_column": np.array([], dtype=object),
    "styleName": np.array([], dtype=object),
    "styleQML": np.array([], dtype=object),
    "styleSLD": np.array([], dtype=object),
    "useAsDefault": np.array([], dtype=bool),
    "description": np.array([], dtype=object),
    "owner": np.array([], dtype=object),
    "ui": np.array([], dtype=object),
    "update_time": np.array([], dtype="datetime64[ms]"),
}


def is_own_raster_style(path: Path) -> bool:
    """Whether the scene command may write ``path``: no file there yet, or one it wrote (a user's style is kept)."""
    if not path.exists():
        return True
    return RASTER_STYLE_MARK in path.read_text(encoding="utf-8", errors="replace")


def _document(root: ElementTree.Element) -> str:
    ElementTree.indent(root)
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ElementTree.tostring(root, "unicode") + "\n"


def _hex(colour: tuple[int, int, int]) -> str:
    return "#" + "".join(f"{channel:02x}" for channel in colour)


RASTER_STYLE_MARK = "written by pipeline/sessrs_scene.py"
"""The comment that marks a ``.qml`` as the scene command's own: any other style beside the raster is a user's."""


def raster_qml(spec: DatasetSpec) -> str:
    """A paletted renderer of band 1 with one entry per class of ``spec`` (its colour, its name); the nodata
    value is left out of the palette and drawn transparent. It carries :data:`RASTER_STYLE_MARK`."""
    root = ElementTree.Element("qgis", version=_QGIS_VERSION, styleCategories="AllStyleCategories")
    root.append(ElementTree.Comment(f" {RASTER_STYLE_MARK}; replace this file to keep a style of your own "))
    pipe = ElementTree.SubElement(root, "pipe")
    renderer = ElementTree.SubElement(
        pipe, "rasterrenderer", type="paletted", band="1", opacity="1", alphaBand="-1", nodataColor=""
    )
    palette = ElementTree.SubElement(renderer, "colorPalette")
    for index, (name, colour) in enumerate(zip(spec.classes, spec.palette)):
        ElementTree.SubElement(palette, "paletteEntry", value=str(index), color=_hex(colour), alpha="255", label=name)
    return _document(root)


def _option(parent: ElementTree.Element, name: str, value: str) -> None:
    ElementTree.SubElement(parent, "Option", type="QString", name=name, value=value)


def vector_qml(spec: DatasetSpec, field: str = "class") -> str:
    """A categorized renderer on ``field``: one category per class of ``spec``, filled with its colour and
    labelled with its name in the legend."""
    root = ElementTree.Element("qgis", version=_QGIS_VERSION, styleCategories="Symbology")
    renderer = ElementTree.SubElement(
        root, "renderer-v2", type="categorizedSymbol", attr=field, symbollevels="0", enableorderby="0", forceraster="0"
    )
    categories = ElementTree.SubElement(renderer, "categories")
    symbols = ElementTree.SubElement(renderer, "symbols")
    for index, (name, colour) in enumerate(zip(spec.classes, spec.palette)):
        ElementTree.SubElement(categories, "category", symbol=str(index), value=str(index), label=name, render="true")
        symbol = ElementTree.SubElement(
            symbols, "symbol", type="fill", name=str(index), alpha="1", clip_to_extent="1", force_rhr="0"
        )
        layer = ElementTree.SubElement(symbol, "layer", {"class": "SimpleFill", "enabled": "1", "locked": "0"})
        options = ElementTree.SubElement(layer, "Option", type="Map")
        for key, value in {
            "color": ",".join(map(str, (*colour, 255))),
            "style": "solid",
            "outline_color": "35,35,35,255",
            "outline_style": "solid",
            "outline_width": "0.1",
            "outline_width_unit": "MM",
        }.items():
            _option(options, key, value)
    return _document(root)


def store_default_style(gpkg: Path, layer: str, qml: str, description: str) -> None:
    """Store ``qml`` as the default style of ``layer`` in the GeoPackage ``gpkg``: the table ``layer_styles`` is
    created as QGIS creates it when missing; other layers' styles, and the layer's other styles, are kept (they
    stop being its default)."""
    if STYLES_TABLE not in pyogrio.list_layers(gpkg)[:, 0]:
        write_features(
            gpkg,
            None,
            list(_STYLE_COLUMNS.values()),
            list(_STYLE_COLUMNS),
            layer=STYLES_TABLE,
            driver="GPKG",
            geometry_type=None,
            layer_options={"FID": "id"},
        )
    geometry_column = pyogrio.read_info(gpkg, layer=layer)["geometry_name"] or "geom"
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")  # as GeoPackage
    with closing(sqlite3.connect(gpkg)) as database, database:
        database.execute(f"DELETE FROM {STYLES_TABLE} WHERE f_table_name = ? AND styleName = ?", (layer, STYLE_NAME))
        database.execute(f"UPDATE {STYLES_TABLE} SET useAsDefault = 0 WHERE f_table_name = ?", (layer,))
        database.execute(
            f"INSERT INTO {STYLES_TABLE} (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
            "styleName, styleQML, styleSLD, useAsDefault, description, owner, update_time) "
            "VALUES ('', '', ?, ?, ?, ?, '', 1, ?, '', ?)",
            (layer, geometry_column, STYLE_NAME, qml, description, now),
        )
