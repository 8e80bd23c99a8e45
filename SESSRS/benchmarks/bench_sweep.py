"""Benchmark the sweep and one application against the cost of merely reading the inputs.

Prints figures (no pass/fail): the floor (read every prediction, ground truth and SAM JSON once and
decode every RLE with pycocotools, in one process), the whole 7-class x 45-pair sweep with the given
number of workers, and one application with all classes per 1024 x 1024 scene.
Run: python SESSRS/benchmarks/bench_sweep.py [-n 2]
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_utils

from rscommon.datasets import URBAN
from rscommon.labels import read_label_png
from sessrs.inputs import load_scene, pair_inputs
from sessrs.refine import refine_scene, thresholds
from sessrs.sweep import run_sweep

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "sessrs_reference"
PAPER_THRESHOLDS = {  # the paper repository's UNetFormer / LoveDA Urban pick (the fixture's *_m0 cases)
    "t1": {0: 0.7, 1: 0.5, 2: 0.5, 3: 0.7, 4: 0.5, 5: 0.9, 6: 0.5},
    "t2": {0: 0.55, 1: 0.55, 2: 0.85, 3: 0.55, 4: 0.65, 5: 0.55, 6: 0.6},
    "modify": [0, 1, 2, 3, 4, 6],
}


def read_floor(samples) -> float:
    """Seconds to read every input once: PNGs, JSON and a pycocotools decode of every RLE."""
    start = time.perf_counter()
    for sample in samples:
        read_label_png(sample.pred)
        read_label_png(sample.gt)
        objects = json.loads(sample.sam.read_text())
        if objects:
            mask_utils.decode([o["rles"] for o in objects])
    return time.perf_counter() - start


def time_application(samples) -> tuple[float, float]:
    """Mean seconds per scene to load it and to refine it with all classes (the pick's application)."""
    t1, t2 = thresholds(PAPER_THRESHOLDS["t1"], 8), thresholds(PAPER_THRESHOLDS["t2"], 8)
    load_times, refine_times = [], []
    for sample in samples:
        start = time.perf_counter()
        scene = load_scene(sample, URBAN)
        load_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        refine_scene(scene, t1, t2, PAPER_THRESHOLDS["modify"], 5)
        refine_times.append(time.perf_counter() - start)
    return float(np.mean(load_times)), float(np.mean(refine_times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--workers", type=int, default=2)
    args = parser.parse_args()
    scenes = json.loads((FIXTURES / "sweep.json").read_text())["scenes"]
    with tempfile.TemporaryDirectory() as folder:
        pred_dir = Path(folder) / "pred"
        pred_dir.mkdir()
        for scene in scenes:
            shutil.copy(FIXTURES / "scenes" / "pred" / f"{scene}.png", pred_dir)
        samples = pair_inputs(pred_dir, FIXTURES / "scenes" / "sam", FIXTURES / "scenes" / "gt")
        floor = min(read_floor(samples) for _ in range(3))
        start = time.perf_counter()
        run_sweep(samples, URBAN, Path(folder) / "sweep", workers=args.workers)
        sweep = time.perf_counter() - start
        load, refine = time_application(samples)

    print(f"scenes: {len(samples)} of 1024 x 1024, 7 classes x 45 pairs")
    print(f"floor (read PNG + JSON + pycocotools decode, 1 process): {floor:.2f} s ({floor / len(samples):.3f} s/scene)")
    print(f"sweep with {args.workers} workers (wall, incl. heatmaps): {sweep:.2f} s = {sweep / floor:.2f} x the floor")
    print(f"one application, all classes: load {load:.3f} s/scene + refine {refine:.3f} s/scene = {load + refine:.3f} s/scene")


if __name__ == "__main__":
    main()
