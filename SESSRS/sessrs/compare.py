"""Unrefined, per-class pick and joint search, in faithful and improved mode, beside the label-free object votes,
compared held out and in-sample.

Held out: leave one image out, each image refined with thresholds tuned (sweep -> per-class pick -> joint search,
the path of :mod:`sessrs.choose`) on the other images only. In-sample: thresholds tuned on every image and applied
to every image, as the paper's scripts do. The confusion matrices of the images are pooled. The votes
(:mod:`sessrs.voting`: Semantic Segment Anything's rule and the majority vote at t = 0.5) tune nothing, so their
figures are the same under both protocols.
The sweeps of each image are made once, and one pool of workers keeps every image's caches for all the folds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import numpy as np

from rscommon.datasets import DatasetSpec
from rscommon.files import InputError
from rscommon.metrics import compute_scores, confusion_matrix
from rscommon.objects import read_objects
from rscommon.parallel import LOCAL, Execution

from .choice_settings import ChoiceSettings
from .choose import search_jointly
from .inputs import Sample, load_ground_truth, load_prediction, load_prepared
from .joint import SearchState, ShardPool, settings_from, thresholds_of
from .joint_engine import OFF, Settings
from .modes import MODES, RefineOptions
from .pick import pick_thresholds
from .sweep import summarise
from .sweep_engine import sweep_image
from .thresholds import APPLY_MAX_OBJECTS, SWEEP_MAX_OBJECTS
from .voting import MAJORITY_SHARE, majority_vote, ssa_vote

METHODS = ("unrefined", "per-class pick", "joint search")
PROTOCOLS = ("held_out", "in_sample")
VOTES: dict[str, Callable[[np.ndarray, list[dict]], np.ndarray]] = {
    "SSA's vote": ssa_vote,
    f"majority vote (t={MAJORITY_SHARE})": partial(majority_vote, t1=MAJORITY_SHARE),
}


def tune_and_score(
    samples: Sequence[Sample],
    spec: DatasetSpec,
    mode: str,
    state_dir: str | Path,
    *,
    execution: Execution = LOCAL,
    threshold_mode: str | float = 0.7,
) -> dict:
    """One mode, both protocols: per protocol the pooled confusion matrix of each method, and the thresholds of
    each held-out fold and of the in-sample tuning.

    Each fold chooses as :func:`~sessrs.choose.choose_and_apply` does with ``search="joint"``: the per-class pick
    (with ``threshold_mode``), then the joint search from it. Each held-out fold's joint search keeps its state
    under ``state_dir/<mode>/<held-out image>``, the in-sample one under ``state_dir/in_sample/<mode>``
    (resumable). ``execution``: where the images' shards run.
    """
    settings = ChoiceSettings(search="joint", threshold_mode=threshold_mode, options=RefineOptions.for_mode(mode))
    options, classes = settings.options, list(spec.scored)
    limit = options.sweep_object_limit(SWEEP_MAX_OBJECTS, APPLY_MAX_OBJECTS)
    sweeps = {}
    for sample in samples:
        prepared = load_prepared(sample, spec)
        sweeps[sample.stem] = sweep_image(
            prepared, load_ground_truth(sample, spec, prepared.shape), classes, max_objects=limit, options=options
        )
    pooled = {p: {m: np.zeros((spec.num_classes, spec.num_classes), np.int64) for m in METHODS} for p in PROTOCOLS}
    state_dir = Path(state_dir)
    plan = [
        (held.stem, [s for s in samples if s is not held], [held], state_dir / mode / held.stem) for held in samples
    ]
    plan.append((None, list(samples), list(samples), state_dir / "in_sample" / mode))
    folds, in_sample = [], {}
    with ShardPool(samples, spec, max_objects=settings.max_objects, options=options, execution=execution) as pool:
        for held, tune, evaluate, state_path in plan:
            sweep = summarise([sweeps[s.stem] for s in tune], spec, classes, [s.stem for s in tune])
            pick = pick_thresholds(sweep, spec, settings.threshold_mode)
            state = search_jointly(pick, sweep, tune, spec, state_path, settings=settings, pool=pool)
            start = settings_from(pick, spec.num_classes)
            protocol, stems = ("in_sample" if held is None else "held_out"), frozenset(s.stem for s in evaluate)
            for method, applied in zip(METHODS, ((OFF,) * spec.num_classes, start, state.settings)):
                pooled[protocol][method] += pool.total("commit", stems, applied)
            if held is None:
                in_sample = _fold_record(start, state)
            else:
                folds.append({"held_out": held, **_fold_record(start, state)})
    return {"matrices": pooled, "folds": folds, "in_sample": in_sample}


def _fold_record(start: Settings, found: SearchState) -> dict:
    return {
        "pick": thresholds_of(start).to_json(),
        "joint": thresholds_of(found.settings).to_json(),
        "tune_mIoU_pick": found.trace[0]["mIoU"],
        "tune_mIoU_joint": 100 * found.miou,
        "rounds": found.round,
        "settings_scored": found.evaluations,
        "seconds": round(found.seconds, 1),
    }


def vote_matrices(samples: Sequence[Sample], spec: DatasetSpec) -> dict[str, np.ndarray]:
    """Per vote of :data:`VOTES` the confusion matrix of its maps, pooled over the images."""
    pooled = {label: np.zeros((spec.num_classes, spec.num_classes), np.int64) for label in VOTES}
    for sample in samples:
        pred = load_prediction(sample.pred, spec)
        objects = read_objects(sample.sam, pred.shape)
        gt = load_ground_truth(sample, spec, pred.shape)
        for label, vote in VOTES.items():
            pooled[label] += confusion_matrix(gt, vote(pred, objects), spec.num_classes)
    return pooled


def compare_modes(
    samples: Sequence[Sample], spec: DatasetSpec, state_dir: str | Path, *, execution: Execution = LOCAL
) -> dict:
    """Every method in every mode, and the votes, held out and in-sample. Each row holds per protocol its mIoU, OA
    and per-class IoU (x100, 2 decimals) and its pooled confusion matrix."""
    if len(samples) < 2:
        raise InputError("leaving one image out needs at least two images")
    results = {mode: tune_and_score(samples, spec, mode, state_dir, execution=execution) for mode in MODES}
    votes = vote_matrices(samples, spec)
    first = MODES[0]
    rows = [_row("unrefined", "-", {p: results[first]["matrices"][p]["unrefined"] for p in PROTOCOLS}, spec)]
    rows += [_row(label, "-", dict.fromkeys(PROTOCOLS, matrix), spec) for label, matrix in votes.items()]
    rows += [
        _row(method, mode, {p: results[mode]["matrices"][p][method] for p in PROTOCOLS}, spec)
        for method in METHODS[1:]
        for mode in MODES
    ]
    return {
        "images": [s.stem for s in samples],
        "dataset": spec.name,
        "protocols": {"held_out": "leave one image out", "in_sample": "tuned on every image"},
        "rows": rows,
        "folds": {mode: results[mode]["folds"] for mode in MODES},
        "in_sample": {mode: results[mode]["in_sample"] for mode in MODES},
    }


def _row(method: str, mode: str, matrices: dict[str, np.ndarray], spec: DatasetSpec) -> dict:
    row: dict = {"method": method, "mode": mode}
    for protocol, matrix in matrices.items():
        scores = compute_scores(matrix, spec.scored).as_dict(spec.classes)
        row[protocol] = {
            "mIoU": scores["mIoU"],
            "OA": scores["OA"],
            "IoU": scores["IoU"],
            "confusion_matrix": matrix.tolist(),
        }
    return row


def markdown_table(comparison: dict) -> str:
    """The rows as a markdown table: method, mode, and per protocol the mIoU and its change against the unrefined
    prediction; the held-out OA."""
    unrefined = comparison["rows"][0]
    lines = [
        "| method | mode | mIoU held out | change | mIoU in-sample | change | OA held out |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in comparison["rows"]:
        cells = [f"{row[p]['mIoU']:.2f} | {row[p]['mIoU'] - unrefined[p]['mIoU']:+.2f}" for p in PROTOCOLS]
        lines.append(f"| {row['method']} | {row['mode']} | {' | '.join(cells)} | {row['held_out']['OA']:.2f} |")
    return "\n".join(lines)
