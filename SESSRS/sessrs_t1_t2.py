"""Sweep the SESSRS thresholds t1/t2 class by class and score every pair.

Reference form:  python sessrs_t1_t2.py -f GeoSeg/fig_results/Urban/unetformer -m modify -s ssam -n 8
                 (paths relative to the repository root)
Explicit form:   python sessrs_t1_t2.py --pred-dir P --sam-dir S --gt-dir G --dataset Urban --out OUT
                 [--classes 1 2] [--split split.json] [-n 2] [--scheduler tcp://HOST:8786]
                 [--mode improved] [--t1-values 0.4 0.5 ...] [--t2-values 0.5 0.6 ...]
                 (paths relative to the current folder)
"""

from __future__ import annotations

import argparse
import os

from reference_layout import GT_FOLDERS, from_root, model_results
from rscommon.cli import run_main
from rscommon.datasets import DATASETS, get_dataset
from rscommon.parallel import Execution, check_scheduler
from sessrs.folders import SweepFolder
from sessrs.inputs import absolute, pair_inputs, read_split, select, split_record
from sessrs.modes import MODES, RefineOptions
from sessrs.sweep import run_sweep
from sessrs.sweep_engine import REFERENCE_T1_VALUES, REFERENCE_T2_VALUES, ThresholdGrid
from sessrs.thresholds import APPLY_MAX_OBJECTS, SWEEP_MAX_OBJECTS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    reference = parser.add_argument_group("reference form")
    reference.add_argument(
        "-f", "--fig-results", help="a model's results folder, e.g. GeoSeg/fig_results/Urban/unetformer"
    )
    reference.add_argument(
        "-m",
        "--modify-type",
        default="modify",
        choices=sorted(GT_FOLDERS),
        help="ground truth: val/modify_masks (modify) or val/masks (no_modify)",
    )
    reference.add_argument(
        "-s", "--sam-type", default="sam", help="objects under GeoSeg/data/<dataset>/sam_label_info/<sam>"
    )
    explicit = parser.add_argument_group("explicit form")
    explicit.add_argument("--pred-dir", help="P-mode predictions, one PNG per image")
    explicit.add_argument("--sam-dir", help="SAM objects, <stem>.json per prediction")
    explicit.add_argument("--gt-dir", help="ground truth, <stem>.png per prediction")
    explicit.add_argument("--dataset", choices=sorted(DATASETS))
    explicit.add_argument("--out", help="output folder (sweep.json, sweep.txt, heatmaps)")
    parser.add_argument("--split", help='JSON {"tune": [...], "eval": [...]}: sweep only the tune images')
    parser.add_argument("--classes", type=int, nargs="+", help="classes to sweep (default: the scored classes)")
    parser.add_argument("-n", "--workers", type=int, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument(
        "--scheduler",
        help="run the images on this dask.distributed cluster (tcp://HOST:8786); its workers must see the same files",
    )
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="faithful",
        help="faithful: the reference, quirks included (default); improved: every quirk fixed, each also a switch "
        "of sessrs.RefineOptions (docs/algorithm.md lists them)",
    )
    parser.add_argument(
        "--t1-values",
        type=float,
        nargs="+",
        default=list(REFERENCE_T1_VALUES),
        help="the t1 values to try (default: the reference's %(default)s)",
    )
    parser.add_argument(
        "--t2-values",
        type=float,
        nargs="+",
        default=list(REFERENCE_T2_VALUES),
        help="the t2 values to try with each t1 (default: the reference's %(default)s)",
    )
    parser.add_argument(
        "--max-objects",
        type=int,
        default=None,
        help=f"a list of two or more candidates this long or longer is not used (default: the reference sweeps with "
        f"{SWEEP_MAX_OBJECTS}; the improved mode with the application's {APPLY_MAX_OBJECTS})",
    )
    parser.add_argument(
        "--restart", action="store_true", help="compute every image again instead of resuming from the saved parts"
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of a failure")
    args = parser.parse_args(argv)
    explicit_given = [args.pred_dir, args.sam_dir, args.gt_dir, args.dataset, args.out]
    if args.fig_results is None and not all(explicit_given):
        parser.error("give -f FIG_RESULTS, or all of --pred-dir --sam-dir --gt-dir --dataset --out")
    try:
        args.grid = ThresholdGrid(tuple(args.t1_values), tuple(args.t2_values))
    except ValueError as error:
        parser.error(str(error))
    if args.max_objects is None:
        args.max_objects = RefineOptions.for_mode(args.mode).sweep_object_limit(SWEEP_MAX_OBJECTS, APPLY_MAX_OBJECTS)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.scheduler:
        check_scheduler(args.scheduler)
    if args.fig_results is not None:
        paths = model_results(args.fig_results, args.modify_type, args.sam_type)
        pred_dir, sam_dir, gt_dir, dataset, out = (
            paths.pred_dir,
            paths.sam_dir,
            paths.gt_dir,
            paths.dataset,
            paths.sweep_dir,
        )
        split = args.split and from_root(args.split)
    else:
        pred_dir, sam_dir, gt_dir, out = (absolute(p) for p in (args.pred_dir, args.sam_dir, args.gt_dir, args.out))
        dataset, split = args.dataset, args.split and absolute(args.split)
    spec = get_dataset(dataset)
    samples, record = pair_inputs(pred_dir, sam_dir, gt_dir), None
    if split:
        chosen = read_split(split)
        samples, record = select(samples, chosen["tune"], split), split_record(split, chosen)
    folder = SweepFolder(out)
    sweep = run_sweep(
        samples,
        spec,
        folder,
        classes=args.classes,
        max_objects=args.max_objects,
        grid=args.grid,
        options=RefineOptions.for_mode(args.mode),
        execution=Execution(args.workers, args.scheduler),
        split=record,
        restart=args.restart,
    )
    print(folder.text.read_text())
    print(
        f"wrote {folder.sweep} ({len(sweep['sweeps'])} classes x {len(args.grid.pairs)} pairs "
        f"over {len(samples)} images, {args.mode} mode)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
