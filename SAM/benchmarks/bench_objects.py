"""CPU cost of the object sources on a real 1024 x 1024 tile.

Measures, per tile, the weight-free ``regions`` source and the HQ-SAM vit_tiny automatic-mask-generation path
with RANDOM weights and a tiny point grid (the real path's cost; the masks themselves mean nothing). Model
building is timed apart. CPU seconds are the process's CPU time (all threads); wall seconds are elapsed time.

    python SAM/benchmarks/bench_objects.py [--repeats 3] [--threads 1] [--points-per-side 4]
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import torch

from rscommon.images import read_rgb
from sam_objects.registry import SourceRecipe, build_object_source, build_source, settings_for

TILE = Path(__file__).resolve().parents[2] / "data/real_samples/loveda/mmseg_0.png"


def timed(action: Callable[[], object]) -> tuple[float, float, object]:
    """(CPU seconds, wall seconds, result) of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = action()
    return time.process_time() - cpu, time.perf_counter() - wall, result


def report(name: str, action: Callable[[], list], repeats: int) -> None:
    """Run ``action`` ``repeats`` times and print the best CPU and wall seconds and the object count."""
    runs = [timed(action) for _ in range(repeats)]
    cpu, wall = min(run[0] for run in runs), min(run[1] for run in runs)
    print(f"{name:<48} {cpu:8.2f} {wall:8.2f} {len(runs[0][2]):8d}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per source; the best is reported")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--points-per-side", type=int, default=4, help="point grid of the vit_tiny run")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    image = read_rgb(TILE)
    print(f"tile {TILE.name} {image.shape[1]}x{image.shape[0]}, torch threads {args.threads}")
    print(f"{'source':<48} {'cpu s':>8} {'wall s':>8} {'objects':>8}")

    regions = build_object_source("regions")
    report("regions (felzenszwalb, not SAM)", lambda: regions(image), args.repeats)

    torch.manual_seed(0)
    settings = settings_for("samhq", points_per_side=args.points_per_side, crop_n_layers=0,
                            pred_iou_thresh=0.0, stability_score_thresh=0.0)
    recipe = SourceRecipe("samhq", settings, "vit_tiny", checkpoint=None, device="cpu")  # random weights
    build_cpu, build_wall, tiny = timed(lambda: build_source(recipe))
    print(f"{'  build HQ-SAM vit_tiny (random weights)':<48} {build_cpu:8.2f} {build_wall:8.2f}")
    name = f"samhq vit_tiny random, {args.points_per_side}x{args.points_per_side} points, no crops"
    report(name, lambda: tiny(image), args.repeats)


if __name__ == "__main__":
    main()
