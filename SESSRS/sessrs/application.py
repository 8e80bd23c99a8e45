"""Thresholds applied to every image of a folder: refined maps written, resumably, and the figures compared."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from rscommon.datasets import DatasetSpec
from rscommon.files import InputError, read_json, write_json_atomic
from rscommon.labels import read_label_png, write_label_png
from rscommon.metrics import compute_scores, confusion_matrix
from rscommon.parallel import LOCAL, Execution, check_scheduler, each_job
from rscommon.provenance import file_identity

from .folders import RefinedFolder
from .inputs import Sample, load_ground_truth, load_prepared
from .methods import refine_sample
from .modes import FAITHFUL, RefineOptions
from .resume import sample_fingerprint, stale_reason
from .thresholds import APPLY_MAX_OBJECTS, Thresholds, check_max_objects

Scores = tuple[np.ndarray | None, np.ndarray | None]
"""The confusion matrices of one image before and after the refinement (``None`` without ground truth)."""


def _refine_one(
    job: tuple[Sample, DatasetSpec, Thresholds, int, RefinedFolder, RefineOptions],
) -> tuple[Scores, dict]:
    """One image refined and written; its scores and the identity of the refined map written."""
    sample, spec, thresholds, max_objects, folder, options = job
    prepared = load_prepared(sample, spec)
    refined = refine_sample(sample, prepared, thresholds, max_objects=max_objects, options=options)
    path = folder.refined_map(sample.stem)
    write_label_png(path, refined, spec)
    if sample.gt is None:
        return (None, None), file_identity(path)
    gt = load_ground_truth(sample, spec, prepared.shape)
    scores = confusion_matrix(gt, prepared.pred, spec.num_classes), confusion_matrix(gt, refined, spec.num_classes)
    return scores, file_identity(path)


def _reusable(path: Path, previous: Any, made_from: dict[str, Any]) -> bool:
    """Whether the refined map ``path`` of an earlier run can be kept: made from the same inputs and settings,
    and still the file that run wrote (by content); else says why it is computed again."""
    if not path.is_file() or not isinstance(previous, dict):
        return False
    reason = stale_reason(path.stem, previous.get("made_from"), made_from)
    if reason is None and previous.get("output") != file_identity(path):
        reason = f"{path}: changed since it was written (its content is not what the run recorded); computing it again"
    if reason is not None:
        tqdm.write(reason, file=sys.stderr)
    return reason is None


def _rescore(sample: Sample, spec: DatasetSpec, folder: RefinedFolder) -> Scores:
    """Scores of an image refined, from the same inputs, by an earlier run of the same application."""
    if sample.gt is None:
        return None, None
    refined = read_label_png(folder.refined_map(sample.stem), spec)
    pred = read_label_png(sample.pred, spec)
    gt = load_ground_truth(sample, spec, pred.shape)
    return confusion_matrix(gt, pred, spec.num_classes), confusion_matrix(gt, refined, spec.num_classes)


def _application_settings(
    spec: DatasetSpec, thresholds: Thresholds, max_objects: int, options: RefineOptions = FAITHFUL
) -> dict[str, Any]:
    settings = {"dataset": spec.name, "thresholds": thresholds.to_json(), "max_objects": max_objects}
    return settings if options == FAITHFUL else {**settings, "options": options.to_json()}


def _applied_record(folder: RefinedFolder, settings: dict[str, Any]) -> dict[str, Any] | None:
    """The record of an earlier application into ``folder`` (None when there is none); refuses another one."""
    path = folder.record
    if not path.exists():
        if folder.holds_maps():
            raise InputError(
                f"{folder.root}: already holds PNGs not written by this application; choose another output folder"
            )
        return None
    record = read_json(path)
    if not (
        isinstance(record, dict) and isinstance(record.get("settings"), dict) and isinstance(record.get("images"), dict)
    ):
        raise InputError(f"{path}: not the record of an application (settings, images); remove that folder")
    if record["settings"] != settings:
        changed = sorted(k for k in settings if record["settings"].get(k) != settings[k])
        raise InputError(
            f"{folder.root}: holds images refined with other {', '.join(changed)}; choose another output folder"
        )
    return record


def forget_applied(folder: RefinedFolder) -> None:
    """Make the next application into ``folder`` refine every image again (``--restart``): its record keeps the
    settings (a folder of other thresholds is still refused) and forgets the images."""
    path = folder.record
    if path.is_file():
        record = read_json(path)
        if isinstance(record, dict) and isinstance(record.get("images"), dict):
            write_json_atomic(path, {**record, "images": {}})


def check_application_folder(
    out: RefinedFolder | str | Path,
    samples: list[Sample],
    spec: DatasetSpec,
    thresholds: Thresholds,
    *,
    max_objects: int = APPLY_MAX_OBJECTS,
    options: RefineOptions = FAITHFUL,
) -> dict[str, Any] | None:
    """Refuse, before anything is written, an output folder the application cannot use (see
    :func:`apply_to_samples`); returns the record of an earlier application of the same settings there."""
    folder = _refined_folder(out)
    folder.check(samples)
    return _applied_record(folder, _application_settings(spec, thresholds, max_objects, options))


def _refined_folder(out: RefinedFolder | str | Path) -> RefinedFolder:
    return out if isinstance(out, RefinedFolder) else RefinedFolder(Path(out))


def apply_to_samples(
    samples: list[Sample],
    spec: DatasetSpec,
    thresholds: Thresholds,
    out: RefinedFolder | str | Path,
    *,
    max_objects: int = APPLY_MAX_OBJECTS,
    options: RefineOptions = FAITHFUL,
    execution: Execution = LOCAL,
) -> dict | None:
    """Refine every image with ``thresholds`` into ``out`` (a :class:`~sessrs.folders.RefinedFolder` or its
    folder: P-mode PNGs and the record of what each was made from); resumable.

    Returns the unrefined and refined scores (``None`` without ground truth). Each refined map is kept for a
    re-run only while its prediction and objects are the same files (by content); a folder holding images
    refined with other thresholds, or PNGs of anything else, is refused. ``execution`` says where the images are
    refined (local processes or a Dask cluster).
    """
    folder = _refined_folder(out)
    if not samples:
        raise InputError("no images to refine")
    max_objects = check_max_objects(max_objects)
    thresholds.check_classes(spec.num_classes)
    settings = _application_settings(spec, thresholds, max_objects, options)
    record = check_application_folder(folder, samples, spec, thresholds, max_objects=max_objects, options=options)
    if execution.scheduler:
        check_scheduler(execution.scheduler)
    with folder.locked():
        return _apply(
            samples,
            spec,
            thresholds,
            folder,
            record or {"settings": settings, "images": {}},
            settings,
            max_objects,
            options,
            execution,
        )


def _apply(
    samples: list[Sample],
    spec: DatasetSpec,
    thresholds: Thresholds,
    folder: RefinedFolder,
    record: dict[str, Any],
    settings: dict[str, Any],
    max_objects: int,
    options: RefineOptions,
    execution: Execution,
) -> dict | None:
    """:func:`apply_to_samples` once ``folder`` is checked and held by this run."""
    folder.root.mkdir(parents=True, exist_ok=True)
    write_json_atomic(folder.record, record)
    made_from = {s.stem: sample_fingerprint(s, spec, settings, with_gt=False) for s in samples}
    done, todo = [], []
    for sample in samples:
        previous = record["images"].get(sample.stem)
        reusable = _reusable(folder.refined_map(sample.stem), previous, made_from[sample.stem])
        (done if reusable else todo).append(sample)
    results = [_rescore(s, spec, folder) for s in done]
    jobs = [(s.stem, (s, spec, thresholds, max_objects, folder, options)) for s in todo]
    with tqdm(total=len(samples), initial=len(done), desc="apply", unit="image") as progress:
        for stem, (result, written) in each_job(_refine_one, jobs, execution):
            record["images"][stem] = {"made_from": made_from[stem], "output": written}
            write_json_atomic(folder.record, record)
            results.append(result)
            progress.update()
    if any(before is None for before, _ in results):
        return None
    before = sum(r[0] for r in results)
    after = sum(r[1] for r in results)
    return comparison(before, after, spec, thresholds)


def comparison(before: np.ndarray, after: np.ndarray, spec: DatasetSpec, thresholds: Thresholds) -> dict:
    """Unrefined vs refined figures, overall and per class (the content of ``metrics.json``)."""
    unrefined, refined = compute_scores(before, spec.scored), compute_scores(after, spec.scored)
    return {
        "thresholds": thresholds.to_json(),
        "unrefined": {**unrefined.as_dict(spec.classes), "per_class": unrefined.per_class(spec.classes)},
        "refined": {**refined.as_dict(spec.classes), "per_class": refined.per_class(spec.classes)},
    }


def comparison_table(report: dict, spec: DatasetSpec) -> str:
    """A readable unrefined-vs-refined table."""
    before, after = report["unrefined"], report["refined"]
    lines = [
        f"modify = {report['thresholds']['modify']}",
        f"{'class':<14} {'IoU':>15} {'F1':>15} {'recall':>15} {'precision':>15}",
    ]
    for name in before["per_class"]:
        cells = [
            f"{before['per_class'][name][k]:6.2f}>{after['per_class'][name][k]:6.2f}"
            for k in ("IoU", "F1", "recall", "precision")
        ]
        lines.append(f"{name:<14} " + " ".join(f"{c:>15}" for c in cells))
    for key in ("mIoU", "mF1", "mPA", "OA"):
        lines.append(f"{key:<14} {before[key]:6.2f} > {after[key]:6.2f} ({after[key] - before[key]:+.2f})")
    return "\n".join(lines) + "\n"
