"""Benchmark the joint threshold search on generated 1024 x 1024 scenes (:mod:`sessrs.synthetic`).

Prints figures (no pass/fail) for each scene count given: the joint search's wall time, the CPU time and peak
resident memory of every process it uses (this one and its workers), what the wall time would be on an idle
machine (the busiest process's CPU time, or all CPU time spread over the workers' cores, whichever is longer),
rounds and settings scored, seconds (wall and CPU) per setting and image, the ratio to the sweep's time, and the mIoU
of the unrefined prediction, of the per-class pick's application (where the search starts) and of the joint search;
then, from one count to the next, how time per scene and peak memory grow.
Scenes are drawn with about ``--objects-per-image`` objects each (default 120, a median of about 115: what a
segment-anything model's grid of points finds on a busy aerial tile; the count found is printed) into
``--folder``/``objects<N>`` (kept and reused when it already holds them, with their sweeps); a smaller count is a
prefix of a larger one, so the sweep is run once, on the largest count, and each count's pick is taken from its own
images. Each count's figures are printed as soon as its search ends. ``--exact`` scores every setting on every image
(no screening on a subset, see :mod:`sessrs.joint_screen`): the search as it was before screening.
Run: python SESSRS/benchmarks/bench_joint.py 40 160 677 [--objects-per-image 120] [--seed 0] [-n 2]
[--memory-limit 4e9] [--folder DIR] [--exact]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import pickle
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from rscommon.datasets import URBAN
from rscommon.parallel import Execution, progress_map
from sessrs.inputs import load_ground_truth, load_prepared, pair_inputs
from sessrs.joint import joint_search, settings_from
from sessrs.joint_screen import EXACT, SCREENING, Screening
from sessrs.pick import pick_thresholds
from sessrs.sweep import summarise
from sessrs.sweep_engine import sweep_image
from sessrs.synthetic import URBAN_LIKE, generate_images
from sessrs.thresholds import APPLY_MAX_OBJECTS, SWEEP_MAX_OBJECTS

GIB = 2**30


def sweep_one(sample):
    scene = load_prepared(sample, URBAN)
    return sweep_image(
        scene, load_ground_truth(sample, URBAN, scene.shape), URBAN.scored, max_objects=SWEEP_MAX_OBJECTS
    )


@dataclass(frozen=True)
class Usage:
    """One process's CPU seconds and peak resident bytes while it was watched."""

    cpu: float
    peak: int


class ProcessWatch:
    """Samples the CPU time and peak resident memory (VmHWM) of this process and of every process it starts.

    This process's peak is reset when the watch starts (``/proc/self/clear_refs``), its CPU time counted from then.
    """

    def __init__(self) -> None:
        Path("/proc/self/clear_refs").write_text("5")
        self.started = {os.getpid(): _cpu_seconds(os.getpid())}
        self.usage: dict[int, Usage] = {}
        self.running = True
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while self.running:
            for pid in [os.getpid(), *_children(os.getpid())]:
                cpu, peak = _cpu_seconds(pid), _peak_rss(pid)
                if cpu is not None and peak:
                    seen = self.usage.get(pid, Usage(0.0, 0))
                    self.usage[pid] = Usage(max(seen.cpu, cpu - self.started.get(pid, 0.0)), max(seen.peak, peak))
            time.sleep(0.2)

    def stop(self) -> tuple[Usage, list[Usage]]:
        """This process's usage, and that of the processes it started (the busiest first)."""
        self.running = False
        self.thread.join()
        own = self.usage.pop(os.getpid())
        return own, sorted(self.usage.values(), key=lambda usage: usage.cpu, reverse=True)


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


def _cpu_seconds(pid: int) -> float | None:
    """User and system CPU seconds of a process (None when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Run:
    """One joint search's figures."""

    scenes: int
    wall: float
    main: Usage
    workers: list[Usage]
    rounds: int
    evaluations: int
    miou: tuple[float, float, float]
    sweep: float | None = None
    """The wall time of the sweep of these scenes (None: not measured in this run)."""

    @property
    def processes(self) -> list[Usage]:
        return [self.main, *self.workers]

    @property
    def cpu(self) -> float:
        return sum(usage.cpu for usage in self.processes)

    def idle_estimate(self, cores: int) -> float:
        """The wall time on an idle machine with ``cores`` cores for the search."""
        return max(max(usage.cpu for usage in self.processes), self.cpu / cores)

    def describe(self, cores: int) -> str:
        unrefined, pick, joint = self.miou
        usage = ", ".join(f"{u.cpu:.0f} s / {u.peak / GIB:.2f} GiB" for u in self.processes)
        setting_images = self.evaluations * self.scenes
        versus_sweep = "" if self.sweep is None else f"; {self.wall / self.sweep:.2f} x the sweep's wall time"
        return (
            f"{self.scenes} scenes: {self.wall:.0f} s wall ({self.wall / self.scenes:.2f} s/scene); "
            f"CPU {self.cpu:.0f} s ({self.cpu / self.scenes:.2f} s/scene), idle-machine estimate "
            f"{self.idle_estimate(cores):.0f} s ({self.idle_estimate(cores) / self.scenes:.2f} s/scene); "
            f"{self.rounds} rounds, {self.evaluations} settings\n"
            f"  per setting and image: {1000 * self.wall / setting_images:.2f} ms wall, "
            f"{1000 * self.cpu / setting_images:.2f} ms CPU{versus_sweep}\n"
            f"  CPU / peak resident memory per process (this one, then its workers): {usage}\n"
            f"  mIoU: unrefined {unrefined:.2f}, per-class pick {pick:.2f} ({pick - unrefined:+.2f}), "
            f"joint search {joint:.2f} ({joint - unrefined:+.2f})"
        )


def sweeps_of(samples: list, folder: Path, seed: int, execution: Execution) -> list:
    """The sweep of every sample, reusing those kept in ``folder`` (``sweeps-<seed>.pickle``) and keeping new ones."""
    kept_path = folder / f"sweeps-{seed}.pickle"
    kept = pickle.loads(kept_path.read_bytes()) if kept_path.is_file() else {}
    missing = [sample for sample in samples if sample.stem not in kept]
    if missing:
        kept.update(
            zip([s.stem for s in missing], progress_map(sweep_one, missing, execution, desc="sweep", unit="image"))
        )
        kept_path.write_bytes(pickle.dumps(kept, protocol=pickle.HIGHEST_PROTOCOL))
    return [kept[sample.stem] for sample in samples]


def search(
    samples: list,
    sweeps: list,
    execution: Execution,
    memory_limit: int | None,
    state: Path,
    screening: Screening = SCREENING,
) -> Run:
    """The joint search on ``samples`` from the per-class pick of their ``sweeps``, watched."""
    sweep = summarise(sweeps, URBAN, URBAN.scored, [s.stem for s in samples])
    start = settings_from(pick_thresholds(sweep, URBAN), URBAN.num_classes)
    watch = ProcessWatch()
    began = time.perf_counter()
    result = joint_search(
        samples,
        URBAN,
        start,
        state,
        max_objects=APPLY_MAX_OBJECTS,
        execution=execution,
        memory_limit=memory_limit,
        screening=screening,
    )
    wall = time.perf_counter() - began
    main, workers = watch.stop()
    miou = (sweep["baseline"]["mIoU"], result.trace[0]["mIoU"], 100 * result.miou)
    return Run(len(samples), wall, main, workers, result.round, result.evaluations, miou)


def growth(smaller: Run, larger: Run) -> str:
    """How time per scene and the largest peak memory of a process change from one count to the next."""
    per_scene = (larger.cpu / larger.scenes) / (smaller.cpu / smaller.scenes)
    peak = max(u.peak for u in larger.processes) - max(u.peak for u in smaller.processes)
    return (
        f"{smaller.scenes} -> {larger.scenes} scenes: CPU per scene x{per_scene:.2f}, "
        f"largest peak per process {peak / 2**20:+.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenes", type=int, nargs="+")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-n", "--workers", type=int, default=2)
    parser.add_argument(
        "--memory-limit", type=float, help="bytes for all the search's processes (default: the search's)"
    )
    parser.add_argument("--folder", help="where the scenes are generated (default: a temporary folder)")
    parser.add_argument(
        "--objects-per-image", type=float, default=120, help="objects aimed at per scene (default 120: median ~115)"
    )
    parser.add_argument("--exact", action="store_true", help="score every setting on every image (no screening)")
    args = parser.parse_args()
    execution = Execution(args.workers)
    counts = sorted(set(args.scenes))
    limit = None if args.memory_limit is None else int(args.memory_limit)
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(args.folder or temporary) / f"objects{args.objects_per_image:g}"
        began = time.perf_counter()
        present = len(list((folder / "pred").glob("*.png"))) if (folder / "pred").is_dir() else 0
        if present < counts[-1]:
            population = URBAN_LIKE.at_density(args.objects_per_image)
            generate_images(folder, counts[-1], args.seed, population=population, execution=execution)
        generated = time.perf_counter() - began
        samples = pair_inputs(folder / "pred", folder / "sam", folder / "gt")[: counts[-1]]
        objects = [len(json.loads(sample.sam.read_text())) for sample in samples]
        swept_before = (folder / f"sweeps-{args.seed}.pickle").is_file()
        began = time.perf_counter()
        sweeps = sweeps_of(samples, folder, args.seed, execution)
        swept = time.perf_counter() - began
        cores = min(args.workers, os.cpu_count() or 1)
        print(
            f"generated 1024 x 1024 scenes (seed {args.seed}; generation {generated:.0f} s; objects per image: median "
            f"{statistics.median(objects):g}, {min(objects)} to {max(objects)}), sweep of {counts[-1]}: "
            f"{swept:.0f} s{' (kept from an earlier run)' if swept_before else ''}; joint search with "
            f"{args.workers} workers, memory limit {'default' if limit is None else f'{limit / GIB:.1f} GiB'}, "
            f"{'every setting on every image' if args.exact else 'screened on many images'}",
            flush=True,
        )
        screening = EXACT if args.exact else SCREENING
        runs = []
        for count in counts:
            state = Path(temporary) / f"state{count}"
            runs.append(search(samples[:count], sweeps[:count], execution, limit, state, screening))
            if count == counts[-1] and not swept_before:
                runs[-1] = replace(runs[-1], sweep=swept)
            print(
                f"{runs[-1].describe(cores)}\n  load average {os.getloadavg()[1]:.1f} over the last 5 minutes",
                flush=True,
            )
    for smaller, larger in itertools.pairwise(runs):
        print(growth(smaller, larger))


if __name__ == "__main__":
    main()
