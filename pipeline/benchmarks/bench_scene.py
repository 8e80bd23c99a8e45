"""Benchmark the scene command: seams at the tiles' cut lines, 16-bit against 8-bit time, and peak memory.

Seams: a 1024 x 1024 mosaic of the embedded Potsdam tile (flipped copies) in tiles of 256, with the tile's true
labels as the prediction. The seam ratio (``rspipeline.scene_seams``: class changes across each core cut line
against the mean of the 40 lines beside it; 1 is invisible) is printed *before* (each tile's own result cut at
the cores, computed here) and *after* (the scene command):

- refinement (``--pred`` with the weight-free ``regions`` objects), overlaps 64 and 128;
- prediction (``--config``: the sample Potsdam UNetFormer *randomly initialised*, seeded, saved as its
  checkpoint; plumbing, not accuracy), overlap 64, nothing refined; before = each tile's arg-max in its core.

Time and memory: a size x size scene (default 2048) mosaicked from the embedded LoveDA tiles, its prediction the
label maps coarsened 16 times, refined with ``regions`` objects and the paper's UNetFormer / Urban thresholds,
once as a 16-bit 4-band GeoTIFF (RGB times 257 plus a fourth band; ``--bands 1 2 3``, stretched by the scene's
percentiles) and once as the 8-bit RGB GeoTIFF of the very pixels that stretch gives (so both make the same
objects). Each run is a fresh process whose wall time, CPU time and peak resident memory (getrusage) are
printed, and the 16-bit / 8-bit ratios of wall and CPU time (on a shared machine the CPU ratio is the steadier).
Figures only.

Run: python pipeline/benchmarks/bench_scene.py [--size 2048] [--tile 1024 --overlap 128] [-n 1] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.windows import Window

from rscommon.images import read_rgb
from rscommon.labels import read_label_png
from rscommon.paths import REAL_SAMPLES
from rspipeline.scene_cli import scene_argv

TILE = 1024
COARSEN = 16
PROFILE = {
    "driver": "GTiff",
    "crs": "EPSG:32633",
    "transform": Affine(0.3, 0.0, 500000.0, 0.0, -0.3, 5800000.0),
    "tiled": True,
    "blockxsize": 256,
    "blockysize": 256,
    "compress": "deflate",
}
PAPER_THRESHOLDS = {  # the paper repository's UNetFormer / LoveDA Urban pick (as SESSRS/benchmarks/bench_sweep.py)
    "t1": {"0": 0.7, "1": 0.5, "2": 0.5, "3": 0.7, "4": 0.5, "5": 0.9, "6": 0.5},
    "t2": {"0": 0.55, "1": 0.55, "2": 0.85, "3": 0.55, "4": 0.65, "5": 0.55, "6": 0.6},
    "modify": [0, 1, 2, 3, 4, 6],
}
POTSDAM_TILE = REAL_SAMPLES / "potsdam" / "top_potsdam_2_10_crop0_0_512_512_"
POTSDAM_THRESHOLDS = {
    "t1": {str(c): 0.5 for c in range(6)},
    "t2": {str(c): 0.5 for c in range(6)},
    "modify": [1, 0, 3, 2],
}
NOTHING = {"t1": {}, "t2": {}, "modify": []}
SEAM_SIZE, SEAM_TILE = 1024, 256


def loveda_tiles() -> list[tuple[np.ndarray, np.ndarray]]:
    """The three embedded LoveDA tiles: RGB and a coarse prediction in GeoSeg's Urban classes (0..7)."""
    tiles = []
    for index in range(3):
        rgb = read_rgb(REAL_SAMPLES / "loveda" / f"mmseg_{index}.png")
        raw = read_label_png(REAL_SAMPLES / "loveda" / f"mmseg_{index}_mask.png")
        labels = np.where(raw == 0, 7, raw - 1).astype(np.uint8)
        coarse = labels[COARSEN // 2 :: COARSEN, COARSEN // 2 :: COARSEN]
        tiles.append((rgb, np.repeat(np.repeat(coarse, COARSEN, 0), COARSEN, 1)))
    return tiles


def write_scene(folder: Path, size: int) -> tuple[Path, Path, Path]:
    """A size x size 16-bit 4-band scene mosaicked from the LoveDA tiles (flipped by position; RGB times 257 and
    their mean), written window by window, its prediction, and the 8-bit RGB the scene command reads from it."""
    tiles = loveda_tiles()
    profile = {**PROFILE, "width": size, "height": size}
    image, deep, pred_path = folder / f"scene_{size}.tif", folder / f"scene16_{size}.tif", folder / f"pred_{size}.tif"
    with (
        rasterio.open(deep, "w", count=4, dtype="uint16", **profile) as wide,
        rasterio.open(pred_path, "w", count=1, dtype="uint8", **profile) as pred,
    ):
        for row in range(0, size, TILE):
            for col in range(0, size, TILE):
                rgb, labels = tiles[(row // TILE * 5 + col // TILE) % len(tiles)]
                flip = (row // TILE + col // TILE) % 2
                rgb, labels = (rgb[:, ::-1], labels[:, ::-1]) if flip else (rgb, labels)
                height, width = min(TILE, size - row), min(TILE, size - col)
                window = Window(col, row, width, height)
                bands = rgb[:height, :width].transpose(2, 0, 1).astype(np.uint16) * 257
                wide.write(np.concatenate([bands, bands.mean(axis=0, keepdims=True).astype(np.uint16)]), window=window)
                pred.write(labels[:height, :width], 1, window=window)
    write_as_read(deep, image)
    return image, deep, pred_path


def write_as_read(deep: Path, image: Path) -> None:
    """The 8-bit RGB GeoTIFF of what the scene command reads from bands 1 2 3 of ``deep`` (stretched by the
    scene's percentiles), so that both are refined from the same pixels."""
    from rscommon.datasets import URBAN
    from rspipeline.raster import read_rgb_window
    from rspipeline.scene_scan import scan_scene
    from rspipeline.tiling import strips

    with rasterio.open(deep) as source:
        ranges = scan_scene(source, (1, 2, 3), None, None, [], URBAN).ranges
        with rasterio.open(
            image, "w", count=3, dtype="uint8", **{**PROFILE, "width": source.width, "height": source.height}
        ) as target:
            for window in strips(source.height, source.width, TILE):
                rgb, _ = read_rgb_window(source, (1, 2, 3), window, ranges)
                target.write(rgb.transpose(2, 0, 1), window=window)


def potsdam_mosaic(folder: Path) -> tuple[np.ndarray, np.ndarray, Path, Path]:
    """The 1024 x 1024 Potsdam mosaic (RGB, true labels in GeoSeg's classes) and its two GeoTIFFs."""

    def mosaic(array: np.ndarray) -> np.ndarray:
        whole = np.concatenate([np.concatenate([array, array[:, ::-1]], 1)] * 2, 0)
        whole[SEAM_SIZE // 2 :] = whole[SEAM_SIZE // 2 :][::-1]
        return np.ascontiguousarray(whole)

    rgb = mosaic(read_rgb(f"{POTSDAM_TILE}RGB.png"))
    labels = read_label_png(f"{POTSDAM_TILE}label_mmseg.png")
    pred = mosaic(np.where(labels == 0, 5, labels - 1).astype(np.uint8))  # boundary -> clutter
    profile = {**PROFILE, "width": SEAM_SIZE, "height": SEAM_SIZE}
    image, prediction = folder / "potsdam.tif", folder / "potsdam_pred.tif"
    with rasterio.open(image, "w", count=3, dtype="uint8", **profile) as dataset:
        dataset.write(rgb.transpose(2, 0, 1))
    with rasterio.open(prediction, "w", count=1, dtype="uint8", **profile) as dataset:
        dataset.write(pred, 1)
    return rgb, pred, image, prediction


def read_band(path: Path) -> np.ndarray:
    with rasterio.open(path) as dataset:
        return dataset.read(1)


def run_command(arguments: list[str]) -> None:
    """Run the scene command in this process; exit with its status when it fails."""
    from rscommon.cli import run_main
    from rspipeline.scene_cli import main

    status = run_main(main, arguments)
    if status != 0:
        raise SystemExit(f"scene command exited {status}: {' '.join(arguments)}")


def refinement_seams(folder: Path, overlap: int) -> tuple[float, float, float, float]:
    """The refinement's seam ratio before (each tile's refinement cut at the cores) and after (the command), and
    the share of pixels each changed."""
    from rspipeline.scene_seams import cut_at_cores, seam_ratio
    from rspipeline.tiling import Tile, tile_grid
    from sam_objects import build_object_source
    from sessrs import APPLY_MAX_OBJECTS, Thresholds, refine

    rgb, pred, image, prediction = potsdam_mosaic(folder)
    thresholds_file = folder / "potsdam_thresholds.json"
    thresholds_file.write_text(json.dumps(POTSDAM_THRESHOLDS))
    out = folder / f"potsdam_refined_{overlap}.tif"
    run_command(
        scene_argv(
            image=image,
            pred=prediction,
            objects="regions",
            thresholds=thresholds_file,
            dataset="potsdam",
            out=out,
            tile=SEAM_TILE,
            overlap=overlap,
        )
    )
    objects, thresholds = build_object_source("regions"), Thresholds.from_json(POTSDAM_THRESHOLDS)

    def alone(tile: Tile) -> np.ndarray:
        rows, cols = tile.window.toslices()
        return refine(
            pred[rows, cols], objects(rgb[rows, cols]), thresholds, max_objects=APPLY_MAX_OBJECTS, num_classes=6
        )

    tiles = tile_grid(SEAM_SIZE, SEAM_SIZE, SEAM_TILE, overlap)
    cut, joined = cut_at_cores(tiles, alone, pred.shape), read_band(out)
    return seam_ratio(cut, tiles), seam_ratio(joined, tiles), (cut != pred).mean(), (joined != pred).mean()


def prediction_seams(folder: Path, overlap: int) -> tuple[float, float]:
    """The ``--config`` prediction's seam ratio before (each tile's arg-max cut at the cores) and after (blended)."""
    import torch

    from geoseg.config import load_config
    from geoseg.paths import GEOSEG_ROOT
    from rscommon.datasets import POTSDAM
    from rspipeline.scene_seams import cut_at_cores, seam_ratio
    from rspipeline.tiling import Tile, tile_grid

    _, _, image, _ = potsdam_mosaic(folder)
    config = GEOSEG_ROOT / "config" / "sample" / "unetformer_potsdam.py"
    torch.manual_seed(0)
    net = load_config(config, pretrained=False).net
    checkpoint = folder / "random.ckpt"
    torch.save({"state_dict": {f"net.{key}": value for key, value in net.state_dict().items()}}, checkpoint)
    nothing, out = folder / "nothing.json", folder / "potsdam_predicted.tif"
    nothing.write_text(json.dumps(NOTHING))
    run_command(
        scene_argv(
            image=image,
            config=config,
            ckpt=checkpoint,
            tta="none",
            objects="regions",
            thresholds=nothing,
            dataset=POTSDAM.name,
            out=out,
            tile=SEAM_TILE,
            overlap=overlap,
            keep_parts=True,
        )
    )
    scores = out.with_name(out.name + ".parts") / "scores"

    def arg_max(tile: Tile) -> np.ndarray:
        return np.load(scores / f"{tile.name}.npy").argmax(axis=0).astype(np.uint8)

    tiles = tile_grid(SEAM_SIZE, SEAM_SIZE, SEAM_TILE, overlap)
    return seam_ratio(cut_at_cores(tiles, arg_max, (SEAM_SIZE, SEAM_SIZE)), tiles), seam_ratio(read_band(out), tiles)


def run_child(arguments: list[str]) -> None:
    """Run the scene command in this process, then print its wall time and peak RSS as JSON."""
    start = time.perf_counter()
    run_command(arguments)
    seconds = time.perf_counter() - start
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mb": own.ru_maxrss / 1024,
                "children_peak_mb": children.ru_maxrss / 1024,
                "cpu_seconds": own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime,
            }
        )
    )


def measure(arguments: list[str]) -> dict:
    """The scene command's figures in a fresh process."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", *arguments], check=False, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"scene command failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def timings(folder: Path, size: int, tile: int, overlap: int, workers: int) -> dict[str, dict]:
    """The 8-bit and the 16-bit 4-band scene, each refined in a fresh process."""
    image, deep, pred = write_scene(folder, size)
    thresholds_file = folder / "thresholds.json"
    thresholds_file.write_text(json.dumps(PAPER_THRESHOLDS))
    figures = {}
    for name, source in (("8-bit RGB", image), ("16-bit 4-band", deep)):
        out = folder / f"refined_{source.stem}.tif"
        figures[name] = measure(
            scene_argv(
                image=source,
                bands=(1, 2, 3),
                pred=pred,
                objects="regions",
                thresholds=thresholds_file,
                dataset="Urban",
                out=out,
                vector=out.with_suffix(".gpkg"),
                tile=tile,
                overlap=overlap,
                workers=workers,
            )
        )
    return figures


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        run_child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=2048, help="side of the timed scene (default 2048)")
    parser.add_argument("--tile", type=int, default=1024)
    parser.add_argument("--overlap", type=int, default=128)
    parser.add_argument("-n", "--workers", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="keep the scenes and outputs in this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        print(
            f"seam ratio (1 = invisible; before = plain core cutting) on a {SEAM_SIZE} x {SEAM_SIZE} Potsdam "
            f"mosaic, tile {SEAM_TILE}:",
            flush=True,
        )
        for overlap in (64, 128):
            before, after, changed_before, changed_after = refinement_seams(folder, overlap)
            print(
                f"  refinement (regions objects), overlap {overlap}: {before:.2f}x before, {after:.2f}x after "
                f"(pixels changed: {changed_before:.1%} before, {changed_after:.1%} after)",
                flush=True,
            )
        before, after = prediction_seams(folder, 64)
        print(
            f"  prediction (--config, randomly initialised sample UNetFormer), overlap 64: {before:.2f}x before, "
            f"{after:.2f}x after",
            flush=True,
        )
        figures = timings(folder, args.size, args.tile, args.overlap, args.workers)
        for name, result in figures.items():
            workers = f", largest worker process {result['children_peak_mb']:.0f} MB" if args.workers > 1 else ""
            print(
                f"{args.size} x {args.size} {name} scene, tile {args.tile}/{args.overlap}, {args.workers} "
                f"worker(s), regions objects: {result['seconds']:.1f} s wall ({result['cpu_seconds']:.1f} s CPU), "
                f"peak RSS {result['peak_mb']:.0f} MB{workers}",
                flush=True,
            )
        deep, eight = figures["16-bit 4-band"], figures["8-bit RGB"]
        print(
            f"16-bit / 8-bit: {deep['seconds'] / eight['seconds']:.2f} wall time, "
            f"{deep['cpu_seconds'] / eight['cpu_seconds']:.2f} CPU time"
        )


if __name__ == "__main__":
    main()
