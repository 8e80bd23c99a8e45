"""Pick each class's best thresholds from a sweep and apply them to every image."""
from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from rscommon.datasets import DatasetSpec, get_dataset
from rscommon.files import InputError, read_json, write_json_atomic, write_text_atomic
from rscommon.labels import read_label_png, write_label_png
from rscommon.metrics import compute_scores, confusion_matrix
from rscommon.parallel import each_job

from .inputs import Sample, load_ground_truth, load_prepared
from .modes import FAITHFUL, RefineOptions, check_sweep_options
from .steps import refine_prepared
from .resume import sample_fingerprint, stale_reason
from .thresholds import APPLY_MAX_OBJECTS, NEVER, Thresholds
from rscommon.outputs import check_output_folder

from .validate import check_sweep, read_sweep

APPLIED_RECORD = ".applied.json"


def threshold_limit(mode: str | float) -> float:
    """The largest picked t1 that puts a class into ``modify``: ``all`` means 0.99, else the number given."""
    if str(mode) == "all":
        return 0.99
    try:
        limit = float(mode)
    except ValueError:
        limit = float("nan")
    if not 0 < limit <= 1:
        raise InputError(f"threshold mode {mode!r} must be 'all' or a number in (0, 1]")
    return limit


def pick_thresholds(sweep: Mapping | str | Path, dataset: DatasetSpec | str, mode: str | float = 0.7) -> Thresholds:
    """Per class the entry of highest mIoU (first on a tie, the unrefined entry first), as the reference does.

    ``sweep`` is a ``sweep.json`` (its path or its content), validated against ``dataset``. Every class of the
    dataset gets a ``t1``/``t2`` (1 when not refined); a class is in ``modify`` when its pick is not the unrefined
    entry and its t1 is at most the mode's limit (``all``: 0.99).
    """
    spec = get_dataset(dataset) if isinstance(dataset, str) else dataset
    limit = threshold_limit(mode)
    sweep = read_sweep(sweep, spec) if isinstance(sweep, (str, Path)) else check_sweep(sweep, spec)
    t1 = dict.fromkeys(range(spec.num_classes), NEVER)
    t2 = dict.fromkeys(range(spec.num_classes), NEVER)
    for key, rows in sweep["sweeps"].items():
        entries = [{"t1": NEVER, "t2": NEVER, "mIoU": sweep["baseline"]["mIoU"]}, *rows]
        best = max(entries, key=lambda entry: entry["mIoU"])
        t1[int(key)], t2[int(key)] = float(best["t1"]), float(best["t2"])
    return Thresholds(t1=t1, t2=t2, modify=tuple(c for c in range(spec.num_classes) if t1[c] <= limit))


Scores = tuple[np.ndarray | None, np.ndarray | None]
"""The confusion matrices of one image before and after the refinement (``None`` without ground truth)."""


def _refine_one(job: tuple[Sample, DatasetSpec, Thresholds, int, Path, RefineOptions]) -> Scores:
    sample, spec, thresholds, max_objects, out_dir, options = job
    prepared = load_prepared(sample, spec)
    t1, t2 = thresholds.t1_array(spec.num_classes), thresholds.t2_array(spec.num_classes)
    refined = refine_prepared(prepared, t1, t2, thresholds.modify, max_objects, options)
    write_label_png(out_dir / f"{sample.stem}.png", refined, spec)
    if sample.gt is None:
        return None, None
    gt = load_ground_truth(sample, spec, prepared.shape)
    return confusion_matrix(gt, prepared.pred, spec.num_classes), confusion_matrix(gt, refined, spec.num_classes)


def _rescore(sample: Sample, spec: DatasetSpec, out_dir: Path) -> Scores:
    """Scores of an image refined, from the same inputs, by an earlier run of the same application."""
    if sample.gt is None:
        return None, None
    refined = read_label_png(out_dir / f"{sample.stem}.png", spec)
    pred = read_label_png(sample.pred, spec)
    gt = load_ground_truth(sample, spec, pred.shape)
    return confusion_matrix(gt, pred, spec.num_classes), confusion_matrix(gt, refined, spec.num_classes)


def _application_settings(spec: DatasetSpec, thresholds: Thresholds, max_objects: int,
                          options: RefineOptions = FAITHFUL) -> dict[str, Any]:
    settings = {"dataset": spec.name, "thresholds": thresholds.to_json(), "max_objects": max_objects}
    return settings if options == FAITHFUL else {**settings, "options": options.to_json()}


def _applied_record(out_dir: Path, settings: dict[str, Any]) -> dict[str, Any] | None:
    """The record of an earlier application into ``out_dir`` (None when there is none); refuses another one."""
    path = out_dir / APPLIED_RECORD
    if not path.exists():
        if out_dir.is_dir() and any(out_dir.glob("*.png")):
            raise InputError(f"{out_dir}: already holds PNGs not written by this application; choose another output folder")
        return None
    record = read_json(path)
    if not (isinstance(record, dict) and isinstance(record.get("settings"), dict)
            and isinstance(record.get("images"), dict)):
        raise InputError(f"{path}: not the record of an application (settings, images); remove that folder")
    if record["settings"] != settings:
        changed = sorted(k for k in settings if record["settings"].get(k) != settings[k])
        raise InputError(f"{out_dir}: holds images refined with other {', '.join(changed)}; "
                         "choose another output folder")
    return record


def _input_folders(samples: list[Sample]) -> dict[str, Path | None]:
    first = samples[0]
    return {"prediction": first.pred.parent, "objects": first.sam.parent,
            "ground-truth": first.gt.parent if first.gt is not None else None}


def check_application_folder(out_dir: str | Path, samples: list[Sample], spec: DatasetSpec, thresholds: Thresholds,
                             max_objects: int = APPLY_MAX_OBJECTS,
                             options: RefineOptions = FAITHFUL) -> dict[str, Any] | None:
    """Refuse, before anything is written, an output folder the application cannot use (see
    :func:`apply_to_samples`); returns the record of an earlier application of the same settings there."""
    out_dir = Path(out_dir)
    check_output_folder(out_dir, _input_folders(samples), "output folder")
    return _applied_record(out_dir, _application_settings(spec, thresholds, max_objects, options))


def apply_to_samples(
    samples: list[Sample],
    spec: DatasetSpec,
    thresholds: Thresholds,
    out_dir: str | Path,
    max_objects: int = APPLY_MAX_OBJECTS,
    workers: int = 1,
    scheduler: str | None = None,
    options: RefineOptions = FAITHFUL,
) -> dict | None:
    """Refine every image with ``thresholds`` into ``out_dir`` (P-mode PNGs); resumable.

    Returns the unrefined and refined scores (``None`` without ground truth). Each refined map is kept for a
    re-run only while its prediction and objects are the same files (by content); a folder holding images
    refined with other thresholds, or PNGs of anything else, is refused. ``scheduler`` (a ``dask.distributed``
    address) refines the images on that cluster instead of ``workers`` local processes.
    """
    out_dir = Path(out_dir)
    if not samples:
        raise InputError("no images to refine")
    thresholds.check_classes(spec.num_classes)
    settings = _application_settings(spec, thresholds, max_objects, options)
    record = check_application_folder(out_dir, samples, spec, thresholds, max_objects, options)
    record = record or {"settings": settings, "images": {}}
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out_dir / APPLIED_RECORD, record)
    made_from = {s.stem: sample_fingerprint(s, settings, with_gt=False) for s in samples}
    done, todo = [], []
    for sample in samples:
        previous = record["images"].get(sample.stem)
        if (out_dir / f"{sample.stem}.png").exists() and previous is not None:
            reason = stale_reason(sample.stem, previous, made_from[sample.stem])
            if reason is None:
                done.append(sample)
                continue
            tqdm.write(reason, file=sys.stderr)
        todo.append(sample)
    results = [_rescore(s, spec, out_dir) for s in done]
    jobs = [(s.stem, (s, spec, thresholds, max_objects, out_dir, options)) for s in todo]
    with tqdm(total=len(samples), initial=len(done), desc="apply", unit="image") as progress:
        for stem, result in each_job(_refine_one, jobs, workers, scheduler):
            record["images"][stem] = made_from[stem]
            write_json_atomic(out_dir / APPLIED_RECORD, record)
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
    lines = [f"modify = {report['thresholds']['modify']}",
             f"{'class':<14} {'IoU':>15} {'F1':>15} {'recall':>15} {'precision':>15}"]
    for name in before["per_class"]:
        cells = [f"{before['per_class'][name][k]:6.2f}>{after['per_class'][name][k]:6.2f}"
                 for k in ("IoU", "F1", "recall", "precision")]
        lines.append(f"{name:<14} " + " ".join(f"{c:>15}" for c in cells))
    for key in ("mIoU", "mF1", "mPA", "OA"):
        lines.append(f"{key:<14} {before[key]:6.2f} > {after[key]:6.2f} ({after[key] - before[key]:+.2f})")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class PickResult:
    """A pick and its application: the thresholds (as in ``best.json``) and the figures (``None`` without truth)."""

    thresholds: Thresholds
    report: dict | None

    def to_json(self) -> dict[str, Any]:
        return {"best": self.thresholds.to_json(), "report": self.report}


def check_previous_pick(best_file: Path, thresholds: Thresholds) -> None:
    """Refuse a ``best.json`` holding other thresholds (its folder's figures belong to them)."""
    if best_file.exists() and Thresholds.read(best_file) != thresholds:
        raise InputError(f"{best_file}: holds another pick (other thresholds); choose another output folder "
                         "or remove that one")


def pick_and_apply(
    sweep_file: str | Path,
    samples: list[Sample],
    spec: DatasetSpec,
    out_dir: str | Path,
    refined_dir: str | Path,
    mode: str | float = 0.7,
    max_objects: int = APPLY_MAX_OBJECTS,
    workers: int = 1,
    scheduler: str | None = None,
    options: RefineOptions = FAITHFUL,
) -> PickResult:
    """Pick from ``sweep_file``, write ``best.json``, refine into ``refined_dir`` and report the figures.

    Everything is checked before anything is written: the sweep (for ``spec``), the images, and both output
    folders (not an input folder, writable, not holding another pick or other refined images).
    """
    out_dir, refined_dir = Path(out_dir), Path(refined_dir)
    if not samples:
        raise InputError("no images to refine")
    sweep = read_sweep(sweep_file, spec)
    check_sweep_options(sweep, options, sweep_file)
    thresholds = pick_thresholds(sweep, spec, mode)
    check_output_folder(out_dir, _input_folders(samples))
    check_previous_pick(out_dir / "best.json", thresholds)
    check_application_folder(refined_dir, samples, spec, thresholds, max_objects, options)
    thresholds.write(out_dir / "best.json")
    report = apply_to_samples(samples, spec, thresholds, refined_dir, max_objects, workers, scheduler, options)
    if report is not None:
        write_json_atomic(out_dir / "metrics.json", report)
        write_text_atomic(out_dir / "metrics.txt", comparison_table(report, spec))
    return PickResult(thresholds=thresholds, report=report)
