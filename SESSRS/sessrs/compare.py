"""Unrefined, per-class pick and joint search, in faithful and improved mode, compared under a held-out protocol.

Leave one image out: each image is refined with thresholds tuned (sweep -> per-class pick -> joint search) on the
other images only; the confusion matrices of the held-out images are pooled. The sweeps of each image are made
once, and one pool of workers keeps every image's caches for all the folds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rscommon.datasets import DatasetSpec
from rscommon.files import InputError
from rscommon.metrics import compute_scores
from rscommon.parallel import Execution

from .inputs import Sample, load_ground_truth, load_prepared
from .joint import ShardPool, joint_search, settings_from, thresholds_of
from .joint_engine import OFF
from .modes import MODES, RefineOptions
from .pick import pick_thresholds
from .sweep import summarise
from .sweep_engine import sweep_image
from .thresholds import APPLY_MAX_OBJECTS, SWEEP_MAX_OBJECTS

METHODS = ("unrefined", "per-class pick", "joint search")


def held_out(
    samples: Sequence[Sample],
    spec: DatasetSpec,
    mode: str,
    state_dir: str | Path,
    workers: int = 1,
    threshold_mode: str | float = 0.7,
) -> dict:
    """Leave-one-image-out in one mode: pooled confusion matrices per method, and each fold's thresholds.

    Each fold's joint search keeps its state under ``state_dir/<mode>/<held-out image>`` (resumable).
    """
    options = RefineOptions.for_mode(mode)
    classes = list(spec.scored)
    limit = options.sweep_object_limit(SWEEP_MAX_OBJECTS, APPLY_MAX_OBJECTS)
    sweeps = {}
    for sample in samples:
        prepared = load_prepared(sample, spec)
        sweeps[sample.stem] = sweep_image(
            prepared, load_ground_truth(sample, spec, prepared.shape), classes, limit, options=options
        )
    pooled = {method: np.zeros((spec.num_classes, spec.num_classes), np.int64) for method in METHODS}
    folds = []
    with ShardPool(samples, spec, APPLY_MAX_OBJECTS, options, Execution(workers)) as pool:
        for held in samples:
            tune = [s for s in samples if s is not held]
            sweep = summarise([sweeps[s.stem] for s in tune], spec, classes, [s.stem for s in tune])
            start = settings_from(pick_thresholds(sweep, spec, threshold_mode), spec.num_classes)
            state = joint_search(
                tune,
                spec,
                start,
                Path(state_dir) / mode / held.stem,
                max_objects=APPLY_MAX_OBJECTS,
                options=options,
                classes=classes,
                pool=pool,
            )
            for method, settings in zip(METHODS, ((OFF,) * spec.num_classes, start, state.settings)):
                pooled[method] += pool.total("commit", frozenset([held.stem]), settings)
            folds.append(
                {
                    "held_out": held.stem,
                    "pick": thresholds_of(start).to_json(),
                    "joint": thresholds_of(state.settings).to_json(),
                    "tune_mIoU_pick": state.trace[0]["mIoU"],
                    "tune_mIoU_joint": 100 * state.miou,
                    "rounds": state.round,
                    "settings_scored": state.evaluations,
                    "seconds": round(state.seconds, 1),
                }
            )
    return {"matrices": pooled, "folds": folds}


def compare_modes(samples: Sequence[Sample], spec: DatasetSpec, state_dir: str | Path, workers: int = 1) -> dict:
    """Every method in every mode, held out; ``rows`` hold mIoU, OA and per-class IoU (x100, 2 decimals)."""
    if len(samples) < 2:
        raise InputError("leaving one image out needs at least two images")
    results = {mode: held_out(samples, spec, mode, state_dir, workers) for mode in MODES}
    rows = []
    for method in METHODS:
        for mode in MODES if method != "unrefined" else MODES[:1]:
            scores = compute_scores(results[mode]["matrices"][method], spec.scored).as_dict(spec.classes)
            rows.append(
                {
                    "method": method,
                    "mode": mode if method != "unrefined" else "-",
                    "mIoU": scores["mIoU"],
                    "OA": scores["OA"],
                    "IoU": scores["IoU"],
                }
            )
    return {
        "images": [s.stem for s in samples],
        "dataset": spec.name,
        "protocol": "leave one image out",
        "rows": rows,
        "folds": {mode: results[mode]["folds"] for mode in MODES},
        "matrices": {mode: {m: results[mode]["matrices"][m].tolist() for m in METHODS} for mode in MODES},
    }


def markdown_table(comparison: dict) -> str:
    """The rows as a markdown table: method, mode, mIoU, its change against the unrefined prediction, OA."""
    unrefined = comparison["rows"][0]["mIoU"]
    lines = ["| method | mode | mIoU | change | OA |", "|---|---|---|---|---|"]
    for row in comparison["rows"]:
        lines.append(
            f"| {row['method']} | {row['mode']} | {row['mIoU']:.2f} | {row['mIoU'] - unrefined:+.2f} "
            f"| {row['OA']:.2f} |"
        )
    return "\n".join(lines)
