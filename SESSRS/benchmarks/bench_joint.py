"""Benchmark the joint threshold search on generated 1024 x 1024 scenes (:mod:`sessrs.synthetic`).

Prints figures (no pass/fail): the sweep and per-class pick it starts from, then the joint search with the given
workers and memory limit: wall time, peak resident memory of every process, rounds, settings scored, images kept
on disk, and the mIoU of the unrefined prediction, of the per-class pick's application and of the joint search.
Scenes are generated into ``--folder`` (kept and reused when it already holds them).
Run: python SESSRS/benchmarks/bench_joint.py 677 [--seed 0] [-n 2] [--memory-limit 4e9] [--folder DIR]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

from rscommon.datasets import URBAN
from rscommon.parallel import Execution, progress_map
from sessrs.inputs import load_ground_truth, load_prepared, pair_inputs
from sessrs.joint import joint_search, settings_from
from sessrs.pick import pick_thresholds
from sessrs.sweep import summarise
from sessrs.sweep_engine import sweep_image
from sessrs.synthetic import generate_scenes
from sessrs.thresholds import APPLY_MAX_OBJECTS, SWEEP_MAX_OBJECTS


def sweep_one(sample):
    scene = load_prepared(sample, URBAN)
    return sweep_image(scene, load_ground_truth(sample, URBAN, scene.shape), URBAN.scored, SWEEP_MAX_OBJECTS)


class PeakMemory:
    """Samples the peak resident memory (VmHWM) of this process and of every child process it starts."""

    def __init__(self) -> None:
        self.peaks: dict[int, int] = {}
        self.running = True
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while self.running:
            for pid in [os.getpid(), *_children(os.getpid())]:
                self.peaks[pid] = max(self.peaks.get(pid, 0), _peak_rss(pid))
            time.sleep(0.25)

    def stop(self) -> list[int]:
        """Peak bytes per process, largest first."""
        self.running = False
        self.thread.join()
        return sorted(self.peaks.values(), reverse=True)


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found + [grandchild for child in found for grandchild in _children(child)]


def _peak_rss(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    lines = [line for line in status.splitlines() if line.startswith("VmHWM:")]
    return int(lines[0].split()[1]) * 1024 if lines else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenes", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-n", "--workers", type=int, default=2)
    parser.add_argument("--memory-limit", type=float, help="bytes for all the search's processes (default: the search's)")
    parser.add_argument("--folder", help="where the scenes are generated (default: a temporary folder)")
    args = parser.parse_args()
    execution = Execution(args.workers)
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(args.folder or temporary)
        start = time.perf_counter()
        present = len(list((folder / "pred").glob("*.png"))) if (folder / "pred").is_dir() else 0
        if present < args.scenes:
            generate_scenes(folder, args.scenes, args.seed, execution=execution)
        generated = time.perf_counter() - start
        samples = pair_inputs(folder / "pred", folder / "sam", folder / "gt")[: args.scenes]
        start = time.perf_counter()
        sweeps = progress_map(sweep_one, samples, execution, desc="sweep", unit="image")
        sweep = summarise(sweeps, URBAN, URBAN.scored, [s.stem for s in samples])
        picked = pick_thresholds(sweep, URBAN)
        swept = time.perf_counter() - start
        memory = PeakMemory()
        start = time.perf_counter()
        state = joint_search(samples, URBAN, settings_from(picked, URBAN.num_classes), Path(temporary) / "state",
                             max_objects=APPLY_MAX_OBJECTS, execution=execution,
                             memory_limit=None if args.memory_limit is None else int(args.memory_limit))
        wall = time.perf_counter() - start
        peaks = memory.stop()
    unrefined, pick, joint = sweep["baseline"]["mIoU"], state.trace[0]["mIoU"], 100 * state.miou
    print(f"scenes: {len(samples)} generated 1024 x 1024 (seed {args.seed}; generation {generated:.0f} s), "
          f"{args.workers} workers")
    print(f"sweep + per-class pick: {swept:.0f} s")
    print(f"joint search: {wall:.0f} s wall ({wall / 60:.1f} min, {wall / len(samples):.2f} s/scene), "
          f"{state.round} rounds, {state.evaluations} settings x {len(samples)} images")
    print("peak resident memory per process: " + ", ".join(f"{peak / 2**30:.2f} GiB" for peak in peaks))
    print(f"mIoU: unrefined {unrefined:.2f}, per-class pick {pick:.2f} ({pick - unrefined:+.2f}), "
          f"joint search {joint:.2f} ({joint - unrefined:+.2f})")


if __name__ == "__main__":
    main()
