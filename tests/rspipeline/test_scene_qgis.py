"""QGIS-ready scene outputs: loaded by QGIS's own Python (Debian's python3-qgis, headless), the class raster is
paletted with exactly the dataset's classes and its nodata is transparent, the GeoPackage layer is categorized by
class with the class colours and names, its geometries valid; a copy of the .tif alone keeps the class names,
colours and the run's provenance."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import rasterio
from scene_files import BEST, scene_args, write_raster

from rscommon.cli import run_main
from rscommon.datasets import POTSDAM
from rscommon.provenance import digest, file_identity
from rspipeline.scene_cli import main

QGIS_PYTHON = "/usr/bin/python3"
PROBE = Path(__file__).resolve().parents[1] / "qgis_probe.py"
STEP = 4  # as qgis_probe.STEP
BORDER = 260  # columns of nodata on the left


def qgis_python_absent() -> str | None:
    """Why QGIS's Python cannot be used here (None when it can)."""
    if not os.access(QGIS_PYTHON, os.X_OK):
        return f"{QGIS_PYTHON} is absent"
    found = subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True, text=True)
    return None if found.returncode == 0 else f"QGIS's Python is absent ({QGIS_PYTHON} cannot import qgis.core)"


@pytest.fixture(scope="module")
def outputs(scene, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The scene with a nodata border on the left, refined into out.tif and out.gpkg (small regions merged)."""
    folder = tmp_path_factory.mktemp("qgis")
    rgb = scene["rgb"].transpose(2, 0, 1).copy()
    rgb[:, :, :BORDER] = 0
    rgb[:, :, BORDER:][rgb[:, :, BORDER:] == 0] = 1
    image = write_raster(folder / "bordered.tif", rgb, nodata=0)
    out, vector = folder / "out.tif", folder / "out.gpkg"
    args = scene_args(scene, out, "best.json", "--vector", str(vector), "--min-area", "0.05m2", image=image)
    assert run_main(main, args) == 0
    return {"out": out, "vector": vector, "folder": folder}


def test_qgis_shows_the_classes_palette_with_nodata_transparent_and_the_categorized_polygons(outputs) -> None:
    absent = qgis_python_absent()
    if absent:
        pytest.skip(absent)
    probe = subprocess.run(
        [QGIS_PYTHON, str(PROBE), str(outputs["out"]), str(outputs["vector"]), "classes"],
        capture_output=True,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    facts = json.loads(probe.stdout)
    raster, vector = facts["raster"], facts["vector"]
    colours = ["#" + "".join(f"{c:02x}" for c in colour) for colour in POTSDAM.palette]
    assert raster["valid"] and raster["renderer"] == "paletted" and raster["crs"] == "EPSG:32633"
    assert raster["palette"] == [[i, name, colours[i], 255] for i, name in enumerate(POTSDAM.classes)]
    assert raster["legend"] == list(POTSDAM.classes)  # not 256 entries
    assert raster["nodata"] == 255 and raster["nodata_used"]
    alpha = np.array(raster["rendered_alpha"])
    assert (alpha[:, : BORDER // STEP] == 0).all()  # the nodata border is transparent
    assert (alpha[:, BORDER // STEP + 1 :] == 255).all()  # every class is opaque
    assert vector["valid"] and vector["renderer"] == "categorizedSymbol" and vector["attribute"] == "class"
    assert vector["categories"] == [[str(i), name, colours[i]] for i, name in enumerate(POTSDAM.classes)]
    assert vector["features"] == pyogrio.read_info(outputs["vector"], layer="classes")["features"]
    assert vector["invalid_geometries"] == 0 and vector["fields"] == ["fid", "class", "name", "area_m2"]


def test_a_copy_of_the_tif_alone_keeps_class_names_colours_and_provenance(scene, outputs, tmp_path: Path) -> None:
    copy = tmp_path / "copy.tif"
    shutil.copyfile(outputs["out"], copy)
    with rasterio.open(copy) as dataset:
        assert dataset.files == [str(copy)]  # no sidecar
        band, tags, colormap = dataset.tags(1), dataset.tags(), dataset.colormap(1)
    assert [band[f"class_{i}"] for i in range(POTSDAM.num_classes)] == list(POTSDAM.classes)
    assert [colormap[i][:3] for i in range(POTSDAM.num_classes)] == list(POTSDAM.palette)
    assert json.loads(tags["SESSRS_THRESHOLDS"]) == BEST
    assert tags["SESSRS_THRESHOLDS_DIGEST"] == digest(BEST)
    assert tags["SESSRS_MODE"] == "faithful" and json.loads(tags["SESSRS_OBJECTS"])["source"] == "regions"
    assert tags["SESSRS_PRED_FILE"] == f"pred.tif sha256:{file_identity(scene['pred_tif'])['sha256']}"
    assert tags["SESSRS_THRESHOLDS_FILE"].startswith("best.json sha256:")
    assert tags["SESSRS_VERSION"] and tags["TIFFTAG_SOFTWARE"].startswith("sessrs ")


def test_the_qml_beside_the_raster_lists_only_the_datasets_classes(outputs) -> None:
    qml = (outputs["folder"] / "out.qml").read_text()
    assert 'type="paletted"' in qml and qml.count("<paletteEntry") == POTSDAM.num_classes
    assert 'label="Clutter"' in qml and 'value="255"' not in qml
