"""The per-class t1/t2 sweep, computed incrementally: every image is read and measured once, and each
threshold pair only updates the confusion matrix by the pixels its refinement changes."""

from __future__ import annotations

import json
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rscommon.datasets import DatasetSpec
from rscommon.files import InputError, read_json, write_json_atomic, write_text_atomic
from rscommon.labels import read_label_png
from rscommon.metrics import compute_scores
from rscommon.parallel import LOCAL, Execution, check_scheduler, each_job

from .folders import SweepFolder
from .inputs import Sample, image_identity, load_ground_truth, load_prepared
from .modes import FAITHFUL, RefineOptions
from .plots import sweep_heatmap
from .resume import sample_fingerprint, stale_reason
from .sweep_engine import REFERENCE_GRID, ImageSweep, ThresholdGrid, sweep_image
from .thresholds import SWEEP_MAX_OBJECTS, check_max_objects
from .validate import current_keys

T1_VALUES, T2_VALUES = REFERENCE_GRID.t1_values, REFERENCE_GRID.t2_values
THRESHOLD_PAIRS = REFERENCE_GRID.pairs
"""The reference's grid: 45 (t1, t2) pairs, t1 outer (``--t1-values``/``--t2-values`` choose another grid)."""


def _sweep_sample(job: tuple[Sample, DatasetSpec, tuple[int, ...], int, ThresholdGrid, RefineOptions]) -> ImageSweep:
    sample, spec, classes, max_objects, grid, options = job
    prepared = load_prepared(sample, spec)
    gt = load_ground_truth(sample, spec, prepared.shape)
    return sweep_image(prepared, gt, classes, max_objects=max_objects, grid=grid, options=options)


class PartError(InputError):
    """A saved part that cannot be read back as the sweep of one image with the current settings."""


def _save_part(path: Path, result: ImageSweep, made_from: dict) -> None:
    """One image's matrices and what they were made from, written under a temporary name, then renamed."""
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        with open(temporary, "wb") as stream:
            np.savez(
                stream,
                baseline=result.baseline,
                made_from=np.array(json.dumps(made_from, sort_keys=True)),
                **{f"class_{c}": m for c, m in result.per_class.items()},
            )
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)


def load_part(path: Path, classes: Sequence[int], num_classes: int, pairs: int) -> tuple[ImageSweep, dict]:
    """A saved part and its record of what it was made from; :class:`PartError` names an unreadable one."""
    square = (num_classes, num_classes)
    try:
        with open(path, "rb") as stream, np.load(stream, allow_pickle=False) as part:
            made_from = json.loads(str(part["made_from"]))
            result = ImageSweep(baseline=part["baseline"], per_class={c: part[f"class_{c}"] for c in classes})
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise PartError(f"{path}: unreadable sweep part ({type(error).__name__}: {error})") from error
    shapes = [result.baseline.shape, *(m.shape for m in result.per_class.values())]
    if shapes != [square, *[(pairs, *square)] * len(classes)]:
        raise PartError(f"{path}: sweep part of shapes {shapes}, not {num_classes} classes x {pairs} pairs")
    return result, made_from


def _claim_output(folder: SweepFolder, signature: dict, restart: bool) -> None:
    """Start a sweep in ``folder``, or resume the same sweep; refuse a folder holding another one (unless
    ``restart``: then the folder is this sweep's from now on)."""
    run_file = folder.run
    if run_file.exists() and not restart:
        previous = read_json(run_file)
        previous = current_keys(previous) if isinstance(previous, dict) else previous
        if not isinstance(previous, dict) or not set(previous) <= set(signature):
            raise InputError(
                f"{run_file}: not the record of a sweep ({', '.join(signature)}); "
                "choose another --out or remove that folder"
            )
        if previous != signature:
            changed = sorted(k for k in signature if previous.get(k) != signature[k])
            raise InputError(
                f"{folder.root}: holds the results of a different sweep (differs in {', '.join(changed)}); "
                "choose another --out or remove that folder"
            )
        return
    folder.parts.mkdir(parents=True, exist_ok=True)
    write_json_atomic(run_file, signature)


def sweep_classes(classes: Sequence[int] | None, spec: DatasetSpec) -> tuple[int, ...]:
    """The classes to sweep (the scored ones when ``None``): each a class of ``spec``, none twice."""
    classes = tuple(int(c) for c in (classes if classes is not None else spec.scored))
    unknown = [c for c in classes if not 0 <= c < spec.num_classes]
    if unknown:
        raise InputError(f"classes {unknown} are not classes of {spec.name} (0..{spec.num_classes - 1})")
    twice = sorted({c for c in classes if classes.count(c) > 1})
    if twice:
        raise InputError(f"classes {twice} given twice; name each class to sweep once")
    return classes


def check_scored_truth(samples: Sequence[Sample], spec: DatasetSpec) -> None:
    """Refuse ground truth without a single pixel of a scored class in any image (it would score nothing)."""
    seen: set[int] = set()
    for sample in samples:
        values = np.unique(read_label_png(sample.gt, spec))
        if np.isin(values, spec.scored).any():
            return
        seen.update(values.tolist())
    folder = samples[0].gt.parent if samples else "the ground truth"
    raise InputError(
        f"{folder}: no ground-truth pixel of a scored {spec.name} class ({', '.join(map(str, spec.scored))}) in any "
        f"of the {len(samples)} images (values found: {sorted(seen)}); wrong folder or dataset?"
    )


def _parts_to_compute(
    samples: Sequence[Sample], spec: DatasetSpec, folder: SweepFolder, settings: dict, restart: bool
) -> tuple[list[Sample], dict[str, dict]]:
    """The samples whose part is missing, unreadable or made from other inputs (all when ``restart``), and every
    sample's record."""
    records = {s.stem: sample_fingerprint(s, spec, settings, with_gt=True) for s in samples}
    todo = []
    for sample in samples:
        path = folder.part(sample.stem)
        if restart or not path.exists():
            todo.append(sample)
            continue
        try:
            _, made_from = load_part(path, settings["classes"], settings["num_classes"], len(settings["pairs"]))
        except PartError as error:
            tqdm.write(f"{error}; computing it again", file=sys.stderr)
            todo.append(sample)
            continue
        reason = stale_reason(sample.stem, made_from, records[sample.stem])
        if reason:
            tqdm.write(reason, file=sys.stderr)
            todo.append(sample)
    return todo, records


def run_sweep(
    samples: list[Sample],
    spec: DatasetSpec,
    out: SweepFolder | str | Path,
    *,
    classes: Sequence[int] | None = None,
    max_objects: int = SWEEP_MAX_OBJECTS,
    grid: ThresholdGrid = REFERENCE_GRID,
    options: RefineOptions = FAITHFUL,
    execution: Execution = LOCAL,
    split: dict | None = None,
    restart: bool = False,
    heatmaps: bool = True,
) -> dict:
    """Sweep every class over all threshold pairs of ``grid``; resumable, one saved part per finished image.

    Writes ``sweep.json`` (the reference's figures), ``sweep.txt`` and ``heatmap_<class>_<name>.png`` into
    ``out`` (see :class:`~sessrs.folders.SweepFolder`) and returns the ``sweep.json`` content. Each part records
    what it was made from (its files' content, the settings, the algorithm's version); a re-run computes again
    exactly the images whose part is missing, unreadable or made from anything else. ``execution`` says where the
    images run (local processes or a Dask cluster). ``options``: the refinement's mode
    (:class:`~sessrs.modes.RefineOptions`; the reference's by default). ``sweep.json`` records the images it was
    tuned on (names and content) and ``split``, the record of the split file that chose them
    (:func:`~sessrs.inputs.split_record`; ``None`` without one), which a held-out pick checks. ``restart``:
    compute every image again (the folder may hold another sweep, which is replaced). ``heatmaps``: draw the
    heatmaps (about a quarter of a second each; a caller that shows none of them may leave them out).
    """
    folder = out if isinstance(out, SweepFolder) else SweepFolder(Path(out))
    if not samples:
        raise InputError("no images to sweep")
    classes = sweep_classes(classes, spec)
    max_objects = check_max_objects(max_objects)
    settings = {
        "dataset": spec.name,
        "num_classes": spec.num_classes,
        "classes": list(classes),
        "max_objects": max_objects,
        "pairs": [list(pair) for pair in grid.pairs],
        "options": options.to_json(),
    }
    signature = {
        "dataset": spec.name,
        "classes": list(classes),
        "max_objects": max_objects,
        "grid": grid.to_json(),
        "options": options.to_json(),
        "images": [s.stem for s in samples],
        "inputs": [[str(s.pred), str(s.sam), str(s.gt)] for s in samples],
    }
    folder.check(samples)
    check_scored_truth(samples, spec)
    if execution.scheduler:
        check_scheduler(execution.scheduler)
    with folder.locked():
        _claim_output(folder, signature, restart)
        todo, records = _parts_to_compute(samples, spec, folder, settings, restart)
        jobs = [(sample.stem, (sample, spec, classes, max_objects, grid, options)) for sample in todo]
        with tqdm(total=len(samples), initial=len(samples) - len(todo), desc="sweep", unit="image") as progress:
            for stem, result in each_job(_sweep_sample, jobs, execution):
                _save_part(folder.part(stem), result, records[stem])
                progress.update()
        results = [load_part(folder.part(s.stem), classes, spec.num_classes, len(grid.pairs))[0] for s in samples]
        sweep = summarise(
            results,
            spec,
            classes,
            [s.stem for s in samples],
            grid=grid,
            options=options,
            max_objects=max_objects,
            tuned_on=[image_identity(s, spec) for s in samples],
            split=split,
        )
        write_sweep_outputs(sweep, spec, folder, heatmaps=heatmaps)
    return sweep


def summarise(
    results: list[ImageSweep],
    spec: DatasetSpec,
    classes: Sequence[int],
    stems: list[str],
    *,
    grid: ThresholdGrid = REFERENCE_GRID,
    options: RefineOptions = FAITHFUL,
    max_objects: int = SWEEP_MAX_OBJECTS,
    tuned_on: list[dict] | None = None,
    split: dict | None = None,
) -> dict:
    """The ``sweep.json`` content: the names of the images (``images``, in the order of ``results``), baseline
    figures and, per class, one row per threshold pair of ``grid``; also the grid, the refinement's mode and the
    object limit the sweep was made with, the images it was tuned on (``tuned_on``:
    :func:`~sessrs.inputs.image_identity` of each; names only when not given) and the ``split`` that chose them."""
    baseline = sum(r.baseline for r in results)
    sweeps = {}
    for cls in classes:
        totals = sum(r.per_class[cls] for r in results)
        sweeps[str(cls)] = [
            {"t1": t1, "t2": t2, **compute_scores(matrix, spec.scored).as_dict(spec.classes)}
            for (t1, t2), matrix in zip(grid.pairs, totals, strict=True)
        ]
    return {
        "images": stems,
        "classes": list(spec.classes),
        "scored_classes": list(spec.scored),
        "baseline": compute_scores(baseline, spec.scored).as_dict(spec.classes),
        "sweeps": sweeps,
        "grid": grid.to_json(),
        "mode": options.mode,
        "options": options.to_json(),
        "max_objects": max_objects,
        "tuned_on": tuned_on if tuned_on is not None else [{"name": stem} for stem in stems],
        "split": split,
    }


def write_sweep_outputs(sweep: dict, spec: DatasetSpec, folder: SweepFolder, *, heatmaps: bool = True) -> None:
    """``sweep.json``, a readable ``sweep.txt`` and (with ``heatmaps``) one heatmap per class."""
    write_json_atomic(folder.sweep, sweep)
    base = sweep["baseline"]
    lines = [
        f"unrefined (t1=1, t2=1): mIoU {base['mIoU']:.2f}  mF1 {base['mF1']:.2f}  mPA {base['mPA']:.2f}  "
        f"OA {base['OA']:.2f}"
    ]
    for cls, rows in sweep["sweeps"].items():
        name = spec.classes[int(cls)]
        best = max(rows, key=lambda row: row["mIoU"])
        lines += [
            "",
            f"class {cls} ({name}): best mIoU {best['mIoU']:.2f} at t1={best['t1']}, t2={best['t2']}",
            f"{'t1':>4} {'t2':>5} {'mIoU':>7} {'change':>7} {'mF1':>7} {'mPA':>7} {'OA':>7} {'IoU ' + name:>18}",
        ]
        for row in rows:
            lines.append(
                f"{row['t1']:>4} {row['t2']:>5} {row['mIoU']:7.2f} {row['mIoU'] - base['mIoU']:+7.2f} "
                f"{row['mF1']:7.2f} {row['mPA']:7.2f} {row['OA']:7.2f} {row['IoU'].get(name, float('nan')):18.2f}"
            )
        if not heatmaps:
            continue
        t1_values, t2_values = (list(dict.fromkeys(row[key] for row in rows)) for key in ("t1", "t2"))
        sweep_heatmap(
            rows,
            base["mIoU"],
            t1_values,
            t2_values,
            f"{spec.name}: refining {name} (mIoU change)",
            folder.heatmap(int(cls), name),
        )
    write_text_atomic(folder.text, "\n".join(lines) + "\n")
