"""Which refinement wins as the objects get worse: held-out mIoU change against object quality.

The generated scenes (``sessrs.synthetic``: URBAN_LIKE, with objects that follow the true regions, ``CLEAN``) are
made once; their objects are then degraded by ``sessrs.object_faults``: along one axis of badness from 0 (clean)
to 1 (every fault together,
``ObjectFaults.at_quality``), and each fault alone at badness 1. For each setting the methods are tuned on the
first half of the scenes and scored on the other half (pooled mIoU minus the unrefined prediction's):
SSA's vote, the majority vote (t = 0.5), the SESSRS per-class pick, the joint search, the improved mode (its
sweep and its pick) and ``--method auto`` (the pick, no refinement or a vote, chosen by its held-out
mIoU over 5 folds of the tune images). Everything runs through the library's API (``sweep_folder``,
``choose_folder``, ``apply_thresholds``). The crossovers (where a vote and the pick swap places) are printed and
marked on the plot. ``--real NAME=DIR`` adds the demo's output of one sample set (``DIR/pred``, ``DIR/gt``,
``DIR/sam/regions``: the weight-free regions objects) as a real point, tuned on half its tiles.

``--fixtures`` scores the 10 reference fixture scenes instead, leaving one image out: each image refined by the
votes and by the auto choice made on the other nine.

Run:  python SESSRS/benchmarks/object_quality.py --figure docs/figures/object_quality.png   # minutes on 2 cores
      python SESSRS/benchmarks/object_quality.py --scenes 80 --size 512 --badness 0 0.05 0.1 0.15 0.2 0.3 1
      python SESSRS/benchmarks/object_quality.py --real loveda=outputs/demo/loveda --dataset Urban
      python SESSRS/benchmarks/object_quality.py --fixtures
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rscommon.datasets import DATASETS, URBAN, DatasetSpec, get_dataset
from rscommon.files import write_json_atomic
from rscommon.labels import write_label_png
from rscommon.metrics import compute_scores, confusion_matrix
from rscommon.objects import read_objects
from rscommon.parallel import Execution
from sessrs.api import apply_thresholds, choose_folder, sweep_folder
from sessrs.choose import ChoiceSettings
from sessrs.folders import SweepFolder
from sessrs.inputs import load_ground_truth, load_prepared, pair_inputs
from sessrs.method_choice import choose_method
from sessrs.methods import refine_sample, vote
from sessrs.modes import RefineOptions
from sessrs.object_faults import FAULTS, ObjectFaults, degrade
from sessrs.pick import pick_thresholds
from sessrs.sweep import summarise
from sessrs.sweep_engine import REFERENCE_GRID, sweep_image
from sessrs.synthetic import URBAN_LIKE, make_image
from sessrs.thresholds import APPLY_MAX_OBJECTS, SWEEP_MAX_OBJECTS, Thresholds

REPOSITORY = Path(__file__).resolve().parents[2]
FIXTURE_SCENES = REPOSITORY / "tests" / "fixtures" / "sessrs_reference" / "scenes"
METHODS = ("SSA vote", "majority vote", "SESSRS pick", "joint", "improved", "auto")
PEERS = ("SSA vote", "majority vote", "SESSRS pick", "joint", "improved")
VOTES = {"SSA vote": "ssa_vote", "majority vote": "majority_vote"}
CLEAN = dataclasses.replace(URBAN_LIKE, grow_rate=0.0, merge_rate=0.0, split_rate=0.0)
"""URBAN_LIKE with every object following its true region: the object errors come from the faults only."""
COLOURS = dict(zip(METHODS, ("tab:orange", "tab:red", "tab:blue", "tab:cyan", "tab:purple", "black")))


def write_scenes(folder: Path, count: int, size: int, seed: int, faults: ObjectFaults) -> list[str]:
    """``count`` CLEAN scenes (the same for every ``faults``) with degraded objects, into ``folder``."""
    for kind in ("pred", "sam", "gt"):
        (folder / kind).mkdir(parents=True, exist_ok=True)
    stems = []
    for index in range(count):
        stem = f"g{index:05d}"
        gt, pred, objects = make_image(np.random.default_rng((seed, index)), size, CLEAN)
        objects = degrade(np.random.default_rng((seed, index, 1)), gt, objects, faults)
        write_label_png(folder / "gt" / f"{stem}.png", gt, URBAN)
        write_label_png(folder / "pred" / f"{stem}.png", pred, URBAN)
        write_json_atomic(folder / "sam" / f"{stem}.json", objects)
        stems.append(stem)
    return stems


def held_out_changes(
    dirs: tuple[Path, Path, Path], tune: list[str], held: list[str], spec: DatasetSpec, work: Path, execution: Execution
) -> dict:
    """Each method tuned on ``tune`` and scored on ``held``: the pooled mIoU change (points) and the auto choice."""
    pred, sam, gt = dirs
    changes, unrefined = {}, None
    for mode in ("faithful", "improved"):
        options = RefineOptions.for_mode(mode)
        sweep_folder(pred, sam, gt, work / f"sweep_{mode}", spec, images=tune, options=options, execution=execution)
    runs = {
        "SESSRS pick": ("faithful", ChoiceSettings()),
        "joint": ("faithful", ChoiceSettings(search="joint")),
        "improved": ("improved", ChoiceSettings(options=RefineOptions.improved())),
        "auto": ("faithful", ChoiceSettings(search="joint", method="auto", folds=min(5, len(tune)))),
    }
    chosen = None
    for method, (mode, settings) in runs.items():
        sweep = SweepFolder(work / f"sweep_{mode}").sweep
        choice = choose_folder(
            sweep, pred, sam, work / method.replace(" ", "_"), spec, gt_dir=gt, tune=tune, images=held,
            settings=settings, execution=execution,
        )  # fmt: skip
        unrefined = choice.report["unrefined"]["mIoU"]
        changes[method] = round(choice.report["refined"]["mIoU"] - unrefined, 2)
        if choice.method is not None:
            chosen = choice.method["method"]
    for method, name in VOTES.items():
        report = apply_thresholds(
            Thresholds({}, {}, (), method=name), pred, sam, work / name, spec, gt_dir=gt, images=held,
            execution=execution,
        )  # fmt: skip
        changes[method] = round(report["refined"]["mIoU"] - unrefined, 2)
    return {"unrefined_mIoU": unrefined, "change": changes, "auto_chose": chosen}


def crossovers(badness: Sequence[float], results: Sequence[dict]) -> list[dict]:
    """Where each vote and the SESSRS pick swap places along the badness axis (linear between grid points)."""
    found = []
    for vote_name in VOTES:
        gap = [r["change"][vote_name] - r["change"]["SESSRS pick"] for r in results]
        for (x0, g0), (x1, g1) in zip(zip(badness, gap), zip(badness[1:], gap[1:])):
            if g0 * g1 < 0 or (g1 == 0 and g0 != 0):
                at = x0 + (x1 - x0) * g0 / (g0 - g1)
                found.append({"vote": vote_name, "badness": round(at, 3), "vote_better_below": g0 > 0})
    return found


def plot(results: dict, figure_path: Path) -> None:
    """Left: the change against badness, crossovers marked; right: each fault alone and the real points."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12, 4.6))
    left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1.2, 1]})
    badness = [point["badness"] for point in results["axis"]]
    for method in METHODS:
        values = [point["change"][method] for point in results["axis"]]
        style = {"linewidth": 2.5, "linestyle": "--"} if method == "auto" else {"marker": "o"}
        left.plot(badness, values, label=method, color=COLOURS[method], **style)
    low, high = left.get_ylim()
    for row, crossing in enumerate(results["crossovers"]):
        left.axvline(crossing["badness"], color=COLOURS[crossing["vote"]], linestyle=":", linewidth=1)
        left.annotate(
            f"{crossing['vote']} = pick at {crossing['badness']:.2f}",
            (crossing["badness"] + 0.01, high - (0.06 + 0.07 * row) * (high - low)),
            fontsize=8,
            color=COLOURS[crossing["vote"]],
        )
    left.axhline(0, color="grey", linewidth=0.8)
    left.set_xlabel("object badness (0: objects on the true regions; 1: every fault of sessrs.object_faults)")
    left.set_ylabel("held-out mIoU change (points)")
    left.set_title(f"generated scenes ({results['scenes']} of {results['size']}²; tuned on half)")
    left.legend(fontsize=8)
    groups = [*results["faults"], *results["real"]]
    width = 0.8 / len(METHODS)
    for offset, method in enumerate(METHODS):
        values = [group["change"][method] for group in groups]
        right.bar(np.arange(len(groups)) + (offset - len(METHODS) / 2 + 0.5) * width, values, width,
                  color=COLOURS[method], label=method)  # fmt: skip
    right.axhline(0, color="grey", linewidth=0.8)
    right.set_xticks(range(len(groups)), [group["name"] for group in groups], rotation=30, fontsize=8)
    right.set_ylabel("held-out mIoU change (points)")
    right.set_title("each fault alone (at badness 1), and real tiles")
    figure.tight_layout()
    figure_path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(figure_path, dpi=110)


def run_grid(args: argparse.Namespace, execution: Execution) -> dict:
    settings = [(f"badness {b:g}", b, ObjectFaults.at_quality(b)) for b in args.badness]
    settings += [(fault, None, ObjectFaults.at_quality(1).only(fault)) for fault in FAULTS]
    results = {"scenes": args.scenes, "size": args.size, "seed": args.seed, "axis": [], "faults": [], "real": []}
    for name, badness, faults in settings:
        began = time.process_time()
        folder = args.out / name.replace(" ", "_")
        stems = write_scenes(folder / "scenes", args.scenes, args.size, args.seed, faults)
        half = len(stems) // 2
        dirs = (folder / "scenes" / "pred", folder / "scenes" / "sam", folder / "scenes" / "gt")
        point = held_out_changes(dirs, stems[:half], stems[half:], URBAN, folder / "work", execution)
        point.update(name=name, faults=faults.describe(), cpu_seconds=round(time.process_time() - began, 1))
        if badness is not None:
            results["axis"].append({**point, "badness": badness})
        else:
            results["faults"].append(point)
        print(
            f"{name:<14} "
            + " ".join(f"{m} {point['change'][m]:+.2f}" for m in METHODS)
            + f" (auto: {point['auto_chose']})"
        )
    for name, folder in args.real:
        samples = pair_inputs(folder / "pred", folder / "sam" / "regions", folder / "gt")
        stems = [sample.stem for sample in samples]
        dirs = (folder / "pred", folder / "sam" / "regions", folder / "gt")
        point = held_out_changes(
            dirs, stems[::2], stems[1::2], get_dataset(args.dataset), args.out / "real" / name, execution
        )
        results["real"].append({**point, "name": f"real: {name}"})
        print(f"real {name:<9} " + " ".join(f"{m} {point['change'][m]:+.2f}" for m in METHODS))
    results["crossovers"] = crossovers([p["badness"] for p in results["axis"]], results["axis"])
    return results


def run_fixtures(spec: DatasetSpec) -> dict:
    """The 10 reference fixture scenes, leave one image out: votes, pick and the auto choice, pooled."""
    samples = pair_inputs(FIXTURE_SCENES / "pred", FIXTURE_SCENES / "sam", FIXTURE_SCENES / "gt")
    classes = list(spec.scored)
    parts, prepared, gts = {}, {}, {}
    for sample in samples:
        prepared[sample.stem] = load_prepared(sample, spec)
        gts[sample.stem] = load_ground_truth(sample, spec, prepared[sample.stem].shape)
        parts[sample.stem] = sweep_image(
            prepared[sample.stem], gts[sample.stem], classes, max_objects=SWEEP_MAX_OBJECTS
        )
    square = (spec.num_classes, spec.num_classes)
    pooled = {name: np.zeros(square, np.int64) for name in ("unrefined", *VOTES, "SESSRS pick", "auto")}
    chosen = {}
    for held in samples:
        tune = [s for s in samples if s is not held]
        tune_parts = {s.stem: parts[s.stem] for s in tune}
        pick = pick_thresholds(summarise(list(tune_parts.values()), spec, classes, list(tune_parts)), spec, 0.7)
        auto = choose_method(tune_parts, REFERENCE_GRID, tune, spec, pick)
        chosen[held.stem] = auto.record["method"]
        gt, image = gts[held.stem], prepared[held.stem]
        objects = read_objects(held.sam, image.shape)
        pooled["unrefined"] += confusion_matrix(gt, image.pred, spec.num_classes)
        for name, method in VOTES.items():
            pooled[name] += confusion_matrix(gt, vote(image.pred, objects, method), spec.num_classes)
        for name, thresholds in (("SESSRS pick", pick), ("auto", auto.thresholds)):
            refined = refine_sample(
                held, image, thresholds, max_objects=APPLY_MAX_OBJECTS, options=RefineOptions.faithful()
            )
            pooled[name] += confusion_matrix(gt, refined, spec.num_classes)
    miou = {name: compute_scores(matrix, spec.scored).as_dict(spec.classes)["mIoU"] for name, matrix in pooled.items()}
    return {"mIoU": miou, "auto_chose": chosen}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=40, help="generated scenes per setting (half tune, half held)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--badness", type=float, nargs="+", default=[0, 0.1, 0.2, 0.3, 0.5, 0.75, 1])
    parser.add_argument("--real", action="append", default=[], metavar="NAME=DIR", help="a demo sample set's folder")
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="Urban", help="the classes of --real")
    parser.add_argument("--fixtures", action="store_true", help="the reference fixture scenes, leave one image out")
    parser.add_argument("--out", type=Path, default=Path("outputs/object_quality"))
    parser.add_argument("--figure", type=Path, help="the plot (default: OUT/object_quality.png)")
    parser.add_argument("-n", "--workers", type=int, default=1)
    args = parser.parse_args(argv)
    args.real = [(name, Path(folder)) for name, _, folder in (item.partition("=") for item in args.real)]
    began = time.perf_counter()
    if args.fixtures:
        results = run_fixtures(URBAN)
        print(json.dumps(results, indent=1))
        write_json_atomic(args.out / "fixtures.json", results)
        return
    results = run_grid(args, Execution(args.workers))
    results["seconds"] = round(time.perf_counter() - began, 1)
    write_json_atomic(args.out / "object_quality.json", results)
    plot(results, args.figure or args.out / "object_quality.png")
    for crossing in results["crossovers"]:
        side = "below" if crossing["vote_better_below"] else "above"
        print(f"crossover: {crossing['vote']} beats the SESSRS pick {side} badness {crossing['badness']:.2f}")
    for point in [*results["axis"], *results["faults"], *results["real"]]:
        best_peer = max(point["change"][m] for m in PEERS)
        print(f"{point['name']:<14} auto {point['change']['auto']:+.2f} vs best peer {best_peer:+.2f}")
    print(f"({results['seconds']:.0f} s; figures in {args.out / 'object_quality.json'})")


if __name__ == "__main__":
    main()
