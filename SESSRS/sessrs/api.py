"""The stage as a library: refine, sweep, pick and apply, on NumPy arrays and on folders of files.

Every function takes its inputs first, then the output folder (when it writes one) and the dataset, then its
settings by keyword.

A prediction is an H x W integer array of class indices (from any model); objects are either records as the
SAM stage writes them (``{"rles": {"size": [H, W], "counts": str}, "area": int}``, see
:func:`rscommon.objects.read_objects`) or boolean masks (an H x W x N array, or a list of H x W arrays).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rscommon.datasets import DatasetSpec, get_dataset
from rscommon.files import InputError
from rscommon.objects import encode_object, validate_objects
from rscommon.parallel import LOCAL, Execution

from .application import apply_to_samples
from .choice_settings import ChoiceSettings
from .choose import Choice, choose_and_apply
from .folders import ChoiceFolder
from .inputs import pair_inputs, select
from .methods import VOTE_SHARES, vote
from .modes import FAITHFUL, RefineOptions
from .prepared import prepare_image
from .steps import refine_with_mappings
from .sweep import run_sweep, summarise, sweep_classes
from .sweep_engine import REFERENCE_GRID, ThresholdGrid, sweep_image
from .thresholds import SWEEP_MAX_OBJECTS, Thresholds, applied_with, check_max_objects
from .validate import check_held_out, read_sweep

Masks = np.ndarray | Sequence[np.ndarray]
Objects = Sequence[Mapping[str, Any]] | Masks
PathLike = str | Path
LABEL_CLASSES = 255
"""A label map holds classes 0..254 (255 is the ignore value)."""


def _expect(value: Any, kind: type | tuple[type, ...], name: str, expected: str) -> None:
    """A :class:`TypeError` naming the argument and what it expects, unless ``value`` is a ``kind``."""
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"{name}: expected {expected}, got {type(value).__name__}")


def _check_settings(
    options: RefineOptions, grid: ThresholdGrid | None = None, execution: Execution | None = None
) -> None:
    _expect(options, RefineOptions, "options", "a sessrs.RefineOptions, e.g. RefineOptions.improved()")
    if grid is not None:
        _expect(grid, ThresholdGrid, "grid", "a sessrs.ThresholdGrid")
    if execution is not None:
        _expect(execution, Execution, "execution", "a sessrs.Execution, e.g. Execution(workers=2)")


def objects_from_masks(masks: Masks) -> list[dict]:
    """Object records from boolean masks: an H x W x N array or a list of H x W arrays (N may be 0).

    Each mask is encoded as COCO RLE, as the SAM stage writes it. Empty masks are dropped (they can take no
    class and never change a refinement), like :func:`rscommon.objects.read_objects` drops them.
    """
    if isinstance(masks, (str, bytes, Mapping)) or not isinstance(masks, (np.ndarray, Sequence)):
        raise TypeError(
            f"masks: expected an H x W x N boolean array or a list of H x W arrays, got {type(masks).__name__}"
        )
    if isinstance(masks, np.ndarray):
        if masks.ndim != 3:
            raise InputError(f"masks must be H x W x N, got shape {masks.shape}")
        masks = [masks[:, :, index] for index in range(masks.shape[2])]
    records = []
    for index, mask in enumerate(masks):
        mask = np.asarray(mask)
        if mask.ndim != 2:
            raise InputError(f"mask {index} must be H x W, got shape {mask.shape}")
        if mask.dtype != bool and not np.isin(mask, (0, 1)).all():
            raise InputError(f"mask {index} must be boolean (or 0/1), found values {np.unique(mask)[:5].tolist()}")
        if mask.any():
            records.append(encode_object(mask.astype(bool)))
    return records


def _object_records(objects: Objects, shape: tuple[int, int], source: str) -> list[dict]:
    """Validated records of the same size as the prediction, from records or masks."""
    if isinstance(objects, (str, bytes, Mapping)) or not isinstance(objects, (np.ndarray, Sequence)):
        raise TypeError(
            f"{source}: expected a list of object records or boolean masks (H x W x N, or a list of "
            f"H x W), got {type(objects).__name__}"
        )
    if isinstance(objects, np.ndarray) or (len(objects) and isinstance(objects[0], np.ndarray)):
        objects = objects_from_masks(objects)
    return validate_objects(list(objects), source, shape)


def _prediction(pred: np.ndarray, num_classes: int | None, source: str) -> np.ndarray:
    """An H x W integer class map with values in 0..num_classes - 1 (0..254 when not given)."""
    pred = np.asarray(pred)
    if pred.ndim != 2 or not np.issubdtype(pred.dtype, np.integer):
        raise InputError(f"{source}: expected an H x W integer array of class indices, got {pred.dtype} {pred.shape}")
    limit = 255 if num_classes is None else num_classes
    if pred.size and (pred.min() < 0 or pred.max() >= limit):
        raise InputError(f"{source}: class values {int(pred.min())}..{int(pred.max())} outside 0..{limit - 1}")
    return pred.astype(np.uint8)


def _spec(dataset: DatasetSpec | str) -> DatasetSpec:
    if isinstance(dataset, str):
        return get_dataset(dataset)
    _expect(dataset, DatasetSpec, "dataset", "a dataset name such as 'Urban' or a sessrs.DatasetSpec")
    return dataset


def refine(
    pred: np.ndarray,
    objects: Objects,
    thresholds: Thresholds,
    *,
    max_objects: int | None = None,
    num_classes: int | None = None,
    options: RefineOptions | None = None,
    nodata: int | None = None,
) -> np.ndarray:
    """Refine one prediction with its objects; returns the refined H x W uint8 class map.

    Args:
        pred: H x W integer array of class indices.
        objects: the image's object records, or its boolean masks (H x W x N, or a list of H x W).
        thresholds: per-class t1/t2 and the classes to refine, e.g. ``Thresholds.read("best.json")``; a
            ``method`` of ``ssa_vote`` or ``majority_vote`` votes instead (:mod:`sessrs.methods`).
        max_objects: a list of two or more candidates this long or longer is not used (default: the one
            ``thresholds`` were tuned with, as their ``best.json`` records it, else the application's 5; the sweep
            uses ``SWEEP_MAX_OBJECTS``, 10).
        num_classes: the number of classes (default: one more than the largest class in ``pred`` or
            ``thresholds``).
        options: which of the reference's quirks to fix (default: the options ``thresholds`` were tuned with,
            else ``RefineOptions.faithful()``, the reference exactly): ``RefineOptions.improved()``, or any
            single switch. Options or a limit other than the recorded ones are refused.
        nodata: a class marking pixels without data (a scene's collar, with objects cut to the pixels with
            data): never refined, and never given to another pixel (a filled region does not take it).
    """
    _expect(
        thresholds,
        Thresholds,
        "thresholds",
        "a sessrs.Thresholds, e.g. Thresholds.from_json(dict) or Thresholds.read('best.json')",
    )
    if options is not None:
        _check_settings(options)
    options, max_objects = applied_with(thresholds, None, options, max_objects, "thresholds")
    if num_classes is not None:
        _expect(num_classes, (int, np.integer), "num_classes", f"a whole number in 1..{LABEL_CLASSES}")
        if not 1 <= num_classes <= LABEL_CLASSES:
            raise InputError(f"num_classes {num_classes} is not in 1..{LABEL_CLASSES}")
    thresholds.check_classes(num_classes or LABEL_CLASSES)  # before anything is allocated per class
    if nodata is not None and nodata in thresholds.modify:
        raise InputError(f"nodata class {nodata} cannot be refined; leave it out of modify")
    pred = _prediction(pred, num_classes, "pred")
    records = _object_records(objects, pred.shape, "objects")
    if thresholds.method in VOTE_SHARES:
        return vote(pred, records, thresholds.method)
    if num_classes is None:
        named = [*thresholds.t1, *thresholds.t2, *thresholds.modify]
        num_classes = max(int(pred.max(initial=0)) + 1, *(c + 1 for c in named))
    return refine_with_mappings(
        pred,
        records,
        thresholds.t1,
        thresholds.t2,
        thresholds.modify,
        max_objects=max_objects,
        num_classes=num_classes,
        options=options,
        nodata=nodata,
    )


def sweep_arrays(
    preds: Sequence[np.ndarray],
    objects: Sequence[Objects],
    gts: Sequence[np.ndarray],
    dataset: DatasetSpec | str,
    *,
    classes: Sequence[int] | None = None,
    max_objects: int = SWEEP_MAX_OBJECTS,
    names: Sequence[str] | None = None,
    grid: ThresholdGrid = REFERENCE_GRID,
    options: RefineOptions = FAITHFUL,
) -> dict:
    """The per-class t1/t2 sweep of images held in memory; returns what ``sweep.json`` holds.

    ``preds[i]``, ``objects[i]`` and ``gts[i]`` belong to image ``names[i]`` (default ``"0"``, ``"1"``, ...).
    Ground-truth values outside the dataset's classes are ignored; ``classes`` defaults to the scored classes.
    Pass the result to :func:`pick_thresholds`.
    """
    spec = _spec(dataset)
    _check_settings(options, grid)
    for name, value in (("preds", preds), ("objects", objects), ("gts", gts)):
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (Sequence, np.ndarray)):
            raise TypeError(f"{name}: expected a list with one entry per image, got {type(value).__name__}")
    if not (len(preds) == len(objects) == len(gts)) or not len(preds):
        raise InputError(
            f"need as many predictions, object lists and truths (> 0): {len(preds)}, {len(objects)}, {len(gts)}"
        )
    names = [str(n) for n in names] if names is not None else [str(i) for i in range(len(preds))]
    if len(names) != len(preds) or len(set(names)) != len(names):
        raise InputError(
            f"names: {len(names)} names ({len(set(names))} distinct) for {len(preds)} images; give one "
            "distinct name per image"
        )
    classes = sweep_classes(classes, spec)
    max_objects = check_max_objects(max_objects)
    if not any(np.isin(np.asarray(gt), spec.scored).any() for gt in gts):
        raise InputError(f"no ground-truth pixel of a scored {spec.name} class in any of the {len(gts)} images")
    results = []
    for name, pred, image_objects, gt in zip(names, preds, objects, gts):
        pred = _prediction(pred, spec.num_classes, f"prediction {name}")
        gt = np.asarray(gt)
        if gt.shape != pred.shape:
            raise InputError(f"truth {name}: shape {gt.shape} differs from the prediction's {pred.shape}")
        prepared = prepare_image(pred, _object_records(image_objects, pred.shape, f"objects {name}"), spec.num_classes)
        results.append(sweep_image(prepared, gt, classes, max_objects=max_objects, grid=grid, options=options))
    return summarise(results, spec, classes, names, grid=grid, options=options, max_objects=max_objects)


def sweep_folder(
    pred_dir: PathLike,
    sam_dir: PathLike,
    gt_dir: PathLike,
    out_dir: PathLike,
    dataset: DatasetSpec | str,
    *,
    classes: Sequence[int] | None = None,
    images: Sequence[str] | None = None,
    max_objects: int = SWEEP_MAX_OBJECTS,
    grid: ThresholdGrid = REFERENCE_GRID,
    options: RefineOptions = FAITHFUL,
    execution: Execution = LOCAL,
) -> dict:
    """The sweep of a folder of predictions (``<stem>.png``), objects (``<stem>.json``) and truth (``<stem>.png``).

    Writes ``sweep.json``, ``sweep.txt`` and one heatmap per class into ``out_dir`` and returns the sweep.
    ``images`` restricts it to those stems (e.g. a split's tune list). Resumable: a re-run keeps each image's
    saved part while its files and the settings are unchanged. ``execution``: ``Execution(workers=N)`` for local
    processes, or ``Execution(scheduler="tcp://host:8786")`` for a Dask cluster whose workers see the same files.
    """
    _check_settings(options, grid, execution)
    spec = _spec(dataset)
    samples = select(pair_inputs(pred_dir, sam_dir, gt_dir), images, "images")
    return run_sweep(
        samples,
        spec,
        out_dir,
        classes=classes,
        max_objects=max_objects,
        grid=grid,
        options=options,
        execution=execution,
    )


def apply_thresholds(
    thresholds: Thresholds,
    pred_dir: PathLike,
    sam_dir: PathLike,
    out_dir: PathLike,
    dataset: DatasetSpec | str,
    *,
    gt_dir: PathLike | None = None,
    images: Sequence[str] | None = None,
    max_objects: int | None = None,
    options: RefineOptions | None = None,
    execution: Execution = LOCAL,
) -> dict | None:
    """Refine every prediction of a folder with ``thresholds`` into ``out_dir`` (P-mode PNGs, the dataset palette).

    Returns the unrefined and refined figures (as ``metrics.json`` holds them) when ``gt_dir`` is given, else
    ``None``. Resumable, and keyed on the files' content like :func:`sweep_folder`; a folder holding images
    refined with other thresholds is refused. ``max_objects`` and ``options`` default to those ``thresholds``
    were tuned with (see :func:`refine`); ``dataset`` must be theirs.
    """
    _expect(thresholds, Thresholds, "thresholds", "a sessrs.Thresholds, e.g. pick_thresholds(sweep, dataset)")
    _check_settings(FAITHFUL if options is None else options, execution=execution)
    spec = _spec(dataset)
    options, max_objects = applied_with(thresholds, spec.name, options, max_objects, "thresholds")
    samples = select(pair_inputs(pred_dir, sam_dir, gt_dir), images, "images")
    return apply_to_samples(
        samples, spec, thresholds, out_dir, max_objects=max_objects, options=options, execution=execution
    )


def choose_folder(
    sweep_file: PathLike,
    pred_dir: PathLike,
    sam_dir: PathLike,
    out_dir: PathLike,
    dataset: DatasetSpec | str,
    *,
    gt_dir: PathLike | None = None,
    tune: Sequence[str] | None = None,
    images: Sequence[str] | None = None,
    settings: ChoiceSettings = ChoiceSettings(),
    execution: Execution = LOCAL,
) -> Choice:
    """Choose thresholds from a ``sweep.json`` and apply them to a folder of predictions, as ``get_best_t1_t2.py``.

    ``settings`` say how (the reference's per-class pick by default; ``ChoiceSettings(search="joint")`` searches
    on the ``tune`` images, all by default). Writes ``best.json``, the refined maps (``se_mask/``) and, with
    ``gt_dir``, ``metrics.json``/``.txt`` of ``images`` (all by default) into ``out_dir``. With both ``tune``
    and ``images`` (a held-out protocol) the sweep must have been tuned on exactly ``tune`` and on none of
    ``images`` (:func:`~sessrs.validate.check_held_out`).
    """
    _expect(settings, ChoiceSettings, "settings", "a sessrs.ChoiceSettings, e.g. ChoiceSettings(search='joint')")
    _expect(execution, Execution, "execution", "a sessrs.Execution, e.g. Execution(workers=2)")
    samples, spec = pair_inputs(pred_dir, sam_dir, gt_dir), _spec(dataset)
    tuned, evaluated, folder = select(samples, tune, "tune"), select(samples, images, "images"), ChoiceFolder(out_dir)
    if tune is not None and images is not None:
        check_held_out(read_sweep(sweep_file, spec), tuned, evaluated, spec, sweep_file)
    with folder.locked(evaluated):
        return choose_and_apply(sweep_file, tuned, evaluated, spec, folder, settings=settings, execution=execution)
