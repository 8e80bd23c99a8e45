"""Benchmark the scene command: wall time and peak memory on synthetic GeoTIFF scenes made of the real LoveDA tiles.

Each scene (default 2048 x 2048 and 6144 x 6144) is a mosaic of the embedded LoveDA tiles written as a tiled,
compressed GeoTIFF; its prediction is the tiles' label maps coarsened 16 times (a blocky stand-in for a model's
output). The scene command then refines it with the weight-free ``regions`` objects and the paper's UNetFormer /
Urban thresholds, in a fresh process per scene, whose peak resident memory (getrusage) is printed with the wall
time and CPU time. Figures only, no pass/fail.

Run: python pipeline/benchmarks/bench_scene.py [--sizes 2048 6144] [--tile 1024 --overlap 128] [--keep DIR]
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
from rscommon.paths import REAL_SAMPLES, REPO_ROOT

SCENE_SCRIPT = REPO_ROOT / "pipeline" / "sessrs_scene.py"
TILE = 1024
COARSEN = 16
PAPER_THRESHOLDS = {  # the paper repository's UNetFormer / LoveDA Urban pick (as SESSRS/benchmarks/bench_sweep.py)
    "t1": {"0": 0.7, "1": 0.5, "2": 0.5, "3": 0.7, "4": 0.5, "5": 0.9, "6": 0.5},
    "t2": {"0": 0.55, "1": 0.55, "2": 0.85, "3": 0.55, "4": 0.65, "5": 0.55, "6": 0.6},
    "modify": [0, 1, 2, 3, 4, 6],
}


def loveda_tiles() -> list[tuple[np.ndarray, np.ndarray]]:
    """The three embedded LoveDA tiles: RGB and a coarse prediction in GeoSeg's Urban classes (0..7)."""
    tiles = []
    for index in range(3):
        rgb = read_rgb(REAL_SAMPLES / "loveda" / f"mmseg_{index}.png")
        raw = read_label_png(REAL_SAMPLES / "loveda" / f"mmseg_{index}_mask.png")
        labels = np.where(raw == 0, 7, raw - 1).astype(np.uint8)
        coarse = labels[COARSEN // 2::COARSEN, COARSEN // 2::COARSEN]
        tiles.append((rgb, np.repeat(np.repeat(coarse, COARSEN, 0), COARSEN, 1)))
    return tiles


def write_scene(folder: Path, size: int) -> tuple[Path, Path]:
    """A size x size scene mosaicked from the LoveDA tiles (flipped by position), written window by window."""
    tiles = loveda_tiles()
    profile = {"driver": "GTiff", "width": size, "height": size, "crs": "EPSG:32633",
               "transform": Affine(0.3, 0.0, 500000.0, 0.0, -0.3, 5800000.0), "tiled": True, "blockxsize": 256,
               "blockysize": 256, "compress": "deflate"}
    image_path, pred_path = folder / f"scene_{size}.tif", folder / f"pred_{size}.tif"
    with rasterio.open(image_path, "w", count=3, dtype="uint8", **profile) as image, \
            rasterio.open(pred_path, "w", count=1, dtype="uint8", **profile) as pred:
        for row in range(0, size, TILE):
            for col in range(0, size, TILE):
                rgb, labels = tiles[(row // TILE * 5 + col // TILE) % len(tiles)]
                flip = (row // TILE + col // TILE) % 2
                rgb, labels = (rgb[:, ::-1], labels[:, ::-1]) if flip else (rgb, labels)
                height, width = min(TILE, size - row), min(TILE, size - col)
                window = Window(col, row, width, height)
                image.write(rgb[:height, :width].transpose(2, 0, 1), window=window)
                pred.write(labels[:height, :width], 1, window=window)
    return image_path, pred_path


def run_child(arguments: list[str]) -> None:
    """Run the scene command in this process, then print its wall time and peak RSS as JSON."""
    from rscommon.cli import run_main
    from rspipeline.scene_cli import main

    start = time.perf_counter()
    status = run_main(main, arguments)
    seconds = time.perf_counter() - start
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"status": status, "seconds": seconds, "peak_mb": own.ru_maxrss / 1024,
                      "children_peak_mb": children.ru_maxrss / 1024,
                      "cpu_seconds": own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime}))


def measure(folder: Path, size: int, tile: int, overlap: int, workers: int) -> dict:
    image, pred = write_scene(folder, size)
    best = folder / "best.json"
    best.write_text(json.dumps(PAPER_THRESHOLDS))
    arguments = ["--image", str(image), "--pred", str(pred), "--objects", "regions", "--thresholds", str(best),
                 "--dataset", "Urban", "--out", str(folder / f"refined_{size}.tif"),
                 "--vector", str(folder / f"refined_{size}.gpkg"), "--tile", str(tile), "--overlap", str(overlap),
                 "--workers", str(workers)]
    done = subprocess.run([sys.executable, __file__, "--child", *arguments], check=False, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise RuntimeError(f"scene command failed:\n{done.stderr[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    if figures["status"] != 0:
        raise RuntimeError(f"scene command exited {figures['status']}:\n{done.stderr[-2000:]}")
    return figures


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        run_child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", type=int, default=[2048, 6144])
    parser.add_argument("--tile", type=int, default=1024)
    parser.add_argument("--overlap", type=int, default=128)
    parser.add_argument("-n", "--workers", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="keep the scenes and outputs in this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        results = {}
        for size in args.sizes:
            figures = measure(folder, size, args.tile, args.overlap, args.workers)
            results[size] = figures
            workers = f", largest worker process {figures['children_peak_mb']:.0f} MB" if args.workers > 1 else ""
            print(f"{size} x {size} scene, tile {args.tile}/{args.overlap}, {args.workers} worker(s), regions objects: "
                  f"{figures['seconds']:.1f} s wall ({figures['cpu_seconds']:.1f} s CPU), "
                  f"peak RSS {figures['peak_mb']:.0f} MB{workers}", flush=True)
    if len(results) >= 2:
        small, large = min(results), max(results)
        print(f"peak RSS {large} vs {small}: {results[large]['peak_mb'] - results[small]['peak_mb']:+.0f} MB "
              f"for {large * large / (small * small):.0f}x the pixels")


if __name__ == "__main__":
    main()
