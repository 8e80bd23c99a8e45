"""Pick each class's best t1/t2 from a sweep, refine every image with them and report the figures.

Reference form:  python get_best_t1_t2.py -d Urban -m modify -s ssam -t 0.7
                 (every model folder under GeoSeg/fig_results/<dataset>/ with a sweep of that kind)
Explicit form:   python get_best_t1_t2.py --sweep OUT/sweep.json --pred-dir P --sam-dir S [--gt-dir G]
                 --dataset Urban --out OUT [--split split.json] [-t 0.7|all] [--max-objects 5]
                 [--scheduler tcp://HOST:8786]   (paths relative to the current folder)
                 [--mode improved] [--search joint] [--select cv [--folds 5] [--seed 0]] [--method auto]
Apply only:      python get_best_t1_t2.py --thresholds preset:NAME|best.json --pred-dir P --sam-dir S [--gt-dir G]
                 --dataset Urban --out OUT   (thresholds chosen elsewhere, no sweep; sessrs.presets() lists NAMEs)
"""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import replace
from pathlib import Path

from reference_layout import GT_FOLDERS, dataset_results, model_results
from rscommon.cli import run_main
from rscommon.datasets import DATASETS, DatasetSpec, get_dataset
from rscommon.files import InputError, write_json_atomic
from rscommon.parallel import Execution, check_scheduler
from sessrs.application import comparison_table
from sessrs.choice_settings import METHOD_CHOICES, SEARCHES, SELECTIONS, ChoiceSettings
from sessrs.choose import METHOD_RECORD, Choice, apply_given, choose_and_apply
from sessrs.folders import ChoiceFolder, SweepFolder
from sessrs.inputs import Sample, absolute, pair_inputs, read_split, select
from sessrs.modes import MODES, RefineOptions
from sessrs.presets import PRESET_PREFIX, thresholds_to_apply
from sessrs.thresholds import APPLY_MAX_OBJECTS
from sessrs.validate import check_held_out, read_sweep


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    reference = parser.add_argument_group("reference form")
    reference.add_argument("-d", "--reference-dataset", choices=sorted(DATASETS), help="all models of this dataset")
    reference.add_argument("-m", "--modify-type", default="modify", choices=sorted(GT_FOLDERS))
    reference.add_argument("-s", "--sam-type", default="sam")
    explicit = parser.add_argument_group("explicit form")
    explicit.add_argument("--sweep", help="a sweep.json written by sessrs_t1_t2.py")
    explicit.add_argument("--pred-dir")
    explicit.add_argument("--sam-dir")
    explicit.add_argument("--gt-dir", help="ground truth; without it images are refined but not scored")
    explicit.add_argument("--dataset", choices=sorted(DATASETS))
    explicit.add_argument("--out", help="output folder: best.json, metrics.json/.txt, se_mask/")
    explicit.add_argument("--split", help='JSON {"tune": [...], "eval": [...]}: refine and report the eval images')
    parser.add_argument(
        "-t", "--threshold-mode", default="0.7", help="largest picked t1 that is applied, or 'all' (0.99)"
    )
    parser.add_argument(
        "--max-objects",
        type=int,
        help=f"a list of two or more candidates this long or longer is not used (the reference applies with "
        f"{APPLY_MAX_OBJECTS}; with --thresholds: the limit its best.json records)",
    )
    parser.add_argument(
        "--mode",
        choices=MODES,
        help="faithful: the reference, quirks included (default); improved: every quirk fixed, each also a switch "
        "of sessrs.RefineOptions (docs/algorithm.md lists them); the sweep's mode (with --thresholds: the mode "
        "its best.json records)",
    )
    parser.add_argument(
        "--search",
        choices=SEARCHES,
        default="pick",
        help="pick: each class's best sweep row (the reference); joint: from there, every class's "
        "t1/t2 and its membership in modify together, by coordinate descent on the mIoU of the "
        "full application (needs --gt-dir; with --split it searches on the tune images)",
    )
    parser.add_argument(
        "--memory-limit",
        type=float,
        metavar="GB",
        help="with --search joint: gigabytes its processes may hold together (default: a twelfth of "
        "this machine's memory); images beyond it wait on disk between steps",
    )
    parser.add_argument(
        "--select",
        choices=SELECTIONS,
        default="all",
        help="all: refine every class of the pick's modify (the reference); cv: only the classes whose "
        "gain holds out, K-fold over the tune images (needs --gt-dir and the sweep's parts/; "
        "writes selection.json; not with --search joint)",
    )
    parser.add_argument(
        "--method",
        choices=METHOD_CHOICES,
        default="thresholds",
        help="thresholds: apply the chosen thresholds (the reference); auto: apply whichever of the chosen "
        "thresholds, no refinement, the majority vote and SSA's vote has the best mIoU held out, K-fold over the "
        "tune images (needs --gt-dir and the sweep's parts/; writes method_choice.json; not with --select cv; "
        "docs/object-quality.md)",
    )
    parser.add_argument("--folds", type=int, default=5, help="folds of the cv selection or --method auto (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="shuffles the cv selection's folds and its bootstrap")
    parser.add_argument(
        "--thresholds",
        help=f"apply these thresholds without a sweep: {PRESET_PREFIX}NAME (a published preset) or a best.json",
    )
    parser.add_argument("-n", "--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--scheduler",
        help="refine the images on this dask.distributed cluster (tcp://HOST:8786); "
        "its workers must see the same files",
    )
    parser.add_argument(
        "--restart",
        action="store_true",
        help="search and refine everything again instead of resuming (joint state, refined maps)",
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of a failure")
    args = parser.parse_args(argv)
    if args.thresholds is not None:
        if (
            args.sweep
            or args.reference_dataset
            or args.search != "pick"
            or args.select != "all"
            or args.method != "thresholds"
        ):
            parser.error("--thresholds applies given thresholds: not with --sweep, -d, --search, --select or --method")
        if not all([args.pred_dir, args.sam_dir, args.dataset, args.out]):
            parser.error("--thresholds needs --pred-dir --sam-dir --dataset --out")
    elif args.reference_dataset is None and not all([args.sweep, args.pred_dir, args.sam_dir, args.dataset, args.out]):
        parser.error("give -d DATASET, or --sweep --pred-dir --sam-dir --dataset --out, or --thresholds")
    if args.memory_limit is not None and not math.isfinite(args.memory_limit):
        raise InputError(f"--memory-limit {args.memory_limit}: give the gigabytes as a finite number")
    args.choice = ChoiceSettings(
        search=args.search,
        threshold_mode=args.threshold_mode,
        max_objects=APPLY_MAX_OBJECTS if args.max_objects is None else args.max_objects,
        options=RefineOptions.for_mode(args.mode or "faithful"),
        select=args.select,
        folds=args.folds,
        seed=args.seed,
        memory_limit=None if args.memory_limit is None else int(args.memory_limit * 2**30),
        method=args.method,
    )
    args.execution = Execution(args.workers, args.scheduler)
    return args


def run_reference_form(args: argparse.Namespace) -> None:
    """Pick and apply for every model folder of the dataset that has a sweep of this kind."""
    results_root = dataset_results(args.reference_dataset)
    summary = {}
    for folder in sorted(p for p in results_root.iterdir() if (p / "pre_p").is_dir()):
        paths = model_results(folder, args.modify_type, args.sam_type)
        sweep_file = SweepFolder(paths.sweep_dir).sweep
        if not sweep_file.is_file():
            print(f"skipping {folder.name}: no {sweep_file}")
            continue
        spec = get_dataset(paths.dataset)
        samples = pair_inputs(paths.pred_dir, paths.sam_dir, paths.gt_dir)
        result = choose(args, sweep_file, samples, samples, spec, ChoiceFolder(paths.sweep_dir, paths.refined_dir))
        summary[folder.name] = {"best": result.thresholds.to_json(), "report": result.report}
        if result.report is not None:
            print(f"{folder.name}\n{comparison_table(result.report, spec)}")
    contrast = results_root / f"sessrs_contrast_{args.threshold_mode}"
    write_json_atomic(contrast / f"{args.modify_type}_{args.sam_type}_contrast.json", summary)


def choose(
    args: argparse.Namespace,
    sweep_file: Path,
    tune: list[Sample],
    samples: list[Sample],
    spec: DatasetSpec,
    folder: ChoiceFolder,
) -> Choice:
    """The choice the arguments ask for, applied, with a line on the joint search's progress when it ran."""
    with folder.locked(samples):
        if args.restart:
            folder.restart()
        result = choose_and_apply(
            sweep_file, tune, samples, spec, folder, settings=args.choice, execution=args.execution
        )
    if result.details is not None:
        trace = result.details
        print(
            f"joint search from the per-class pick: mIoU on {len(tune)} tune images {trace['mIoU_start']:.2f} "
            f"-> {trace['mIoU_best']:.2f} in {trace['rounds']} rounds (trace: {folder.joint_trace})"
        )
    if result.selection is not None:
        print(
            f"cv selection: modify {result.selection['modify']} of the pick's {result.selection['pick_modify']} "
            f"(per class gains: {folder.selection})"
        )
    if result.method is not None:
        print(f"method chosen held out: {result.method['method']} (figures: {folder.root / METHOD_RECORD})")
    return result


def explicit_samples(args: argparse.Namespace) -> tuple[list[Sample], list[Sample]]:
    """The images to refine and the images to tune on, from the explicit form's folders and split."""
    samples = tune = pair_inputs(args.pred_dir, args.sam_dir, args.gt_dir)
    if args.split:
        split = read_split(absolute(args.split))
        samples, tune = (select(tune, split[part], args.split) for part in ("eval", "tune"))
    return samples, tune


def run_apply_only(args: argparse.Namespace) -> None:
    """Apply thresholds chosen elsewhere (a preset or a best.json), saying what a preset was tuned for."""
    spec = get_dataset(args.dataset)
    thresholds, message, options, max_objects = thresholds_to_apply(args.thresholds, spec, args.mode, args.max_objects)
    settings = replace(args.choice, options=options, max_objects=max_objects)
    if message is not None:
        print(message)
    samples, _ = explicit_samples(args)
    folder = ChoiceFolder(args.out)
    record = {"preset": args.thresholds.removeprefix(PRESET_PREFIX)} if message is not None else None
    with folder.locked(samples):
        if args.restart:
            folder.restart()
        report = apply_given(
            thresholds, samples, spec, folder, settings=settings, execution=args.execution, record=record
        )
    if report is not None:
        print(comparison_table(report, spec))
    print(f"refined images in {folder.refined}")


def run_explicit_form(args: argparse.Namespace) -> None:
    spec = get_dataset(args.dataset)
    samples, tune = explicit_samples(args)
    if args.split:
        check_held_out(read_sweep(absolute(args.sweep), spec), tune, samples, spec, absolute(args.sweep))
    folder = ChoiceFolder(args.out)
    result = choose(args, absolute(args.sweep), tune, samples, spec, folder)
    print(f"best thresholds: {result.thresholds.to_json()}")
    if result.report is not None:
        print(comparison_table(result.report, spec))
    print(f"refined images in {folder.refined}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.scheduler:
        check_scheduler(args.scheduler)
    if args.thresholds is not None:
        run_apply_only(args)
    elif args.reference_dataset is not None:
        run_reference_form(args)
    else:
        run_explicit_form(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
