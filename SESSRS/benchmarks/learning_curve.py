"""How many labelled images are enough: the held-out mIoU change against the number of images thresholds are tuned on.

For each size k (1, 2, 4, 8, ... while images are left to score on) several random draws of k images are made; on
each draw the thresholds are chosen three ways (the per-class pick, the pick with ``--select cv``, the joint search
from the pick) and applied to the images *not* in the draw; the figure is the pooled mIoU of those held-out images
minus their unrefined mIoU. Transfer: the thresholds tuned on draws of the generated URBAN_LIKE scenes are also
applied to every scene of a RURAL_LIKE set (other class shares, noisier predictions, fewer objects).

Every image is swept once (``run_sweep``, whose per-image parts the cv selection reads); a draw's sweep is the sum
of its images' parts; one pool of workers keeps every image's refinement caches for all the draws.

Run:  python SESSRS/benchmarks/learning_curve.py                       # about 10 minutes on 2 cores
      python SESSRS/benchmarks/learning_curve.py --generated 64 --size 512 --rural 32 --draws 5   # bigger
Writes the figures to ``--out``/learning_curve.json, the plot to ``--plot`` (docs/learning_curve.png) and
prints the markdown table.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rscommon.datasets import URBAN
from rscommon.files import write_json_atomic
from rscommon.parallel import Execution
from sessrs.choice_settings import ChoiceSettings
from sessrs.folders import SweepFolder
from sessrs.inputs import Sample, pair_inputs
from sessrs.joint import ShardPool, joint_search, mean_iou, settings_from, thresholds_of
from sessrs.joint_engine import OFF, Settings
from sessrs.modes import FAITHFUL
from sessrs.pick import pick_thresholds
from sessrs.selection import select_by_cv, sweep_parts
from sessrs.sweep import run_sweep, summarise
from sessrs.sweep_engine import ImageSweep
from sessrs.synthetic import RURAL_LIKE, URBAN_LIKE, generate_images
from sessrs.thresholds import APPLY_MAX_OBJECTS

REPOSITORY = Path(__file__).resolve().parents[2]
FIXTURE_SCENES = REPOSITORY / "tests" / "fixtures" / "sessrs_reference" / "scenes"
METHODS = ("pick", "cv", "joint")
CV_FOLDS = 5


@dataclass
class ImageSet:
    """A labelled set: its images, each image's sweep, and the pool that refines and scores them."""

    name: str
    samples: list[Sample]
    parts: dict[str, ImageSweep]
    sweep_root: Path
    pool: ShardPool


def sizes_for(count: int) -> list[int]:
    """1, 2, 4, ... below ``count`` (at least one image is always held out)."""
    sizes, k = [], 1
    while k < count:
        sizes.append(k)
        k *= 2
    return sizes


def prepared_set(name: str, samples: list[Sample], out: Path, execution: Execution) -> ImageSet:
    """Sweep every image once (resumable) and open the pool that refines them."""
    folder = SweepFolder(out / name / "sweep")
    sweep = run_sweep(samples, URBAN, folder, execution=execution)
    parts = sweep_parts(folder.sweep, sweep, samples, URBAN)
    pool = ShardPool(samples, URBAN, max_objects=APPLY_MAX_OBJECTS, options=FAITHFUL, execution=execution)
    return ImageSet(name, samples, parts, folder.root, pool)


def draw_sweep(images: ImageSet, draw: Sequence[Sample], folder: Path) -> tuple[Path, dict]:
    """The sweep of the draw's images, written as ``folder/sweep.json`` with its parts linked from the whole set's
    sweep (what the cv selection reads)."""
    target = SweepFolder(folder)
    target.parts.mkdir(parents=True, exist_ok=True)
    for sample in draw:
        link = target.part(sample.stem)
        if not link.exists():
            os.link(SweepFolder(images.sweep_root).part(sample.stem), link)
    classes = list(URBAN.scored)
    stems = [sample.stem for sample in draw]
    sweep = summarise([images.parts[stem] for stem in stems], URBAN, classes, stems)
    write_json_atomic(target.sweep, sweep)
    return target.sweep, sweep


def chosen_settings(
    images: ImageSet, draw: Sequence[Sample], folder: Path, execution: Execution
) -> dict[str, Settings | None]:
    """The thresholds each method chooses on ``draw`` (cv: ``None`` for a single image, which cannot be folded)."""
    sweep_file, sweep = draw_sweep(images, draw, folder)
    pick = pick_thresholds(sweep, URBAN)
    start = settings_from(pick, URBAN.num_classes)
    chosen: dict[str, Settings | None] = {"pick": start, "cv": None}
    if len(draw) >= 2:
        settings = ChoiceSettings(folds=min(CV_FOLDS, len(draw)))
        selection = select_by_cv(sweep_file, sweep, draw, URBAN, pick, settings=settings, execution=execution)
        chosen["cv"] = settings_from(selection.thresholds, URBAN.num_classes)
    state = joint_search(draw, URBAN, start, folder, max_objects=APPLY_MAX_OBJECTS, pool=images.pool)
    chosen["joint"] = state.settings
    return chosen


def change_on(images: ImageSet, stems: Sequence[str], settings: Settings) -> float:
    """The pooled mIoU (x100) of ``stems`` refined with ``settings`` minus their unrefined mIoU."""
    held = frozenset(stems)
    unrefined = images.pool.total("commit", held, (OFF,) * URBAN.num_classes)
    refined = images.pool.total("commit", held, settings)
    return 100 * (mean_iou(refined, URBAN) - mean_iou(unrefined, URBAN))


def curve(
    images: ImageSet, draws: int, seed: int, out: Path, execution: Execution, transfer: ImageSet | None = None
) -> dict:
    """Per size and method the held-out changes of every draw (and, with ``transfer``, the changes there)."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in sizes_for(len(images.samples)):
        for number in range(draws):
            chosen = sorted(rng.choice(len(images.samples), k, replace=False).tolist())
            draw = [images.samples[i] for i in chosen]
            settings = chosen_settings(images, draw, out / images.name / "draws" / f"k{k}_d{number}", execution)
            held = [s.stem for i, s in enumerate(images.samples) if i not in chosen]
            for method, value in settings.items():
                if value is None:
                    continue
                row = {
                    "set": images.name,
                    "k": k,
                    "draw": number,
                    "method": method,
                    "held_out": round(change_on(images, held, value), 4),
                    "modify": list(thresholds_of(value).modify),
                }
                if transfer is not None:
                    row["transfer"] = round(change_on(transfer, [s.stem for s in transfer.samples], value), 4)
                rows.append(row)
            print(
                f"{images.name} k={k} draw {number}: "
                + ", ".join(
                    f"{row['method']} {row['held_out']:+.2f}" for row in rows if row["k"] == k and row["draw"] == number
                ),
                flush=True,
            )
    return {"set": images.name, "images": len(images.samples), "rows": rows}


def summary(rows: Sequence[dict], key: str) -> dict[tuple[str, int], tuple[float, float, int]]:
    """Per (method, k): the mean and standard deviation of ``key`` over the draws, and their number."""
    out = {}
    for method in METHODS:
        for k in sorted({row["k"] for row in rows}):
            values = [row[key] for row in rows if row["method"] == method and row["k"] == k and key in row]
            if values:
                out[method, k] = (float(np.mean(values)), float(np.std(values)), len(values))
    return out


def markdown_table(curves: Sequence[dict]) -> str:
    """One row per set, scoring and method; one column per number of labelled images: mean ± sd of the change."""
    lines = []
    for result in curves:
        for key, scored_on in (("held_out", "held-out images of the set"), ("transfer", "every RURAL_LIKE scene")):
            figures = summary(result["rows"], key)
            if not figures:
                continue
            ks = sorted({k for _, k in figures})
            lines += [
                f"**{result['label']}**, scored on {scored_on} (mIoU change, mean ± sd over draws)",
                "",
                "| method | " + " | ".join(f"k={k}" for k in ks) + " |",
                "|---" * (len(ks) + 1) + "|",
            ]
            for method in METHODS:
                cells = [
                    f"{figures[method, k][0]:+.2f} ± {figures[method, k][1]:.2f}" if (method, k) in figures else "–"
                    for k in ks
                ]
                lines.append(f"| {method} | " + " | ".join(cells) + " |")
            lines.append("")
    return "\n".join(lines)


def plot(curves: Sequence[dict], path: Path) -> None:
    """One panel per set and scoring: the mean change (with ± sd bars) against the number of labelled images."""
    from matplotlib.figure import Figure

    panels = [(result, key) for result in curves for key in ("held_out", "transfer") if summary(result["rows"], key)]
    figure = Figure(figsize=(4.2 * len(panels), 3.6))
    for axes, (result, key) in zip(np.atleast_1d(figure.subplots(1, len(panels))), panels, strict=True):
        figures = summary(result["rows"], key)
        for method in METHODS:
            ks = [k for m, k in figures if m == method]
            means, sds = ([figures[method, k][i] for k in ks] for i in (0, 1))
            axes.errorbar(ks, means, yerr=sds, marker="o", capsize=3, label=method)
        axes.axhline(0, color="grey", linewidth=0.8)
        axes.set_xscale("log", base=2)
        axes.set_xlabel("labelled images tuned on")
        axes.set_ylabel("mIoU change (points)")
        axes.set_title(result["label"] + (" -> RURAL_LIKE" if key == "transfer" else ", held out"), fontsize=9)
        axes.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generated", type=int, default=24, help="URBAN_LIKE scenes generated (default 24)")
    parser.add_argument(
        "--rural", type=int, default=12, help="RURAL_LIKE scenes the transfer is scored on (default 12)"
    )
    parser.add_argument("--size", type=int, default=256, help="side of the generated scenes in pixels (default 256)")
    parser.add_argument("--draws", type=int, default=3, help="random draws per number of images (default 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("outputs/learning_curve"))
    parser.add_argument("--plot", type=Path, default=REPOSITORY / "docs" / "learning_curve.png")
    parser.add_argument("-n", "--workers", type=int, default=2)
    args = parser.parse_args(argv)
    execution = Execution(args.workers)
    began = time.perf_counter()
    for name, count, population in (("urban", args.generated, URBAN_LIKE), ("rural", args.rural, RURAL_LIKE)):
        generate_images(args.out / name, count, args.seed, args.size, population=population, execution=execution)
    sets = {
        name: pair_inputs(*(folder / kind for kind in ("pred", "sam", "gt")))
        for name, folder in (("fixture", FIXTURE_SCENES), ("urban", args.out / "urban"), ("rural", args.out / "rural"))
    }
    images = {name: prepared_set(name, samples, args.out, execution) for name, samples in sets.items()}
    try:
        curves = [
            {
                **curve(images["fixture"], args.draws, args.seed, args.out, execution),
                "label": f"reference fixture scenes ({len(sets['fixture'])})",
            },
            {
                **curve(images["urban"], args.draws, args.seed, args.out, execution, transfer=images["rural"]),
                "label": f"URBAN_LIKE scenes ({args.generated} of {args.size} px)",
            },
        ]
    finally:
        for image_set in images.values():
            image_set.pool.close()
    seconds = round(time.perf_counter() - began)
    settings = {key: value for key, value in vars(args).items() if key not in ("out", "plot")}
    write_json_atomic(args.out / "learning_curve.json", {"settings": settings, "seconds": seconds, "curves": curves})
    plot(curves, args.plot)
    print(f"\n{markdown_table(curves)}\n({seconds} s; figures in {args.out / 'learning_curve.json'}, plot {args.plot})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
