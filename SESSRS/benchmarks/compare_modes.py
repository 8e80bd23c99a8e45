"""Compare unrefined, per-class pick and joint search, in faithful and improved mode, under a held-out protocol.

Leave one image out: each image is refined with thresholds tuned (sweep -> per-class pick -> joint search) on the
other images only, and the confusion matrices of the held-out images are pooled. Prints a markdown table (mIoU,
OA) and writes the figures with per-class IoU to ``--out``/comparison.json.

Run:  python SESSRS/benchmarks/compare_modes.py                      # the 10 reference fixture scenes
      python SESSRS/benchmarks/compare_modes.py --pred-dir outputs/demo/loveda/pred \\
          --sam-dir outputs/demo/loveda/sam/regions --gt-dir outputs/demo/loveda/gt --dataset Urban
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from rscommon.datasets import DATASETS, DatasetSpec, get_dataset
from rscommon.files import write_json_atomic
from rscommon.metrics import compute_scores
from sessrs.inputs import Sample, load_ground_truth, load_scene, pair_inputs
from sessrs.joint import ShardPool, joint_search, settings_from
from sessrs.joint_engine import OFF
from sessrs.modes import MODES, RefineOptions
from sessrs.pick import pick_thresholds
from sessrs.sweep import summarise
from sessrs.sweep_engine import sweep_scene
from sessrs.thresholds import APPLY_MAX_OBJECTS, SWEEP_MAX_OBJECTS

FIXTURE_SCENES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "sessrs_reference" / "scenes"
METHODS = ("unrefined", "per-class pick", "joint search")


def held_out(samples: list[Sample], spec: DatasetSpec, mode: str, out: Path, workers: int) -> dict:
    """Pooled held-out confusion matrices of the three methods in one mode, and each fold's thresholds."""
    options = RefineOptions.for_mode(mode)
    classes = list(spec.scored)
    sweeps = {}
    for sample in samples:
        scene = load_scene(sample, spec)
        gt = load_ground_truth(sample, spec, scene.shape)
        sweeps[sample.stem] = sweep_scene(scene, gt, classes, options.sweep_object_limit(SWEEP_MAX_OBJECTS,
                                                                                          APPLY_MAX_OBJECTS),
                                          options=options)
    pooled = {method: 0 for method in METHODS}
    folds = []
    with ShardPool(samples, spec, APPLY_MAX_OBJECTS, options, workers) as pool:
        for held in samples:
            tune = [s for s in samples if s is not held]
            sweep = summarise([sweeps[s.stem] for s in tune], spec, classes, [s.stem for s in tune])
            start = settings_from(pick_thresholds(sweep, spec, "0.7"), spec.num_classes)
            state = joint_search(tune, spec, start, out / mode / held.stem, APPLY_MAX_OBJECTS, options=options,
                                 classes=classes, pool=pool)
            stems = frozenset([held.stem])
            for method, settings in zip(METHODS, ((OFF,) * spec.num_classes, start, state.settings)):
                pooled[method] = pooled[method] + pool.total("commit", stems, settings)
            folds.append({"held_out": held.stem, "pick_tune_mIoU": state.trace[0]["mIoU"],
                          "joint_tune_mIoU": 100 * state.miou, "rounds": state.round,
                          "settings_scored": state.evaluations, "seconds": round(state.seconds, 1),
                          "pick": state.trace[0]["thresholds"], "joint": {
                              "t1": {str(c): s.t1 for c, s in enumerate(state.settings)},
                              "t2": {str(c): s.t2 for c, s in enumerate(state.settings)},
                              "modify": [c for c, s in enumerate(state.settings) if s.refined]}})
    return {"matrices": pooled, "folds": folds}


def figures(matrix: np.ndarray, spec: DatasetSpec) -> dict:
    scores = compute_scores(matrix, spec.scored)
    shown = scores.as_dict(spec.classes)
    return {"mIoU": shown["mIoU"], "OA": shown["OA"], "IoU": shown["IoU"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pred-dir", type=Path, default=FIXTURE_SCENES / "pred")
    parser.add_argument("--sam-dir", type=Path, default=FIXTURE_SCENES / "sam")
    parser.add_argument("--gt-dir", type=Path, default=FIXTURE_SCENES / "gt")
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="Urban")
    parser.add_argument("--label", default="reference fixture scenes", help="what the images are, for the table")
    parser.add_argument("--out", type=Path, default=Path("outputs/compare_modes"))
    parser.add_argument("-n", "--workers", type=int, default=2)
    args = parser.parse_args()
    spec = get_dataset(args.dataset)
    samples = pair_inputs(args.pred_dir, args.sam_dir, args.gt_dir)
    began = time.perf_counter()
    results = {mode: held_out(samples, spec, mode, args.out, args.workers) for mode in MODES}
    rows, table = [], [f"Held-out (leave one image out) on {len(samples)} {args.label} ({spec.name} classes)", "",
                       "| method | mode | mIoU | change | OA |", "|---|---|---|---|---|"]
    unrefined = figures(results[MODES[0]]["matrices"]["unrefined"], spec)
    for method in METHODS:
        for mode in MODES if method != "unrefined" else MODES[:1]:
            shown = figures(results[mode]["matrices"][method], spec)
            rows.append({"method": method, "mode": mode if method != "unrefined" else "-", **shown})
            table.append(f"| {method} | {rows[-1]['mode']} | {shown['mIoU']:.2f} | "
                         f"{shown['mIoU'] - unrefined['mIoU']:+.2f} | {shown['OA']:.2f} |")
    report = {"images": [s.stem for s in samples], "dataset": spec.name, "label": args.label, "rows": rows,
              "folds": {mode: results[mode]["folds"] for mode in MODES},
              "matrices": {mode: {m: results[mode]["matrices"][m].tolist() for m in METHODS} for mode in MODES},
              "seconds": round(time.perf_counter() - began, 1)}
    write_json_atomic(args.out / "comparison.json", report)
    print("\n".join(table))
    print(f"\n(per-class IoU and each fold's thresholds in {args.out / 'comparison.json'}; "
          f"{report['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
