"""Honest selection: a class of the per-class pick stays refined only when its gain holds out on other images.

K-fold over the tune images. For each fold, the per-class pick is made on the sweep of the other folds
(recombined from the sweep's per-image parts: nothing is swept again) and applied to the fold's images with all
its classes at once, as the application does. The gain of class ``c`` there is the mIoU of that application minus
the mIoU of the same application without ``c`` in ``modify`` (its thresholds kept). A class of the full pick is
kept in ``modify`` only when its gain, pooled over every held-out image (their confusion matrices added), is
positive. A bootstrap over images gives a 90% interval of each pooled gain.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rscommon.datasets import DatasetSpec
from rscommon.files import InputError
from rscommon.parallel import LOCAL, Execution, progress_map

from .choice_settings import ChoiceSettings
from .folders import SweepFolder
from .inputs import Sample, load_ground_truth, load_prepared
from .joint import mean_iou, settings_from
from .joint_engine import ImageEvaluator, with_setting
from .modes import RefineOptions
from .pick import pick_thresholds
from .sweep import load_part, summarise
from .sweep_engine import REFERENCE_GRID, ImageSweep, ThresholdGrid
from .thresholds import Thresholds
from .validate import sweep_images

BOOTSTRAP_SAMPLES = 1000
"""Resamples of the held-out images behind each 90% interval."""


@dataclass(frozen=True)
class Selection:
    """The selected thresholds (the pick's, with ``modify`` cut to the classes whose gain held out) and the record
    of the selection (the content of ``selection.json``)."""

    thresholds: Thresholds
    record: dict


def sweep_parts(
    sweep_file: str | Path, sweep: Mapping, tune: Sequence[Sample], spec: DatasetSpec
) -> dict[str, ImageSweep]:
    """Per tune image its sweep matrices, read from the sweep's ``parts/``; refused unless the sweep is of exactly
    the tune images and its parts add up to ``sweep_file``."""
    stems, images = sorted(s.stem for s in tune), sweep_images(sweep)
    if stems != sorted(images):
        raise InputError(
            f"{sweep_file}: a sweep of {len(images)} images, not of the {len(stems)} tune images; the cv "
            "selection picks again on parts of the sweep, so sweep the tune images"
        )
    folder = SweepFolder(Path(sweep_file).parent)
    classes = [int(c) for c in sweep["sweeps"]]
    grid = sweep_grid(sweep)
    parts = {}
    for stem in images:
        if not folder.part(stem).is_file():
            raise InputError(
                f"{folder.part(stem)}: missing; the cv selection needs the per-image parts the sweep "
                f"writes (run sessrs_t1_t2.py into {folder.root} again)"
            )
        parts[stem] = load_part(folder.part(stem), classes, spec.num_classes, len(grid.pairs))[0]
    again = summarise([parts[stem] for stem in images], spec, classes, images, grid=grid)
    if _pick_figures(again) != _pick_figures(sweep):
        raise InputError(
            f"{folder.parts}: the parts do not add up to {sweep_file} (changed since the sweep?); "
            "run sessrs_t1_t2.py again"
        )
    return parts


def assign_folds(stems: Sequence[str], folds: int, rng: np.random.Generator) -> list[list[str]]:
    """The images shuffled by ``rng`` into ``folds`` groups of near-equal size (each sorted)."""
    if not 2 <= folds <= len(stems):
        raise InputError(f"{folds} folds over {len(stems)} tune images: give 2 to {len(stems)} folds")
    order = rng.permutation(sorted(stems))
    return [sorted(group.tolist()) for group in np.array_split(order, folds)]


def select_by_cv(
    sweep_file: str | Path,
    sweep: Mapping,
    tune: Sequence[Sample],
    spec: DatasetSpec,
    pick: Thresholds,
    *,
    settings: ChoiceSettings = ChoiceSettings(),
    execution: Execution = LOCAL,
) -> Selection:
    """Keep each class of ``pick.modify`` only when its held-out gain is positive (see the module's text).

    ``sweep`` is ``sweep_file``'s content, made on the ``tune`` images (which need ground truth); its parts give
    each fold's pick (with ``settings.threshold_mode``), applied with ``settings.max_objects`` and
    ``settings.options`` over ``settings.folds`` folds. Deterministic: ``settings.seed`` shuffles the folds and
    draws the bootstrap.
    """
    if any(sample.gt is None for sample in tune):
        raise InputError("the cv selection scores held-out images against ground truth: give --gt-dir")
    parts = sweep_parts(sweep_file, sweep, tune, spec)
    classes = [int(c) for c in sweep["sweeps"]]
    rng = np.random.default_rng(settings.seed)
    groups = assign_folds(list(parts), settings.folds, rng)
    fold_picks, jobs = [], []
    for group in groups:
        others = [stem for stem in parts if stem not in group]
        fold_sweep = summarise([parts[stem] for stem in others], spec, classes, others, grid=sweep_grid(sweep))
        fold_picks.append(pick_thresholds(fold_sweep, spec, settings.threshold_mode))
        jobs += [
            (sample, spec, fold_picks[-1], classes, settings.max_objects, settings.options)
            for sample in tune
            if sample.stem in group
        ]
    scores = dict(
        zip(
            (job[0].stem for job in jobs),
            progress_map(_score_held_out, jobs, execution, "cv selection", "image"),
            strict=True,
        )
    )
    stems = [stem for group in groups for stem in group]
    baseline, applied = (np.stack([scores[stem][key] for stem in stems]) for key in ("baseline", "applied"))
    draws = rng.multinomial(len(stems), np.full(len(stems), 1 / len(stems)), size=BOOTSTRAP_SAMPLES)
    per_class = {}
    for cls in classes:
        without = np.stack([scores[stem]["without"].get(cls, scores[stem]["applied"]) for stem in stems])
        gain = _change(applied.sum(0), without.sum(0), spec)
        per_class[spec.classes[cls]] = {
            "class": cls,
            "in_pick": cls in pick.modify,
            "kept": cls in pick.modify and gain > 0,
            "pooled_gain": round(gain, 4),
            "interval_90": _interval(draws, applied, without, spec),
            "fold_gains": [
                round(_change(applied[rows].sum(0), without[rows].sum(0), spec), 4) for rows in _fold_rows(groups)
            ],
            "refined_in_fold": [cls in fold_pick.modify for fold_pick in fold_picks],
        }
    modify = tuple(c for c in pick.modify if per_class[spec.classes[c]]["kept"])
    record = {
        "select": "cv",
        "folds": settings.folds,
        "seed": settings.seed,
        "bootstrap_samples": BOOTSTRAP_SAMPLES,
        "gain": "mIoU (x100) of each fold's pick applied with all its classes minus the same without the class",
        "tuned_on": sorted(parts),
        "fold_images": groups,
        "fold_picks": [fold_pick.to_json() for fold_pick in fold_picks],
        "pick_modify": list(pick.modify),
        "modify": list(modify),
        "held_out": {
            "unrefined_mIoU": round(100 * mean_iou(baseline.sum(0), spec), 4),
            "fold_picks_mIoU": round(100 * mean_iou(applied.sum(0), spec), 4),
            "interval_90": _interval(draws, applied, baseline, spec),
        },
        "classes": per_class,
    }
    return Selection(thresholds=dataclasses.replace(pick, modify=modify), record=record)


def selection_table(record: Mapping) -> str:
    """The selection's figures to read (appended to ``metrics.txt``)."""
    held = record["held_out"]
    lines = [
        "",
        (
            f"cv selection: {record['folds']} folds over {len(record['tuned_on'])} tune images (seed "
            f"{record['seed']}); modify {record['modify']} of the pick's {record['pick_modify']}"
        ),
        (
            f"held out: unrefined mIoU {held['unrefined_mIoU']:.2f}, each fold's pick {held['fold_picks_mIoU']:.2f} "
            f"(90% interval of the change {_shown(held['interval_90'])})"
        ),
        f"{'class':<14} {'in pick':>7} {'kept':>5} {'pooled gain':>11} {'90% interval':>17}  gain per fold",
    ]
    for name, row in record["classes"].items():
        folds = " ".join(f"{gain:+.2f}" for gain in row["fold_gains"])
        lines.append(
            f"{name:<14} {_yes(row['in_pick']):>7} {_yes(row['kept']):>5} {row['pooled_gain']:+11.2f} "
            f"{_shown(row['interval_90']):>17}  {folds}"
        )
    return "\n".join(lines) + "\n"


def _score_held_out(job: tuple[Sample, DatasetSpec, Thresholds, list[int], int, RefineOptions]) -> dict:
    """One held-out image's confusion matrices: unrefined, its fold's pick applied with all classes, and the same
    without each class of the pick's ``modify`` in turn."""
    sample, spec, pick, classes, max_objects, options = job
    prepared = load_prepared(sample, spec)
    evaluator = ImageEvaluator(
        prepared, load_ground_truth(sample, spec, prepared.shape), max_objects=max_objects, options=options
    )
    settings = settings_from(pick, spec.num_classes)
    without = {
        cls: evaluator.score(with_setting(settings, cls, dataclasses.replace(settings[cls], refined=False)))
        for cls in pick.modify
        if cls in classes
    }
    return {"baseline": evaluator.baseline, "applied": evaluator.score(settings), "without": without}


def _change(applied: np.ndarray, without: np.ndarray, spec: DatasetSpec) -> float:
    """The mIoU (x100) of confusion matrix ``applied`` minus that of ``without``."""
    return 100 * (mean_iou(applied, spec) - mean_iou(without, spec))


def _interval(draws: np.ndarray, applied: np.ndarray, without: np.ndarray, spec: DatasetSpec) -> list[float]:
    """5th and 95th percentile of the pooled mIoU change of per-image matrices ``applied`` over ``without``, over
    resampled images (``draws``: each image's count in each resample)."""
    pooled = zip(np.tensordot(draws, applied, axes=1), np.tensordot(draws, without, axes=1), strict=True)
    changes = [_change(a, w, spec) for a, w in pooled]
    return [round(float(value), 4) for value in np.percentile(changes, [5, 95])]


def _fold_rows(groups: list[list[str]]) -> list[slice]:
    """The rows of each fold's images in the fold-ordered stack of images."""
    ends = np.cumsum([len(group) for group in groups])
    return [slice(int(end) - len(group), int(end)) for group, end in zip(groups, ends, strict=True)]


def sweep_grid(sweep: Mapping) -> ThresholdGrid:
    """The grid a sweep was made on (the reference grid for a sweep that does not say)."""
    return ThresholdGrid(**sweep["grid"]) if "grid" in sweep else REFERENCE_GRID


def _pick_figures(sweep: Mapping) -> tuple:
    """What the pick reads of a sweep: the baseline mIoU and every row's t1, t2 and mIoU."""
    rows = {key: [(row["t1"], row["t2"], row["mIoU"]) for row in value] for key, value in sweep["sweeps"].items()}
    return sweep["baseline"]["mIoU"], rows


def _shown(interval: Sequence[float]) -> str:
    return f"[{interval[0]:+.2f}, {interval[1]:+.2f}]"


def _yes(value: bool) -> str:
    return "yes" if value else "no"
