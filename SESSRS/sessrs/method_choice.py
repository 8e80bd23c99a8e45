"""Choosing the method itself (``--method auto``): the per-class thresholds, a vote, or nothing, held out.

Which refinement wins depends on the objects (docs/object-quality.md): when they follow the true boundaries, a
plain vote over objects beats per-class thresholds; when they merge neighbours of different classes, split
fields or miss small things, the thresholds keep a refinement from painting a road into a roof. So the method
is chosen like anything else tuned, on images it was not tuned on: K folds over the tune images (the folds of
the cv selection, :func:`sessrs.selection.assign_folds`); for each fold the per-class pick is made on the sweep
of the other folds (from the sweep's per-image parts) and applied to the fold's images. The votes have nothing
to tune, so they are simply applied. Over all held-out images pooled, the candidate with the highest mIoU is
chosen: ``thresholds`` (the thresholds chosen on all tune images), ``unrefined`` (those thresholds with an empty
``modify``), ``majority_vote`` or ``ssa_vote``; a tie goes to the earlier in that order. When the thresholds
chosen are not the pick (the joint search's), their held-out figure is the fold picks' plus what they gain over
the pick on the tune images themselves: an optimistic estimate, which leans towards the thresholds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rscommon.datasets import DatasetSpec
from rscommon.files import InputError
from rscommon.metrics import confusion_matrix
from rscommon.objects import read_objects
from rscommon.parallel import LOCAL, Execution, progress_map

from .choice_settings import ChoiceSettings
from .inputs import Sample, load_ground_truth, load_prepared
from .joint import mean_iou, settings_from
from .joint_engine import ImageEvaluator
from .methods import VOTE_SHARES, vote
from .modes import RefineOptions
from .pick import pick_thresholds
from .selection import assign_folds
from .sweep import summarise
from .sweep_engine import ImageSweep, ThresholdGrid
from .thresholds import Thresholds

CANDIDATES = ("thresholds", "unrefined", "majority_vote", "ssa_vote")
"""The methods compared, in the order that breaks a tie."""


@dataclass(frozen=True)
class MethodChoice:
    """What to apply (the thresholds chosen, the same refining nothing, or a vote) and the record of the choice (the
    content of ``method_choice.json``)."""

    thresholds: Thresholds
    record: dict


def choose_method(
    parts: Mapping[str, ImageSweep],
    grid: ThresholdGrid,
    tune: Sequence[Sample],
    spec: DatasetSpec,
    chosen: Thresholds,
    pick: Thresholds | None = None,
    *,
    settings: ChoiceSettings = ChoiceSettings(),
    execution: Execution = LOCAL,
) -> MethodChoice:
    """The candidate with the best held-out mIoU over ``settings.folds`` folds of the ``tune`` images (see the
    module), each fold's pick made with ``settings.threshold_mode`` and applied with ``settings.max_objects`` and
    ``settings.options``.

    ``parts`` are the sweeps of the ``tune`` images (which need ground truth; :func:`sessrs.selection.sweep_parts`
    reads them from a sweep's folder) on ``grid``, ``chosen`` the thresholds chosen on all of them and ``pick``
    the per-class pick they started from (when not ``chosen`` itself).
    Deterministic: ``settings.seed`` shuffles the folds as the cv selection does.
    """
    if any(sample.gt is None for sample in tune):
        raise InputError("choosing the method scores held-out images against ground truth: give --gt-dir")
    if sorted(parts) != sorted(sample.stem for sample in tune):
        raise InputError(f"the sweep parts are of {len(parts)} images, not of the {len(tune)} tune images")
    classes = sorted({int(c) for part in parts.values() for c in part.per_class})
    groups = assign_folds(list(parts), settings.folds, np.random.default_rng(settings.seed))
    jobs = []
    for group in groups:
        others = [stem for stem in parts if stem not in group]
        fold_pick = pick_thresholds(
            summarise([parts[stem] for stem in others], spec, classes, others, grid=grid), spec, settings.threshold_mode
        )
        jobs += [
            (sample, spec, fold_pick, (chosen, pick or chosen), settings.max_objects, settings.options)
            for sample in tune
            if sample.stem in group
        ]
    scores = progress_map(_score_held_out, jobs, execution, "method choice", "image")
    pooled = {key: sum(score[key] for score in scores) for key in scores[0]}
    held_out = {method: round(100 * mean_iou(pooled[method], spec), 4) for method in CANDIDATES}
    gain = round(100 * (mean_iou(pooled["chosen_tuned"], spec) - mean_iou(pooled["pick_tuned"], spec)), 4)
    held_out["thresholds"] = round(held_out["thresholds"] + gain, 4)
    best = max(CANDIDATES, key=lambda method: (held_out[method], -CANDIDATES.index(method)))
    return MethodChoice(
        thresholds=method_thresholds(chosen, best),
        record={
            "method": best,
            "folds": settings.folds,
            "seed": settings.seed,
            "tuned_on": sorted(parts),
            "fold_images": groups,
            "held_out_mIoU": held_out,
            "thresholds_gain_over_pick_on_tune": gain,
            "protocol": "each fold's per-class pick made on the other folds, plus the gain of the thresholds chosen "
            "over the pick on the tune images; the votes applied as they are",
        },
    )


def method_thresholds(chosen: Thresholds, method: str) -> Thresholds:
    """What applying ``method`` (one of :data:`CANDIDATES`) means, as ``best.json`` records it, from the
    thresholds ``chosen``."""
    if method == "unrefined":
        return dataclasses.replace(chosen, modify=())
    return dataclasses.replace(chosen, method=method)


def method_table(record: Mapping) -> str:
    """The choice's figures to read (appended to ``metrics.txt``)."""
    figures = ", ".join(f"{method} {miou:.2f}" for method, miou in record["held_out_mIoU"].items())
    return (
        f"\nmethod chosen held out ({record['folds']} folds over {len(record['tuned_on'])} tune images): "
        f"{record['method']}\nheld-out mIoU: {figures}\n"
    )


def _score_held_out(
    job: tuple[Sample, DatasetSpec, Thresholds, tuple[Thresholds, Thresholds], int, RefineOptions],
) -> dict[str, np.ndarray]:
    """One held-out image's confusion matrix under each candidate (its fold's pick for ``thresholds``), and under
    the thresholds chosen and the pick made on all tune images (``chosen_tuned``, ``pick_tuned``)."""
    sample, spec, fold_pick, (chosen, pick), max_objects, options = job
    prepared = load_prepared(sample, spec)
    gt = load_ground_truth(sample, spec, prepared.shape)
    evaluator = ImageEvaluator(prepared, gt, max_objects=max_objects, options=options)
    objects = read_objects(sample.sam, prepared.shape)
    return {
        "thresholds": evaluator.score(settings_from(fold_pick, spec.num_classes)),
        "unrefined": evaluator.baseline,
        "chosen_tuned": evaluator.score(settings_from(chosen, spec.num_classes)),
        "pick_tuned": evaluator.score(settings_from(pick, spec.num_classes)),
        **{
            method: confusion_matrix(gt, vote(prepared.pred, objects, method), spec.num_classes)
            for method in VOTE_SHARES
        },
    }
