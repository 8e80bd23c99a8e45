"""Finished work kept between runs: ``--restart`` and the end of a scene run delete only the parts the run
recorded, and a continued scene or tune run never reuses what was made from other content (what a VRT points at,
an external mask)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from scene_files import read_band, scene_args, tune_args, write_raster, write_vrt

from rscommon.cli import run_main
from rspipeline.scene_cli import main
from rspipeline.tune import run_tune
from rspipeline.tune_cli import build_parser, tune_run


def test_restart_and_the_end_of_a_run_delete_only_the_recorded_parts(scene, tmp_path: Path, capsys) -> None:
    parts = tmp_path / "mine"
    (parts / "refine").mkdir(parents=True)
    own = [parts / "features.npy", parts / "refine" / "weights.npy", parts / "refine" / "notes.npy.txt"]
    for path in own:
        np.save(path, np.arange(3)) if path.suffix == ".npy" else path.write_text("mine")
    args = scene_args(scene, tmp_path / "out.tif", "best.json", "--parts-dir", str(parts), "--keep-parts")
    assert run_main(main, args) == 0
    first = read_band(tmp_path / "out.tif")
    recorded = sorted((parts / "refine").glob("r*_c*.npy"))
    assert len(recorded) == 9 and all(path.with_name(path.name + ".sha256").is_file() for path in recorded)
    mtimes = {path: path.stat().st_mtime_ns for path in recorded}
    assert run_main(main, args + ["--restart"]) == 0
    assert all(path.stat().st_mtime_ns != mtime for path, mtime in mtimes.items())  # every part made again
    assert all(path.is_file() for path in own)
    assert np.array_equal(read_band(tmp_path / "out.tif"), first)
    assert run_main(main, [arg for arg in args if arg != "--keep-parts"]) == 0  # the end of a run
    assert not any(path.exists() for path in recorded) and all(path.is_file() for path in own)
    assert np.array_equal(np.load(own[0]), np.arange(3))


def test_a_continued_run_sees_the_tile_behind_a_vrt_change(scene, tmp_path: Path, capsys) -> None:
    source = write_raster(tmp_path / "pred_tile.tif", scene["pred"][None])
    inner = write_vrt(tmp_path / "inner.vrt", source, 512, 512)
    pred = write_vrt(tmp_path / "pred.vrt", inner, 512, 512)  # a VRT of a VRT: its sources are read recursively
    args = scene_args(scene, tmp_path / "out.tif", "best.json", "--keep-parts", pred=pred)
    assert run_main(main, args) == 0
    changed = scene["pred"].copy()
    changed[:256] = 4  # the tile behind the VRTs changes; the .vrt files do not
    write_raster(source, changed[None])
    capsys.readouterr()
    assert run_main(main, args) == 2
    assert "other inputs or settings (inputs.pred)" in capsys.readouterr().err
    assert run_main(main, args + ["--restart"]) == 0
    assert (read_band(tmp_path / "out.tif")[:200] == 4).mean() > 0.9


def test_a_continued_run_sees_an_external_mask_change(scene, tmp_path: Path, capsys) -> None:
    image = tmp_path / "masked.tif"
    mask = np.full((512, 512), 255, np.uint8)
    mask[:100, :100] = 0
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=False):
        write_raster(image, scene["rgb"].transpose(2, 0, 1))
        with rasterio.open(image, "r+") as dataset:
            dataset.write_mask(mask)
    assert image.with_name("masked.tif.msk").is_file()
    args = scene_args(scene, tmp_path / "out.tif", "best.json", "--keep-parts", image=image)
    assert run_main(main, args) == 0
    assert (read_band(tmp_path / "out.tif")[:100, :100] == 255).all()
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=False), rasterio.open(image, "r+") as dataset:
        dataset.write_mask(np.full((512, 512), 255, np.uint8))  # only the .msk changes
    capsys.readouterr()
    assert run_main(main, args) == 2
    assert "other inputs or settings (inputs.image)" in capsys.readouterr().err


def test_a_tune_rerun_remakes_its_area_when_the_tile_behind_a_vrt_changes(scene, tmp_path: Path) -> None:
    source = write_raster(tmp_path / "pred_tile.tif", scene["pred"][None])
    pred = write_vrt(tmp_path / "pred.vrt", source, 512, 512)
    labels = np.full((512, 512), 255, np.uint8)
    labels[40:120, 60:160] = scene["pred"][40:120, 60:160]
    args = tune_args(scene, tmp_path / "tuned", write_raster(tmp_path / "labels.tif", labels[None]), pred)

    def made() -> int:
        return run_tune(tune_run(build_parser().parse_args(args))).made

    assert made() == 1
    assert made() == 0  # nothing changed: the area is kept
    changed = scene["pred"].copy()
    changed[:100] = 4
    write_raster(source, changed[None])
    assert made() == 1
