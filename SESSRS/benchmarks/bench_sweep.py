"""Benchmark the sweep and one application against the cost of merely reading the inputs.

Prints figures (no pass/fail): the floor (read every prediction, ground truth and SAM JSON once and
decode every RLE with pycocotools, in one process), the whole sweep (the scored classes x the grid's pairs)
with the given number of local workers, and one application with all classes per 1024 x 1024 scene.
With ``--scheduler``, the same sweep also runs on a Dask cluster (``local``: a 2-worker ``LocalCluster`` on
loopback, one thread per worker; or a scheduler's address), and both times and their ratio are printed.
Run: python SESSRS/benchmarks/bench_sweep.py [-n 2] [--scheduler local|tcp://HOST:8786]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_utils

from rscommon.datasets import URBAN
from rscommon.files import read_json
from rscommon.labels import read_label_png
from rscommon.parallel import Execution
from sessrs.folders import SweepFolder
from sessrs.inputs import load_prepared, pair_inputs
from sessrs.steps import refine_prepared
from sessrs.sweep import THRESHOLD_PAIRS, run_sweep
from sessrs.thresholds import APPLY_MAX_OBJECTS, Thresholds
from sessrs.validate import sweep_images

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "sessrs_reference"
PAPER_THRESHOLDS = Thresholds(  # the paper repository's UNetFormer / LoveDA Urban pick (the fixture's *_m0 cases)
    t1={0: 0.7, 1: 0.5, 2: 0.5, 3: 0.7, 4: 0.5, 5: 0.9, 6: 0.5},
    t2={0: 0.55, 1: 0.55, 2: 0.85, 3: 0.55, 4: 0.65, 5: 0.55, 6: 0.6},
    modify=(0, 1, 2, 3, 4, 6),
)


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
    t1, t2 = PAPER_THRESHOLDS.t1_array(URBAN.num_classes), PAPER_THRESHOLDS.t2_array(URBAN.num_classes)
    load_times, refine_times = [], []
    for sample in samples:
        start = time.perf_counter()
        scene = load_prepared(sample, URBAN)
        load_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        refine_prepared(scene, t1, t2, PAPER_THRESHOLDS.modify, max_objects=APPLY_MAX_OBJECTS)
        refine_times.append(time.perf_counter() - start)
    return float(np.mean(load_times)), float(np.mean(refine_times))


@contextlib.contextmanager
def cluster_address(scheduler: str) -> Iterator[str]:
    """``scheduler`` itself, or for ``local`` the address of a 2-worker LocalCluster on loopback."""
    if scheduler != "local":
        yield scheduler
        return
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0"
    ) as cluster:
        yield cluster.scheduler_address


def timed_sweep(samples, out: Path, workers: int, scheduler: str | None = None) -> tuple[float, dict]:
    start = time.perf_counter()
    sweep = run_sweep(samples, URBAN, out, execution=Execution(workers, scheduler))
    return time.perf_counter() - start, sweep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--workers", type=int, default=2)
    parser.add_argument(
        "--scheduler", help="also sweep on a Dask cluster: 'local' (2-worker LocalCluster) or an address"
    )
    args = parser.parse_args()
    images = sweep_images(read_json(SweepFolder(FIXTURES).sweep))
    with tempfile.TemporaryDirectory() as folder:
        pred_dir = Path(folder) / "pred"
        pred_dir.mkdir()
        for image in images:
            shutil.copy(FIXTURES / "scenes" / "pred" / f"{image}.png", pred_dir)
        samples = pair_inputs(pred_dir, FIXTURES / "scenes" / "sam", FIXTURES / "scenes" / "gt")
        floor = min(read_floor(samples) for _ in range(3))
        sweep_time, sweep = timed_sweep(samples, Path(folder) / "sweep", args.workers)
        load, refine = time_application(samples)
        if args.scheduler:
            start = time.perf_counter()
            with cluster_address(args.scheduler) as address:
                started = time.perf_counter() - start
                cluster_time, cluster_sweep = timed_sweep(samples, Path(folder) / "cluster", 1, address)

    print(f"scenes: {len(samples)} of 1024 x 1024, {len(sweep['sweeps'])} classes x {len(THRESHOLD_PAIRS)} pairs")
    print(
        f"floor (read PNG + JSON + pycocotools decode, 1 process): {floor:.2f} s ({floor / len(samples):.3f} s/scene)"
    )
    print(
        f"sweep with {args.workers} workers (wall, incl. heatmaps): {sweep_time:.2f} s "
        f"= {sweep_time / floor:.2f} x the floor"
    )
    print(
        f"one application, all classes: load {load:.3f} s/scene + refine {refine:.3f} s/scene "
        f"= {load + refine:.3f} s/scene"
    )
    if args.scheduler:
        print(
            f"sweep on the cluster ({args.scheduler}; wall, incl. connecting and heatmaps): {cluster_time:.2f} s "
            f"vs {sweep_time:.2f} s with {args.workers} local workers: "
            f"ratio cluster/local {cluster_time / sweep_time:.2f}"
            f"{'' if args.scheduler != 'local' else f' (starting the cluster: {started:.1f} s more)'}"
        )
        print(f"identical sweep.json: {cluster_sweep == sweep}")


if __name__ == "__main__":
    main()
