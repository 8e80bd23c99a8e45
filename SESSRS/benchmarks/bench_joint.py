"""Benchmark the joint threshold search on the 10 reference fixture scenes (1024 x 1024, one 512 x 768).

Prints figures (no pass/fail): for each mode, the per-class sweep and pick it starts from, then the joint search
with the given number of workers: wall time, rounds, settings scored, the cost of one setting on one image, and
the cost of scoring that setting by a full application (``refine_prepared`` + confusion matrix) for comparison.
Run: python SESSRS/benchmarks/bench_joint.py [-n 2] [--modes faithful improved]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from rscommon.datasets import URBAN
from rscommon.metrics import confusion_matrix
from rscommon.parallel import Execution
from sessrs.inputs import load_ground_truth, load_prepared, pair_inputs
from sessrs.joint import joint_search, settings_from
from sessrs.modes import MODES, RefineOptions
from sessrs.pick import pick_thresholds
from sessrs.steps import refine_prepared
from sessrs.sweep import summarise
from sessrs.sweep_engine import sweep_image
from sessrs.thresholds import APPLY_MAX_OBJECTS, SWEEP_MAX_OBJECTS

SCENES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "sessrs_reference" / "scenes"


def full_application_seconds(samples, thresholds, options: RefineOptions) -> float:
    """Mean seconds to score one setting on one image the naive way: refine every class, then count."""
    t1, t2 = thresholds.t1_array(URBAN.num_classes), thresholds.t2_array(URBAN.num_classes)
    times = []
    for sample in samples:
        scene = load_prepared(sample, URBAN)
        gt = load_ground_truth(sample, URBAN, scene.shape)
        refine_prepared(scene, t1, t2, thresholds.modify, APPLY_MAX_OBJECTS, options)  # fills cached, as in a search
        start = time.perf_counter()
        confusion_matrix(gt, refine_prepared(scene, t1, t2, thresholds.modify, APPLY_MAX_OBJECTS, options),
                         URBAN.num_classes)
        times.append(time.perf_counter() - start)
    return float(np.mean(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--workers", type=int, default=2)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    args = parser.parse_args()
    samples = pair_inputs(SCENES / "pred", SCENES / "sam", SCENES / "gt")
    print(f"scenes: {len(samples)} (reference fixtures), {args.workers} workers")
    for mode in args.modes:
        options = RefineOptions.for_mode(mode)
        start = time.perf_counter()
        sweeps = []
        for sample in samples:
            scene = load_prepared(sample, URBAN)
            sweeps.append(sweep_image(scene, load_ground_truth(sample, URBAN, scene.shape), URBAN.scored,
                                      options.sweep_object_limit(SWEEP_MAX_OBJECTS, APPLY_MAX_OBJECTS),
                                      options=options))
        picked = pick_thresholds(summarise(sweeps, URBAN, URBAN.scored, [s.stem for s in samples]), URBAN)
        sweep_seconds = time.perf_counter() - start
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            state = joint_search(samples, URBAN, settings_from(picked, URBAN.num_classes), folder,
                                 max_objects=APPLY_MAX_OBJECTS, options=options,
                                 execution=Execution(args.workers))
            wall = time.perf_counter() - start
        naive = full_application_seconds(samples[:3], picked, options)
        per_image = wall * args.workers / (state.evaluations * len(samples))
        print(f"\n{mode}: sweep + pick (1 process) {sweep_seconds:.1f} s; joint search {wall:.1f} s wall "
              f"({state.round} rounds, {state.evaluations} settings x {len(samples)} images, "
              f"mIoU {state.trace[0]['mIoU']:.2f} -> {100 * state.miou:.2f} on these images)")
        print(f"  one setting on one image: {1000 * per_image:.1f} ms of worker time "
              f"(a full application: {1000 * naive:.0f} ms, {naive / per_image:.0f}x more; "
              f"naive search: {naive * state.evaluations * len(samples) / args.workers / 60:.0f} min)")


if __name__ == "__main__":
    main()
