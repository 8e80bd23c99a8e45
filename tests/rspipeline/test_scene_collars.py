"""Orthophotos with irregular nodata collars (wavy edges, cut corners, holes), declared each of the four ways (a
nodata value on a 16-bit 4-band image, an alpha band, a GDAL mask band, ``--nodata`` on 8-bit RGB), at random
tile sizes and overlaps: the run succeeds, nodata in is nodata out, and every pixel with data gets a class of the
dataset (the internal nodata class of a tile never reaches a pixel with data)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scene_files import read_band, scene_args, write_raster

from rscommon.cli import run_main
from rscommon.datasets import POTSDAM
from rspipeline.scene_cli import main
from rspipeline.scene_tiles import RefinementBug, check_refined_classes
from sessrs.fill import fill_class

NODATA = 255
WAYS = ("value16", "alpha", "mask", "flag")
SIDES = ("top", "left", "bottom", "right")
COLLARS = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def footprints(draw: st.DrawFn) -> np.ndarray:
    """Which pixels of a 160..256 pixel scene hold data: wavy edges, cut corners and elliptic holes."""
    height, width = draw(st.integers(160, 256)), draw(st.integers(160, 256))
    rows, cols = np.mgrid[:height, :width]
    data = np.ones((height, width), bool)
    for side in draw(st.sets(st.sampled_from(SIDES), min_size=1)):
        depth, amplitude, period = draw(st.integers(0, 50)), draw(st.integers(0, 20)), draw(st.integers(6, 120))
        phase = draw(st.floats(0, 2 * np.pi))
        along = cols if side in ("top", "bottom") else rows
        distance = {"top": rows, "left": cols, "bottom": height - 1 - rows, "right": width - 1 - cols}[side]
        data &= distance >= depth + amplitude * np.sin(2 * np.pi * along / period + phase)
    for corner in draw(st.sets(st.integers(0, 3))):
        size = draw(st.integers(10, 150))
        down = rows if corner < 2 else height - 1 - rows
        across = cols if corner % 2 == 0 else width - 1 - cols
        data &= down + across >= size
    for _ in range(draw(st.integers(0, 4))):
        centre_row, centre_col = draw(st.integers(0, height - 1)), draw(st.integers(0, width - 1))
        radius_rows, radius_cols = draw(st.integers(2, 30)), draw(st.integers(2, 30))
        data &= ((rows - centre_row) / radius_rows) ** 2 + ((cols - centre_col) / radius_cols) ** 2 > 1
    assume(data.sum() >= 500)
    return data


tilings = st.integers(64, 128).flatmap(lambda tile: st.tuples(st.just(tile), st.integers(0, tile // 3)))


def collared_image(rgb: np.ndarray, data: np.ndarray, way: str, folder: Path) -> tuple[Path, list[str]]:
    """The H x W x 3 ``rgb`` as a GeoTIFF whose pixels outside ``data`` are declared nodata ``way``; returns it and
    the options the scene command needs for it."""
    bands = rgb.transpose(2, 0, 1)
    path = folder / f"{way}.tif"
    if way == "value16":  # nodata 0 in all four bands; a pixel with data is never 0 in all of them
        wide = np.concatenate([bands, bands.mean(axis=0, keepdims=True)]).astype(np.uint16) * 257
        wide = np.where(data, np.maximum(wide, 1), 0).astype(np.uint16)
        return write_raster(path, wide, nodata=0), []
    if way == "alpha":  # the collar keeps its image content, only the alpha band says it holds no data
        alpha = np.where(data, 255, 0).astype(np.uint8)[None]
        return write_raster(path, np.concatenate([bands, alpha]), photometric="RGB", alpha="YES"), []
    if way == "mask":
        with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True):
            write_raster(path, bands)
            with rasterio.open(path, "r+") as dataset:
                dataset.write_mask(np.where(data, 255, 0).astype(np.uint8))
        return path, []
    flagged = np.where(data, np.maximum(bands, 1), 0).astype(np.uint8)  # way == "flag": --nodata 0 on 8-bit RGB
    return write_raster(path, flagged), ["--nodata", "0"]


def run_collared(scene: dict, data: np.ndarray, way: str, tile: int, overlap: int, folder: Path, *extra: str):
    """Refine the scene cropped to ``data``'s shape with its collar declared ``way``; the exit status and output."""
    height, width = data.shape
    image, options = collared_image(scene["rgb"][:height, :width], data, way, folder)
    pred = write_raster(folder / "pred.tif", scene["pred"][None, :height, :width])
    out = folder / "out.tif"
    args = scene_args(scene, out, "best.json", *options, *extra, tile=tile, pred=pred, image=image)
    args[args.index("--overlap") + 1] = str(overlap)
    status = run_main(main, args)
    return status, read_band(out) if status == 0 else None


@COLLARS
@given(data=footprints(), way=st.sampled_from(WAYS), tiling=tilings)
def test_an_irregular_collar_stays_nodata_and_every_pixel_with_data_gets_a_class(scene, data, way, tiling) -> None:
    tile, overlap = tiling
    with tempfile.TemporaryDirectory() as folder:
        status, output = run_collared(scene, data, way, tile, overlap, Path(folder))
    assert status == 0
    assert np.array_equal(output == NODATA, ~data)
    assert (output[data] < POTSDAM.num_classes).all()


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=footprints(), way=st.sampled_from(WAYS), tiling=tilings)
def test_two_processes_refine_a_collared_scene_as_one(scene, data, way, tiling) -> None:
    tile, overlap = tiling
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as two:
        first = run_collared(scene, data, way, tile, overlap, Path(one), "-n", "1")
        second = run_collared(scene, data, way, tile, overlap, Path(two), "-n", "2")
    assert first[0] == second[0] == 0
    assert np.array_equal(first[1], second[1])


@settings(max_examples=60, deadline=None)
@given(
    pred=st.integers(0, 2**32 - 1).map(lambda seed: np.random.default_rng(seed).integers(0, 4, (24, 24))),
    cls=st.integers(0, 2),
    neighbourhood=st.booleans(),
)
def test_a_fill_never_gives_the_nodata_class(pred: np.ndarray, cls: int, neighbourhood: bool) -> None:
    """Class 3 marks pixels without data: no other pixel takes it; a nodata class the image lacks changes nothing."""
    pred = pred.astype(np.uint8)
    filled = fill_class(pred, cls, neighbourhood, nodata=3)
    assert np.array_equal(filled == 3, pred == 3)
    assert np.array_equal(fill_class(pred, cls, neighbourhood, nodata=4), fill_class(pred, cls, neighbourhood))


def test_a_region_seeing_only_nodata_keeps_its_class() -> None:
    pred = np.full((5, 6), 6, np.uint8)
    pred[1:4, 1:3] = 2
    pred[1:4, 3] = 0  # the region of class 2 sees class 0 on one side and nodata (6) elsewhere
    filled = fill_class(pred, 2, neighbourhood=True, nodata=6)
    assert (filled[1:4, 1:3] == 0).all() and (filled[pred == 6] == 6).all()
    assert (fill_class(pred, 2, neighbourhood=True)[1:4, 1:3] == 6).all()  # without it, the nodata majority
    lone = np.full((5, 5), 6, np.uint8)
    lone[1:4, 1:4] = 2
    lone[2, 2] = 6  # a ring of class 2 (not filling its box) amid nodata
    assert (fill_class(lone, 2, nodata=6) == lone).all()
    assert (fill_class(lone, 2)[lone == 2] == 6).all()  # without it, the ring would take the nodata class


def test_a_class_outside_the_dataset_on_a_pixel_with_data_is_reported_as_a_bug() -> None:
    refined = np.zeros((4, 4), np.uint8)
    valid = np.ones((4, 4), bool)
    valid[0] = False
    refined[0] = POTSDAM.num_classes  # the nodata class where there is no data: fine
    check_refined_classes(refined, valid, POTSDAM.num_classes)
    refined[2, 1] = POTSDAM.num_classes
    with pytest.raises(RefinementBug, match=r"bug: .* 1 pixels with data class\(es\) \[6\].* row 2, column 1"):
        check_refined_classes(refined, valid, POTSDAM.num_classes)
