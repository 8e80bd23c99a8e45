"""Benchmark this release against a previous one, side by side on the same generated scenes.

The previous release is the git revision given, checked out with ``git worktree add`` into a temporary folder
(removed at the end). Both run the same measurements, each in its own process whose ``PYTHONPATH`` puts that
release's ``SESSRS`` and ``common`` folders first: the sweep of the scenes with ``-n 1`` and with ``-n 2`` (wall
and CPU seconds, its worker processes included), and the application of all classes to each scene (load and
refine, the pick's application; wall and CPU seconds per scene). The releases take turns ``--repeat`` times and
the fastest of each figure is kept. Prints each release's figures, the ratios this / previous (below 1: this
release is faster), and whether both give the same sweep and the same refined maps.
Scenes are 1024 x 1024 from :mod:`sessrs.synthetic` at ``--objects-per-image`` (default 120, a median of about 115
objects per scene). Figures, no pass/fail; quote them with the machine's load.
Run: python SESSRS/benchmarks/bench_release.py REVISION [--scenes 20] [--objects-per-image 120] [--repeat 1]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIGURES = (
    ("sweep_1_wall", "sweep -n 1, wall s"),
    ("sweep_1_cpu", "sweep -n 1, CPU s"),
    ("sweep_2_wall", "sweep -n 2, wall s"),
    ("sweep_2_cpu", "sweep -n 2, CPU s"),
    ("apply_wall", "application per scene, wall s"),
    ("apply_cpu", "application per scene, CPU s"),
)


def cpu_seconds() -> float:
    """CPU seconds of this process and of its finished children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(folder: Path, out: Path, thresholds: dict) -> dict:
    """The figures of the release on ``sys.path`` (run in a process of its own): sweeps, and the application of
    ``thresholds`` (``best.json``'s form) to every scene."""
    import numpy as np

    from rscommon.datasets import URBAN
    from rscommon.parallel import Execution
    from sessrs.inputs import load_prepared, pair_inputs
    from sessrs.steps import refine_prepared
    from sessrs.sweep import run_sweep
    from sessrs.thresholds import APPLY_MAX_OBJECTS

    samples = pair_inputs(folder / "pred", folder / "sam", folder / "gt")
    figures: dict = {}
    sweeps = []
    for workers in (1, 2):
        wall, cpu = time.perf_counter(), cpu_seconds()
        sweeps.append(run_sweep(samples, URBAN, out / f"sweep{workers}", execution=Execution(workers)))
        figures[f"sweep_{workers}_wall"] = time.perf_counter() - wall
        figures[f"sweep_{workers}_cpu"] = cpu_seconds() - cpu
    sweep = sweeps[0]
    figures["sweep_digest"] = hashlib.sha256(json.dumps(sweep.get("sweeps"), sort_keys=True).encode()).hexdigest()
    t1, t2 = np.ones(URBAN.num_classes), np.ones(URBAN.num_classes)
    for array, values in ((t1, thresholds["t1"]), (t2, thresholds["t2"])):
        for cls, value in values.items():
            array[int(cls)] = value
    digest = hashlib.sha256()
    wall, cpu = time.perf_counter(), cpu_seconds()
    for sample in samples:
        refined = refine_prepared(
            load_prepared(sample, URBAN), t1, t2, thresholds["modify"], max_objects=APPLY_MAX_OBJECTS
        )
        digest.update(np.ascontiguousarray(refined).tobytes())
    figures["apply_wall"] = (time.perf_counter() - wall) / len(samples)
    figures["apply_cpu"] = (cpu_seconds() - cpu) / len(samples)
    figures["apply_digest"] = digest.hexdigest()
    return figures


def run_release(root: Path, folder: Path, work: Path, thresholds: dict) -> dict:
    """:func:`measure` in a process whose imports come from the release at ``root``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(root / part) for part in ("SESSRS", "common"))}
    command = [sys.executable, __file__, "--measure", str(folder), "--out", str(work)]
    command += ["--thresholds", json.dumps(thresholds)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"the release at {root} failed to run the measurements:\n{done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def check_revision(revision: str) -> None:
    """Stop with one line when ``revision`` is not a commit of this repository."""
    known = ["git", "-C", str(ROOT), "rev-parse", "--quiet", "--verify", f"{revision}^{{commit}}"]
    if subprocess.run(known, capture_output=True, check=False).returncode != 0:
        sys.exit(f"{revision}: not a git revision of {ROOT}")


def previous_release(revision: str, where: Path) -> Path:
    """Check ``revision`` out into ``where`` (a detached git worktree of this repository)."""
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(where), revision], check=True)
    return where


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("revision", nargs="?", help="the previous release: a git revision of this repository")
    parser.add_argument("--scenes", type=int, default=20)
    parser.add_argument("--objects-per-image", type=float, default=120)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1, help="turns each release takes (the fastest is kept)")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--thresholds", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure), Path(args.out), json.loads(args.thresholds))))
        return
    if not args.revision:
        parser.error("give the previous release's git revision")
    check_revision(args.revision)
    from bench_sweep import PAPER_THRESHOLDS  # imported here: the measuring processes import another release

    from sessrs.synthetic import URBAN_LIKE, generate_images

    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        generate_images(
            work / "scenes", args.scenes, args.seed, population=URBAN_LIKE.at_density(args.objects_per_image)
        )
        releases = {"this": ROOT, "previous": None}
        try:
            releases["previous"] = previous_release(args.revision, work / "previous")
            best: dict[str, dict] = {}
            for turn in range(args.repeat):
                for name, root in releases.items():
                    figures = run_release(root, work / "scenes", work / f"{name}{turn}", PAPER_THRESHOLDS.to_json())
                    kept = best.setdefault(name, figures)
                    best[name] = {k: min(v, kept[k]) if isinstance(v, float) else v for k, v in figures.items()}
        finally:
            if releases["previous"] is not None:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(releases["previous"])])
    print(
        f"{args.scenes} scenes of 1024 x 1024 (~{args.objects_per_image:g} objects each), this release ({ROOT}) vs "
        f"{args.revision}; fastest of {args.repeat} turn(s); load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'figure':<32} {'this':>9} {'previous':>9} {'ratio':>7}")
    for key, label in FIGURES:
        this, previous = best["this"][key], best["previous"][key]
        print(f"{label:<32} {this:9.3f} {previous:9.3f} {this / previous:7.2f}")
    for key, label in (("sweep_digest", "sweep"), ("apply_digest", "refined maps")):
        print(f"same {label}: {'yes' if best['this'][key] == best['previous'][key] else 'NO'}")


if __name__ == "__main__":
    main()
