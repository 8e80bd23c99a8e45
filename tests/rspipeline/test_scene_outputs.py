"""The scene command's outputs as a GIS meets them: nodata kept (image border, declared prediction nodata, alpha,
--nodata), tiles without data skipped, no seams at the core cuts, a COG with categories, attribute table and
overviews, one polygon per region (as rasterio.features.shapes on the whole raster), --min-area, --simplify,
--dst-crs and the vector formats."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pyogrio
import pytest
import rasterio
from rasterio.features import shapes
from scene_files import (
    BEST,
    POTSDAM_TILE,
    TRANSFORM,
    coarse_prediction,
    read_band,
    scene_args,
    with_options,
    write_raster,
)
from shapely.geometry import shape

from rscommon.cli import run_main
from rscommon.datasets import POTSDAM
from rscommon.labels import read_label_png
from rspipeline.scene_cli import main
from rspipeline.scene_seams import cut_at_cores, seam_ratio
from rspipeline.scene_stitch import NONE, holder, tile_claims
from rspipeline.tiling import Tile, axis_spans, tile_grid
from rspipeline.vector import RegionPolygons
from sam_objects import build_object_source
from sessrs import Thresholds, refine

NODATA = 255


@pytest.fixture(scope="module")
def bordered(scene) -> dict:
    """The scene with a nodata border (value 0 in every band, declared) covering two whole tiles' worth on the
    left (a whole column of tiles), refined with polygons."""
    folder = scene["folder"]
    rgb = scene["rgb"].transpose(2, 0, 1).copy()
    rgb[:, :, :260] = 0
    rgb[:, :, 260:][rgb[:, :, 260:] == 0] = 1  # a black pixel with data is not nodata
    image = folder / "bordered.tif"
    write_raster(image, rgb, nodata=0)
    out = folder / "bordered" / "out.tif"
    vector = out.with_suffix(".gpkg")
    args = scene_args(scene, out, "best.json", "--vector", str(vector), image=image)
    assert run_main(main, args) == 0
    return {"image": image, "out": out, "vector": vector, "args": args}


def test_the_image_nodata_border_stays_nodata_and_gets_no_polygons(scene, bordered, capsys) -> None:
    output = read_band(bordered["out"])
    assert (output[:, :260] == NODATA).all() and (output[:, 260:] != NODATA).all()
    with rasterio.open(bordered["out"]) as dataset:
        assert dataset.nodata == NODATA
    bounds = pyogrio.read_info(bordered["vector"], layer="classes")["total_bounds"]
    assert bounds[0] == pytest.approx(TRANSFORM.c + 260 * TRANSFORM.a)  # nothing west of the border


def test_tiles_wholly_without_data_are_skipped(scene, bordered, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out.tif"
    assert run_main(main, with_options(bordered["args"], {"--out": [str(out)], "--vector": [str(out) + ".gpkg"]})) == 0
    assert "3 without data skipped" in capsys.readouterr().out  # the left column of tiles (0..256) is all nodata
    assert np.array_equal(read_band(out), read_band(bordered["out"]))


def test_a_declared_prediction_nodata_is_kept_and_never_refined(scene, tmp_path: Path) -> None:
    pred = scene["pred"].copy()
    pred[100:180, 300:400] = NODATA
    path = tmp_path / "pred255.tif"
    write_raster(path, pred[None], nodata=NODATA)
    out = tmp_path / "out.tif"
    assert run_main(main, scene_args(scene, out, "best.json", pred=path)) == 0
    output = read_band(out)
    assert (output[100:180, 300:400] == NODATA).all() and (output != NODATA).sum() == 512 * 512 - 80 * 100


def test_an_alpha_band_and_an_explicit_nodata_are_honoured(scene, tmp_path: Path) -> None:
    rgba = np.concatenate([scene["rgb"].transpose(2, 0, 1), np.full((1, 512, 512), 255, np.uint8)])
    rgba[3, 400:] = 0
    alpha = tmp_path / "alpha.tif"
    write_raster(alpha, rgba, photometric="RGB", alpha="YES")
    assert run_main(main, scene_args(scene, tmp_path / "a.tif", "best.json", image=alpha)) == 0
    output = read_band(tmp_path / "a.tif")
    assert (output[400:] == NODATA).all() and (output[:400] != NODATA).all()
    rgb = scene["rgb"].transpose(2, 0, 1).copy()
    rgb[:, :50, :50] = 7
    image = write_raster(tmp_path / "sevens.tif", rgb)
    assert run_main(main, scene_args(scene, tmp_path / "b.tif", "best.json", "--nodata", "7", image=image)) == 0
    output = read_band(tmp_path / "b.tif")
    assert (output[:50, :50] == NODATA).all() and (output[50:] != NODATA).all()


def test_a_sixteen_bit_scene_with_nodata_is_stretched_without_it(scene, tmp_path: Path) -> None:
    rgb16 = scene["rgb"].astype(np.uint16).transpose(2, 0, 1) * 100 + 1
    reference = write_raster(tmp_path / "plain16.tif", rgb16)
    rgb16[:, :, :100] = 65535  # a border that would stretch everything to black if counted
    bordered = tmp_path / "border16.tif"
    write_raster(bordered, rgb16, nodata=65535)
    assert run_main(main, scene_args(scene, tmp_path / "plain.tif", image=reference)) == 0
    assert run_main(main, scene_args(scene, tmp_path / "border.tif", image=bordered)) == 0
    plain, border = read_band(tmp_path / "plain.tif"), read_band(tmp_path / "border.tif")
    assert (border[:, :100] == NODATA).all()
    assert (border[:, 100:] == plain[:, 100:]).mean() > 0.9  # the same stretch on the pixels with data


def test_joining_along_changes_leaves_no_seams_where_cutting_cores_does(scene, tmp_path: Path) -> None:
    """A 1024 x 1024 mosaic of the tile (flipped copies) with its true labels as the prediction, in 25 tiles of
    256 with overlap 64: each tile's own refinement cut at the cores shows its cut lines, the output does not."""

    def mosaic(array: np.ndarray) -> np.ndarray:
        whole = np.concatenate([np.concatenate([array, array[:, ::-1]], 1)] * 2, 0)
        whole[512:] = whole[512:][::-1]
        return np.ascontiguousarray(whole)

    rgb = mosaic(scene["rgb"])
    pred = mosaic(coarse_prediction(read_label_png(f"{POTSDAM_TILE}label_mmseg.png"), 1))
    image = write_raster(tmp_path / "mosaic.tif", np.ascontiguousarray(rgb.transpose(2, 0, 1)))
    prediction = write_raster(tmp_path / "mosaic_pred.tif", pred[None])
    out = tmp_path / "out.tif"
    args = with_options(scene_args(scene, out, "best.json", image=image, pred=prediction), {"--overlap": ["64"]})
    assert run_main(main, args) == 0
    tiles = tile_grid(1024, 1024, 256, 64)

    def alone(tile: Tile) -> np.ndarray:
        rows, cols = tile.window.toslices()
        objects = build_object_source("regions")(rgb[rows, cols])
        return refine(pred[rows, cols], objects, Thresholds.from_json(BEST), max_objects=5, num_classes=6)

    cut = cut_at_cores(tiles, alone, pred.shape)
    output = read_band(out)
    assert seam_ratio(pred, tiles) < 1.5
    assert seam_ratio(cut, tiles) > 2.5
    assert seam_ratio(output, tiles) < 1.5
    assert (output != pred).mean() > 0.02  # still refined


def test_a_change_is_kept_by_the_one_tile_that_holds_it_whole() -> None:
    spans = axis_spans(300, 200, 100)  # two tiles a side, cores cut at 150
    tiles = {(t.row, t.col): t for t in tile_grid(300, 300, 200, 100)}
    refined = np.zeros((200, 300), np.uint8)  # the refinement of the top row of the scene, as both tiles see it
    refined[10:20, 140:165] = 3  # centre at column 152: the right-hand tile's, which holds it whole
    refined[30:40, 130:155] = 4  # centre at column 142: the left-hand tile's, kept whole across the cut at 150
    refined[50:60, 90:250] = 2  # cut by each tile's window (it reaches both inner borders): nobody's
    refined[70:80, 90:110] = 1  # outside the right-hand window, in the left-hand core
    pred, valid = np.zeros((200, 200), np.uint8), np.ones((200, 200), bool)
    left = tile_claims(refined[:, :200], pred, valid, tiles[(0, 0)], spans, spans)
    right = tile_claims(refined[:, 100:], pred, valid, tiles[(0, 1)], spans, spans)
    assert (left[10:20, 140:165] == NONE).all() and (right[10:20, 40:65] == 3).all()
    assert (left[30:40, 130:155] == 4).all() and (right[30:40, 30:55] == NONE).all()
    assert (left[50:60] == NONE).all() and (right[50:60] == NONE).all()
    assert (left[70:80, 90:110] == 1).all()
    assert (left != NONE).sum() == 10 * 25 + 10 * 20 and (right != NONE).sum() == 10 * 25


@pytest.mark.parametrize("size, tile, overlap", [(1000, 256, 64), (700, 300, 120), (5000, 1024, 128)])
def test_every_extent_a_window_holds_has_one_holder_that_holds_it(size: int, tile: int, overlap: int) -> None:
    spans = axis_spans(size, tile, overlap)
    rng = np.random.default_rng(size)
    for start in rng.integers(0, size - 1, 300):
        stop = int(start + rng.integers(1, min(tile, size - start) + 1))
        index = holder(int(start), stop, spans, size)
        holding = [
            i for i, s in enumerate(spans) if (s.start == 0 or start > s.start) and (s.stop == size or stop < s.stop)
        ]
        assert (index is None) == (not holding)
        if index is not None:
            assert index in holding
            centre = (start + stop - 1) / 2
            if any(spans[i].core_start <= centre < spans[i].core_stop for i in holding):
                assert spans[index].core_start <= centre < spans[index].core_stop


@pytest.mark.parametrize("rows", [1, 7, 64, 512])
def test_regions_joined_across_strips_are_the_whole_rasters_regions(rows: int) -> None:
    rng = np.random.default_rng(rows)
    labels = rng.integers(0, 3, (24, 24)).repeat(4, 0).repeat(4, 1).astype(np.uint8)  # blocky classes
    labels[rng.random(labels.shape) < 0.05] = NODATA
    labels[40:60, 10:90] = 1  # a region spanning many strips, with a U-shape
    labels[45:60, 30:60] = 2
    polygons = RegionPolygons(NODATA)
    found = []
    for row in range(0, 96, rows):
        window = rasterio.windows.Window(0, row, 96, min(rows, 96 - row))
        found += polygons.add(labels[row : row + window.height], window)
    found += polygons.close()
    whole = list(shapes(labels, mask=labels != NODATA))
    assert len(found) == len(whole)
    assert sorted(round(g.area) for g, _ in found) == sorted(round(shape(g).area) for g, _ in whole)
    assert all(g.geom_type == "Polygon" and g.is_valid for g, _ in found)


def test_the_output_is_a_cog_with_categories_attribute_table_and_overviews(scene, bordered) -> None:
    with rasterio.open(bordered["out"]) as dataset:
        assert dataset.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert dataset.overviews(1) == [2]
        assert dataset.nodata == NODATA and dataset.colormap(1)[NODATA][3] == 0
        assert dataset.files[-1].endswith(".aux.xml")  # GDAL reads the sidecar with the file
    band = ElementTree.parse(str(bordered["out"]) + ".aux.xml").find("PAMRasterBand")
    assert [c.text for c in band.find("CategoryNames")] == list(POTSDAM.classes)
    rows = band.find("GDALRasterAttributeTable").findall("Row")
    assert [[f.text for f in row] for row in rows][1] == ["1", "Building", "0", "0", "255", "255"]


def test_the_polygons_are_the_regions_of_the_whole_raster(scene, bordered) -> None:
    output = read_band(bordered["out"])
    whole = list(shapes(output, mask=output != NODATA, transform=TRANSFORM))
    assert pyogrio.read_info(bordered["vector"], layer="classes")["features"] == len(whole)


def test_min_area_simplify_dst_crs_and_formats(scene, bordered, tmp_path: Path, capsys) -> None:
    total = pyogrio.read_info(bordered["vector"], layer="classes")["features"]
    base = with_options(bordered["args"], {"--out": [str(tmp_path / "o.tif")]})
    for name, extra in {
        "small.gpkg": ["--min-area", "20px"],
        "same.fgb": ["--min-area", "0.05m2"],
        "simple.gpkg": ["--simplify", "0.1"],
        "wgs84.gpkg": ["--dst-crs", "EPSG:4326"],
    }.items():
        assert run_main(main, with_options(base, {"--vector": [str(tmp_path / name)]}) + extra) == 0, name
    assert pyogrio.read_info(tmp_path / "small.gpkg", layer="classes")["features"] < total
    small = pyogrio.read_info(tmp_path / "small.gpkg", layer="classes")["features"]
    assert pyogrio.read_info(tmp_path / "same.fgb", layer="classes")["features"] == small
    assert pyogrio.read_info(tmp_path / "simple.gpkg", layer="classes")["features"] == total
    assert "4326" in pyogrio.read_info(tmp_path / "wgs84.gpkg", layer="classes")["crs"]
    capsys.readouterr()
    assert run_main(main, with_options(base, {"--vector": [str(tmp_path / "s.shp")]})) == 0
    assert "warning: " in capsys.readouterr().err and (tmp_path / "s.dbf").is_file()
