"""The scene command (pipeline/sessrs_scene.py) on the real Potsdam sample tile written as a GeoTIFF with a made-up
CRS and 5 cm pixels: georeferencing and palette kept, the identity case exact, each tile's core its own refinement,
the polygons equal to the raster, resumption, and bad input refused before anything is written."""

from __future__ import annotations

import itertools
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import rasterio
import torch
from affine import Affine
from distributed import LocalCluster
from PIL import Image
from rasterio.errors import NotGeoreferencedWarning
from rasterio.features import rasterize
from scene_files import (
    BEST,
    CRS,
    OVERLAP,
    TILE,
    TRANSFORM,
    damaged_image,
    geoseg_scene,
    read_band,
    scene_args,
    with_options,
    write_raster,
)
from shapely import from_wkb

from geoseg.checkpoint import TRAINING_RECORD, weights_dir
from geoseg.config import load_config
from geoseg.datasets.augment import val_transform
from geoseg.paths import GEOSEG_ROOT
from rscommon.cli import run_main
from rscommon.datasets import POTSDAM
from rscommon.files import InputError
from rscommon.images import stretch_to_uint8
from rspipeline.raster import read_rgb_window
from rspipeline.scene_blend import tile_weights
from rspipeline.scene_cli import build_parser, main, scene_argv, scene_run
from rspipeline.scene_scan import scan_scene
from rspipeline.scene_tiles import ImageBands
from rspipeline.tiling import axis_spans, tile_grid
from sam_objects import build_object_source
from sessrs import Thresholds, refine


def tile_refinement(rgb: np.ndarray, pred: np.ndarray, best: dict) -> np.ndarray:
    """What the refinement of one tile gives on its own: objects from its pixels, the application's max_objects 5."""
    objects = build_object_source("regions")(rgb)
    return refine(pred, objects, Thresholds.from_json(best), max_objects=5, num_classes=POTSDAM.num_classes)


@pytest.fixture(scope="module")
def refined(scene) -> dict:
    """One refinement of the scene with polygons, its finished tiles kept."""
    out = scene["folder"] / "refined" / "refined.tif"
    vector = out.with_suffix(".gpkg")
    assert run_main(main, scene_args(scene, out, "best.json", "--vector", str(vector), "--keep-parts")) == 0
    return {"out": out, "vector": vector, "parts": out.with_name(out.name + ".parts")}


# --- tiling -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 100, 255, 256, 257, 480, 600, 700, 2048])
@pytest.mark.parametrize(("tile", "overlap"), [(256, 32), (1024, 128), (100, 0), (64, 63)])
def test_cores_cover_the_scene_once_and_lie_inside_their_tiles(size: int, tile: int, overlap: int) -> None:
    spans = axis_spans(size, tile, overlap)
    owners = np.zeros(size, int)
    for span in spans:
        owners[span.core_start : span.core_stop] += 1
        assert 0 <= span.start <= span.core_start < span.core_stop <= span.stop <= size
        assert span.stop - span.start == min(tile, size)
    assert (owners == 1).all()
    for before, after in itertools.pairwise(spans):
        assert before.stop - after.start >= overlap  # neighbours share at least the overlap
        assert before.core_stop == after.core_start
        assert after.core_start - after.start >= overlap // 2 and before.stop - before.core_stop >= overlap // 2


def test_a_tile_grid_is_row_by_row_and_its_windows_agree() -> None:
    tiles = tile_grid(600, 700, 256, 32)
    assert [(t.row, t.col) for t in tiles] == [(r, c) for r in range(3) for c in range(3)]
    covered = np.zeros((600, 700), int)
    scene = np.arange(600 * 700).reshape(600, 700)
    for tile in tiles:
        covered[tile.core_in_scene] += 1
        assert tile.core_window.toslices() == tile.core_in_scene
        assert np.array_equal(scene[tile.window.toslices()][tile.core_in_tile], scene[tile.core_in_scene])
    assert (covered == 1).all()


@pytest.mark.parametrize(("tile", "overlap"), [(256, 256), (256, -1), (0, 0)])
def test_impossible_tiles_are_refused(tile: int, overlap: int) -> None:
    with pytest.raises(ValueError, match="overlap"):
        axis_spans(600, tile, overlap)


# --- bands --------------------------------------------------------------------------------------------------------


def test_sixteen_bit_bands_are_stretched_with_the_whole_scenes_percentiles(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    bands = (rng.gamma(2.0, 900.0, (4, 150, 170)) + np.arange(170) * 20).astype(np.uint16)
    bands[3, :10, :10] = 60000  # a few hot pixels in a band that is not chosen
    path = write_raster(tmp_path / "uint16.tif", bands)
    chosen = [3, 1, 2]
    expected = stretch_to_uint8(bands[[c - 1 for c in chosen]].transpose(1, 2, 0))
    with rasterio.open(path) as dataset:
        ranges = scan_scene(dataset, chosen, None, None, [], POTSDAM).ranges
        whole, _ = read_rgb_window(dataset, chosen, rasterio.windows.Window(0, 0, 170, 150), ranges)
        for tile in tile_grid(150, 170, 64, 16):  # every tile is stretched alike, with the scene's ranges
            part, _ = read_rgb_window(dataset, chosen, tile.window, ranges)
            assert np.array_equal(part, expected[tile.window.toslices()])
    assert np.array_equal(whole, expected)


def test_eight_bit_bands_are_read_as_they_are(scene) -> None:
    with rasterio.open(scene["image"]) as dataset:
        assert scan_scene(dataset, [1, 2, 3], None, None, [], POTSDAM).ranges is None
        part, valid = read_rgb_window(dataset, [3, 2, 1], rasterio.windows.Window(10, 20, 30, 40), None)
    assert valid.all()
    assert np.array_equal(part, scene["rgb"][20:60, 10:40, ::-1])


# --- the command --------------------------------------------------------------------------------------------------


def test_nothing_to_refine_gives_the_prediction_exactly_with_its_grid_and_palette(scene, tmp_path: Path) -> None:
    out = tmp_path / "same.tif"
    assert run_main(main, scene_args(scene, out, "nothing.json")) == 0
    with rasterio.open(out) as dataset:
        assert np.array_equal(dataset.read(1), scene["pred"])
        assert dataset.crs == rasterio.crs.CRS.from_string(CRS)
        assert dataset.transform == TRANSFORM
        assert (dataset.width, dataset.height, dataset.count, dataset.dtypes[0]) == (512, 512, 1, "uint8")
        assert dataset.profile["tiled"] and dataset.compression is not None
        colours = dataset.colormap(1)
        assert [colours[i][:3] for i in range(POTSDAM.num_classes)] == list(POTSDAM.palette)
        assert dataset.tags(1)["class_1"] == "Building"
    assert not (tmp_path / "same.tif.parts").exists()  # finished tiles are removed once the output is written
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "same.qml",
        "same.tif",
        "same.tif.aux.xml",
        "same.tif.report.json",
    ]


def test_a_style_of_the_users_beside_the_output_is_kept_and_the_commands_own_is_rewritten(
    scene, tmp_path: Path, capsys
) -> None:
    """OUT.qml is the command's only while it carries its mark: a user's style there survives every run."""
    out = tmp_path / "styled.tif"
    assert run_main(main, scene_args(scene, out, "nothing.json")) == 0
    own = out.with_suffix(".qml").read_text()
    assert "written by pipeline/sessrs_scene.py" in own
    out.with_suffix(".qml").write_text(own.replace("Building", "Roofs"))  # an edit that keeps the mark: rewritten
    assert run_main(main, scene_args(scene, out, "nothing.json")) == 0
    assert out.with_suffix(".qml").read_text() == own
    mine = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n<qgis><pipe/></qgis>\n"
    out.with_suffix(".qml").write_text(mine)
    capsys.readouterr()
    assert run_main(main, scene_args(scene, out, "nothing.json")) == 0
    assert out.with_suffix(".qml").read_text() == mine
    assert "a style of yours, kept as it is" in capsys.readouterr().out


def test_every_change_is_a_whole_change_of_one_tiles_refinement(scene, refined) -> None:
    """Each output pixel is the prediction or the class one covering tile's own refinement gave it; the changes
    are joined along objects, so a pixel may come from a tile whose core it is not in."""
    output = read_band(refined["out"])
    assert (output != scene["pred"]).sum() > 1000  # the refinement changed the prediction
    explained = output == scene["pred"]
    from_outside_core = np.zeros_like(explained)
    for tile in tile_grid(512, 512, TILE, OVERLAP):
        rows, cols = tile.window.toslices()
        alone = tile_refinement(scene["rgb"][rows, cols], scene["pred"][rows, cols], BEST)
        agrees = (alone != scene["pred"][rows, cols]) & (alone == output[rows, cols])
        explained[rows, cols] |= agrees
        outside = agrees.copy()
        outside[tile.core_in_tile] = False
        from_outside_core[rows, cols] |= outside
    assert explained.all()
    assert from_outside_core.any()  # some objects were kept whole across a core's edge


def test_a_scene_of_one_tile_is_the_refinement_of_the_whole_image(scene, tmp_path: Path) -> None:
    out = tmp_path / "one.tif"
    assert run_main(main, scene_args(scene, out, tile=1024)) == 0
    assert np.array_equal(read_band(out), tile_refinement(scene["rgb"], scene["pred"], BEST))


def test_the_polygons_carry_the_rasters_classes(scene, refined) -> None:
    info = pyogrio.read_info(refined["vector"], layer="classes")
    assert info["crs"] == CRS and info["geometry_type"] == "Polygon"
    _, _, geometry, fields = pyogrio.raw.read(refined["vector"], layer="classes")
    classes, names, areas = fields
    assert np.allclose(areas, [g.area for g in from_wkb(geometry)])
    assert [POTSDAM.classes[c] for c in classes] == list(names)
    burnt = rasterize(
        zip(from_wkb(geometry), classes.tolist()), out_shape=(512, 512), transform=TRANSFORM, fill=255, dtype="uint8"
    )
    assert np.array_equal(burnt, read_band(refined["out"]))


def test_two_local_processes_give_the_same_scene(scene, refined, tmp_path: Path) -> None:
    out = tmp_path / "two.tif"
    assert run_main(main, scene_args(scene, out, "best.json", "--workers", "2")) == 0
    assert np.array_equal(read_band(out), read_band(refined["out"]))


def test_a_rerun_continues_with_the_tiles_already_finished(scene, refined, tmp_path: Path, capsys) -> None:
    parts = tmp_path / "parts"
    out = tmp_path / "again.tif"
    args = scene_args(scene, out, "best.json", "--parts-dir", str(parts), "--keep-parts")
    assert run_main(main, args) == 0
    first = read_band(out)
    out.unlink()
    lost = [parts / "refine" / "r001_c001.npy", parts / "refine" / "r002_c000.npy"]  # as if interrupted
    for path in lost:
        path.unlink()
    kept = {path: path.stat().st_mtime_ns for path in parts.glob("refine/r*_c*.npy")}
    capsys.readouterr()
    assert run_main(main, args) == 0
    assert "9 tiles (7 kept from an earlier run)" in capsys.readouterr().out
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in kept.items())
    assert all(path.is_file() for path in lost)
    assert np.array_equal(read_band(out), first)
    assert np.array_equal(first, read_band(refined["out"]))


def test_a_failed_tile_is_reported_and_the_finished_tiles_are_kept(scene, tmp_path: Path, capsys) -> None:
    image = damaged_image(scene, tmp_path)  # the last block cannot be decoded: the 4 tiles reading it fail
    out = tmp_path / "out.tif"
    args = scene_args(scene, out, image=image)
    assert run_main(main, args) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert errors[-1].startswith("error: 4 of 9 tiles failed (r001_c001, r001_c002, r002_c001, r002_c002")
    assert any(line.startswith("r002_c002: failed: tile r002_c002: ") and "damaged.tif" in line for line in errors)
    parts = tmp_path / "out.tif.parts" / "refine"
    finished = {path: path.stat().st_mtime_ns for path in parts.glob("r*_c*.npy")}
    assert len(finished) == 5 and not out.exists()
    assert run_main(main, args) == 2  # the same command tries the failed tile again, and only that one
    assert {path: path.stat().st_mtime_ns for path in parts.glob("r*_c*.npy")} == finished


def test_a_prediction_value_outside_the_classes_is_refused_before_any_tile(scene, tmp_path: Path, capsys) -> None:
    pred = scene["pred"].copy()
    pred[500, 500] = 9  # not a Potsdam class, in the last tile
    bad = write_raster(tmp_path / "bad_pred.tif", pred[None])
    assert run_main(main, scene_args(scene, tmp_path / "out.tif", pred=bad)) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "bad_pred.tif" in error[0] and "[9]" in error[0] and "rows 0..511" in error[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad_pred.tif"]


def test_tiles_made_with_other_settings_are_refused_until_restart(scene, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out.tif"
    assert run_main(main, scene_args(scene, out, "nothing.json", "--keep-parts")) == 0
    assert run_main(main, scene_args(scene, out, "best.json", "--keep-parts")) == 2
    error = capsys.readouterr().err.strip()
    assert "inputs.thresholds" in error and "--restart" in error
    assert np.array_equal(read_band(out), scene["pred"])  # nothing was overwritten
    assert run_main(main, scene_args(scene, out, "best.json", "--restart")) == 0
    assert (read_band(out) != scene["pred"]).any()


def test_chosen_sixteen_bit_bands_are_refined_like_the_stretched_image(scene, tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    rgb16 = scene["rgb"].astype(np.uint16) * 200 + rng.integers(0, 200, scene["rgb"].shape, dtype=np.uint16)
    nir = rng.integers(0, 65535, scene["rgb"].shape[:2], dtype=np.uint16)
    bands = np.concatenate([nir[None], rgb16.transpose(2, 0, 1)[::-1]])  # NIR, B, G, R
    image = write_raster(tmp_path / "bgrn.tif", bands)
    out = tmp_path / "out.tif"
    assert run_main(main, scene_args(scene, out, "best.json", "--bands", "4", "3", "2", image=image, tile=1024)) == 0
    expected = tile_refinement(stretch_to_uint8(rgb16), scene["pred"], BEST)
    assert np.array_equal(read_band(out), expected)


def bad_inputs(scene: dict, folder: Path) -> dict[str, tuple[dict[str, list[str]], str]]:
    pred = scene["pred"][None]
    (folder / "broken.json").write_text('{"t1": {"0": 0.5}, "t2": {}')
    (folder / "class9.json").write_text(json.dumps({"t1": {"9": 0.5}, "t2": {}, "modify": []}))
    (folder / "modify9.json").write_text(json.dumps({"t1": {}, "t2": {}, "modify": [1, 9]}))
    shifted = Affine(0.05, 0.0, 500001.0, 0.0, -0.05, 5800000.0)
    return {
        "smaller prediction": ({"--pred": [str(write_raster(folder / "p1.tif", pred[:, :500]))]}, "512 x 500"),
        "other CRS": ({"--pred": [str(write_raster(folder / "p2.tif", pred, crs="EPSG:4326"))]}, "CRS"),
        "shifted grid": ({"--pred": [str(write_raster(folder / "p3.tif", pred, transform=shifted))]}, "transform"),
        "float prediction": ({"--pred": [str(write_raster(folder / "p4.tif", pred.astype(np.float32)))]}, "integers"),
        "two-band prediction": (
            {"--pred": [str(write_raster(folder / "p5.tif", np.concatenate([pred, pred])))]},
            "one band",
        ),
        "missing band": ({"--bands": ["1", "2", "4"]}, "--bands [4]"),
        "malformed thresholds": ({"--thresholds": [str(folder / "broken.json")]}, "malformed JSON"),
        "unknown class": ({"--thresholds": [str(folder / "class9.json")]}, "t1 names classes [9]"),
        "unknown modify class": ({"--thresholds": [str(folder / "modify9.json")]}, "modify names classes [9]"),
        "missing image": ({"--image": [str(folder / "nowhere.tif")]}, "file not found"),
        "output over the image": ({"--out": [str(scene["image"])]}, "is the image input"),
        "not a GeoTIFF name": ({"--out": [str(folder / "out.png")]}, "GeoTIFF"),
        "overlap as large as a tile": ({"--overlap": ["256"]}, "overlap"),
    }


def test_bad_input_is_one_line_and_writes_nothing(scene, tmp_path: Path, capsys) -> None:
    cases = bad_inputs(scene, tmp_path)
    image_written = scene["image"].stat().st_mtime_ns
    for case, (options, expected) in cases.items():
        args = with_options(scene_args(scene, tmp_path / "out.tif", "nothing.json"), options)
        before = sorted(os.listdir(tmp_path))
        assert run_main(main, args) == 2, case
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and expected in err[0], (case, err)
        assert sorted(os.listdir(tmp_path)) == before, case
    assert scene["image"].stat().st_mtime_ns == image_written


def test_a_missing_sam_checkpoint_is_named_when_objects_are_needed(scene, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("SESSRS_WEIGHTS", str(tmp_path / "no_weights"))
    out = tmp_path / "out.tif"
    assert run_main(main, with_options(scene_args(scene, out), {"--objects": ["sam"]})) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "sam_vit_h_4b8939.pth" in err and "dl.fbaipublicfiles.com" in err
    assert sorted(os.listdir(tmp_path)) == []
    # with nothing to refine no objects are made, so no checkpoint is needed
    assert run_main(main, with_options(scene_args(scene, out, "nothing.json"), {"--objects": ["sam"]})) == 0
    assert np.array_equal(read_band(out), scene["pred"])


def test_images_without_georeferencing_are_refined_on_their_pixel_grid(scene, refined, tmp_path: Path) -> None:
    image, pred = tmp_path / "image.png", tmp_path / "pred.png"
    Image.fromarray(scene["rgb"]).save(image)
    Image.fromarray(scene["pred"]).save(pred)
    out = tmp_path / "out.tif"
    assert (
        run_main(
            main, scene_args(scene, out, "best.json", "--vector", str(tmp_path / "out.gpkg"), image=image, pred=pred)
        )
        == 0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # expected: the output has no georeferencing either
        with rasterio.open(out) as dataset:
            assert dataset.crs is None and dataset.transform.is_identity
            assert np.array_equal(dataset.read(1), read_band(refined["out"]))


@pytest.mark.slow
def test_a_geoseg_config_predicts_each_tile_for_the_refinement(scene, tmp_path: Path) -> None:
    """The sample Potsdam UNetFormer with random weights (plumbing, not accuracy), saved as its checkpoint, on a
    256 x 352 crop of the scene in two tiles (few: the network runs on the CPU)."""
    setup = geoseg_scene(scene, tmp_path)
    rgb, net, out, args = setup["rgb"], setup["net"], setup["out"], setup["args"]
    assert run_main(main, args) == 0
    output = read_band(out)
    normalized = val_transform()(image=rgb)["image"]
    tiles = tile_grid(256, 352, TILE, OVERLAP)
    assert len(tiles) == 2
    total, weight = np.zeros((POTSDAM.num_classes, 256, 352)), np.zeros((256, 352))
    for tile in tiles:  # nothing to refine: the tiles' class probabilities blended with ramps over the overlap
        batch = torch.from_numpy(normalized[tile.window.toslices()].transpose(2, 0, 1).copy())[None]
        with torch.no_grad():
            scores = net(batch).softmax(dim=1)[0].numpy()
        ramp = tile_weights(tile, 256, 352, OVERLAP)
        total[(slice(None), *tile.window.toslices())] += scores * ramp
        weight[tile.window.toslices()] += ramp
    assert weight.min() > 0
    expected = total.argmax(axis=0)
    assert (output != expected).mean() < 1e-3  # float sums in another order may flip a near tie
    assert len(np.unique(output)) > 1
    wrong = with_options(args, {"--dataset": ["Urban"], "--out": [str(tmp_path / "urban.tif")]})
    assert run_main(main, wrong) == 2  # the config predicts Potsdam classes
    small = write_raster(tmp_path / "small.tif", rgb[:100, :200].transpose(2, 0, 1))  # padded for the network
    args = with_options(args, {"--image": [str(small)], "--out": [str(tmp_path / "small_out.tif")]})
    assert run_main(main, args) == 0
    assert read_band(tmp_path / "small_out.tif").shape == (100, 200)


def test_config_finds_the_last_trainings_checkpoint_under_the_work_dir(scene, tmp_path: Path) -> None:
    """As GeoSeg's test.py: the best checkpoint recorded by the last training, else the config's
    test_weights_name, under --work-dir; neither there is refused naming the file."""
    config = GEOSEG_ROOT / "config" / "sample" / "unetformer_potsdam.py"
    folder = weights_dir(load_config(config, pretrained=False), tmp_path)
    args = build_parser().parse_args(
        scene_argv(
            image=scene["image"],
            config=config,
            work_dir=tmp_path,
            objects="regions",
            thresholds=scene["folder"] / "nothing.json",
            dataset="potsdam",
            out="out.tif",
        )
    )
    named = folder / "unetformer-sample-potsdam.ckpt"
    with pytest.raises(InputError, match=str(named)):
        scene_run(args)
    folder.mkdir(parents=True)
    named.write_bytes(b"")
    prediction = scene_run(args).prediction
    assert prediction.checkpoint == named and "test_weights_name" in prediction.why
    (folder / "epoch=3.ckpt").write_bytes(b"")
    (folder / TRAINING_RECORD).write_text(json.dumps({"best_checkpoint": "epoch=3.ckpt"}))
    prediction = scene_run(args).prediction
    assert prediction.checkpoint == folder / "epoch=3.ckpt" and TRAINING_RECORD in prediction.why


def test_relative_paths_reach_a_scheduler_absolute(scene, refined, tmp_path: Path, monkeypatch) -> None:
    """Relative paths given in the scene's folder, tiles run on a Dask scheduler (in-process workers, which see
    the tasks as sent): every tile reads absolute paths and the scene equals the local run."""
    read = ImageBands.read
    seen: list[Path] = []

    def recording(self: ImageBands, tile):
        seen.append(self.path)
        return read(self, tile)

    monkeypatch.setattr(ImageBands, "read", recording)
    monkeypatch.chdir(scene["folder"])
    out = tmp_path / "relative.tif"
    args = scene_argv(
        image="scene.tif",
        pred="pred.tif",
        objects="regions",
        thresholds="best.json",
        dataset="potsdam",
        out=os.path.relpath(out),
        tile=TILE,
        overlap=OVERLAP,
    )
    with LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        protocol="tcp://",
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    ) as cluster:
        assert run_main(main, [*args, "--scheduler", cluster.scheduler_address]) == 0
    assert len(seen) == 9 and all(path == scene["image"] for path in seen)
    assert np.array_equal(read_band(out), read_band(refined["out"]))
