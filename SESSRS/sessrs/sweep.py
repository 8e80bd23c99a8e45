"""The per-class t1/t2 sweep, computed incrementally: every image is read and measured once, and each
threshold pair only updates the confusion matrix by the pixels its refinement changes."""
from __future__ import annotations

import json
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rscommon.datasets import DatasetSpec
from rscommon.files import InputError, read_json, write_json_atomic, write_text_atomic
from rscommon.labels import read_label_png
from rscommon.metrics import compute_scores, confusion_matrix
from rscommon.parallel import each_job

from .inputs import Sample, load_ground_truth, load_scene
from .plots import sweep_heatmap
from .refine import assign_classes, candidate_lists, replacement
from .resume import sample_fingerprint, stale_reason
from .scene import Scene
from .thresholds import SWEEP_MAX_OBJECTS
from .validate import check_output_folder

T1_VALUES = (0.5, 0.6, 0.7, 0.8, 0.9)
T2_VALUES = (0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
THRESHOLD_PAIRS = tuple((t1, t2) for t1 in T1_VALUES for t2 in T2_VALUES)


@dataclass
class SceneSweep:
    """One image's confusion matrices: unrefined, and per class one per threshold pair."""

    baseline: np.ndarray
    per_class: dict[int, np.ndarray]


def replaced_instances(
    scene: Scene, objects, cls: int, instances: np.ndarray, t1: float, t2: float, max_objects: int
) -> list[tuple[int, tuple[int, ...], np.ndarray]]:
    """Step 4 for one class, as (instance, its objects, replacing pixels) for the instances that change."""
    members = scene.area_order[objects.cls[scene.area_order] == cls]
    replaced = []
    for instance, candidates in zip(instances, candidate_lists(scene, objects, members, instances, t1, t2)):
        if candidates:
            pixels = replacement(scene, objects, instance, candidates, t1, t2, max_objects)
            if pixels is not None:
                replaced.append((int(instance), tuple(candidates), pixels))
    return replaced


def change_matrix(scene: Scene, gt: np.ndarray, cls: int, replaced) -> np.ndarray:
    """How the confusion matrix moves when ``cls`` alone is refined with these instance replacements.

    Only the changed pixels are visited: pixels newly covered turn into ``cls``, pixels of a replaced
    instance that no replacement covers take the filled value (step 6.3).
    """
    classes = scene.num_classes
    delta = np.zeros(classes * classes, np.int64)
    if not replaced:
        return delta.reshape(classes, classes)
    covered = scene.union([pixels for _, _, pixels in replaced])
    removed = np.concatenate([scene.instance_pixels(instance) for instance, _, _ in replaced])
    gained = covered[scene.flat_pred[covered] != cls]
    scene.scratch[covered] = True
    lost = removed[~scene.scratch[removed]]
    scene.scratch[covered] = False
    for pixels, before, after in ((gained, scene.flat_pred[gained], cls), (lost, cls, scene.filled(cls)[lost])):
        truth = gt[pixels].astype(np.int64)
        scored = truth < classes
        for values, sign in ((before, -1), (after, 1)):
            codes = truth[scored] * classes + np.broadcast_to(values, truth.shape)[scored]
            delta += sign * np.bincount(codes, minlength=classes * classes)
    return delta.reshape(classes, classes)


def sweep_scene(scene: Scene, gt: np.ndarray, classes: Sequence[int], max_objects: int = SWEEP_MAX_OBJECTS) -> SceneSweep:
    """Confusion matrices of one image for every class in ``classes`` and every threshold pair."""
    flat_gt = gt.ravel(order="F")
    baseline = confusion_matrix(gt, scene.pred, scene.num_classes)
    per_class = {}
    for cls in classes:
        instances = scene.instances_of(cls)
        unions: dict = {}
        by_outcome: dict = {}
        matrices = np.empty((len(THRESHOLD_PAIRS), *baseline.shape), np.int64)
        objects_by_t1 = {}
        for row, (t1, t2) in enumerate(THRESHOLD_PAIRS):
            if t1 not in objects_by_t1:
                t1_per_class = np.ones(scene.num_classes)
                t1_per_class[cls] = t1
                objects_by_t1[t1] = assign_classes(scene, t1_per_class, unions)
            objects = objects_by_t1[t1]
            replaced = replaced_instances(scene, objects, cls, instances, t1, t2, max_objects)
            outcome = tuple((instance, members) for instance, members, _ in replaced)
            if outcome not in by_outcome:
                by_outcome[outcome] = baseline + change_matrix(scene, flat_gt, cls, replaced)
            matrices[row] = by_outcome[outcome]
        per_class[cls] = matrices
    return SceneSweep(baseline=baseline, per_class=per_class)


def _sweep_sample(job: tuple[Sample, DatasetSpec, tuple[int, ...], int]) -> SceneSweep:
    sample, spec, classes, max_objects = job
    scene = load_scene(sample, spec)
    gt = load_ground_truth(sample, spec, scene.shape)
    return sweep_scene(scene, gt, classes, max_objects)


class PartError(InputError):
    """A saved part that cannot be read back as the sweep of one image with the current settings."""


def _save_part(path: Path, result: SceneSweep, made_from: dict) -> None:
    """One image's matrices and what they were made from, written under a temporary name, then renamed."""
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        with open(temporary, "wb") as stream:
            np.savez(stream, baseline=result.baseline, made_from=np.array(json.dumps(made_from, sort_keys=True)),
                     **{f"class_{c}": m for c, m in result.per_class.items()})
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)


def _load_part(path: Path, classes: Sequence[int], num_classes: int) -> tuple[SceneSweep, dict]:
    """A saved part and its record of what it was made from; :class:`PartError` names an unreadable one."""
    square = (num_classes, num_classes)
    try:
        with open(path, "rb") as stream, np.load(stream, allow_pickle=False) as part:
            made_from = json.loads(str(part["made_from"]))
            result = SceneSweep(baseline=part["baseline"], per_class={c: part[f"class_{c}"] for c in classes})
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise PartError(f"{path}: unreadable sweep part ({type(error).__name__}: {error})") from error
    shapes = [result.baseline.shape, *(m.shape for m in result.per_class.values())]
    if shapes != [square, *[(len(THRESHOLD_PAIRS), *square)] * len(classes)]:
        raise PartError(f"{path}: sweep part of shapes {shapes}, not {num_classes} classes x {len(THRESHOLD_PAIRS)} pairs")
    return result, made_from


def _claim_output(out_dir: Path, signature: dict) -> None:
    """Start a sweep in ``out_dir``, or resume the same sweep; refuse a folder holding another one."""
    run_file = out_dir / "run.json"
    if run_file.exists():
        previous = read_json(run_file)
        if not isinstance(previous, dict) or not set(previous) <= set(signature):
            raise InputError(f"{run_file}: not the record of a sweep ({', '.join(signature)}); "
                             "choose another --out or remove that folder")
        if previous != signature:
            changed = sorted(k for k in signature if previous.get(k) != signature[k])
            raise InputError(
                f"{out_dir}: holds the results of a different sweep (differs in {', '.join(changed)}); "
                "choose another --out or remove that folder"
            )
        return
    (out_dir / "parts").mkdir(parents=True, exist_ok=True)
    write_json_atomic(run_file, signature)


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


def _parts_to_compute(samples: Sequence[Sample], parts: Path, settings: dict) -> tuple[list[Sample], dict[str, dict]]:
    """The samples whose part is missing, unreadable or made from other inputs, and every sample's record."""
    records = {s.stem: sample_fingerprint(s, settings, with_gt=True) for s in samples}
    todo = []
    for sample in samples:
        path = parts / f"{sample.stem}.npz"
        if not path.exists():
            todo.append(sample)
            continue
        try:
            _, made_from = _load_part(path, settings["classes"], settings["num_classes"])
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
    out_dir: str | Path,
    classes: Sequence[int] | None = None,
    workers: int = 1,
    max_objects: int = SWEEP_MAX_OBJECTS,
    scheduler: str | None = None,
) -> dict:
    """Sweep every class over all threshold pairs; resumable, one saved part per finished image.

    Writes ``sweep.json`` (the reference's figures), ``sweep.txt`` and ``heatmap_<class>.png`` into
    ``out_dir`` and returns the ``sweep.json`` content. Each part records what it was made from (its files'
    content, the settings, the algorithm's version); a re-run computes again exactly the images whose part is
    missing, unreadable or made from anything else. ``scheduler`` (a ``dask.distributed`` address) runs the
    images on that cluster instead of ``workers`` local processes.
    """
    out_dir = Path(out_dir)
    if not samples:
        raise InputError("no images to sweep")
    classes = tuple(int(c) for c in (classes if classes is not None else spec.scored))
    unknown = [c for c in classes if not 0 <= c < spec.num_classes]
    if unknown:
        raise InputError(f"classes {unknown} are not classes of {spec.name} (0..{spec.num_classes - 1})")
    settings = {"dataset": spec.name, "num_classes": spec.num_classes, "classes": list(classes),
                "max_objects": max_objects, "pairs": [list(pair) for pair in THRESHOLD_PAIRS]}
    signature = {
        "dataset": spec.name,
        "classes": list(classes),
        "max_objects": max_objects,
        "scenes": [s.stem for s in samples],
        "inputs": [[str(s.pred), str(s.sam), str(s.gt)] for s in samples],
    }
    check_output_folder(out_dir, {"prediction": samples[0].pred.parent, "objects": samples[0].sam.parent,
                                  "ground-truth": samples[0].gt.parent})
    check_scored_truth(samples, spec)
    _claim_output(out_dir, signature)
    parts = out_dir / "parts"
    todo, records = _parts_to_compute(samples, parts, settings)
    jobs = [(sample.stem, (sample, spec, classes, max_objects)) for sample in todo]
    with tqdm(total=len(samples), initial=len(samples) - len(todo), desc="sweep", unit="image") as progress:
        for stem, result in each_job(_sweep_sample, jobs, workers, scheduler):
            _save_part(parts / f"{stem}.npz", result, records[stem])
            progress.update()
    results = [_load_part(parts / f"{s.stem}.npz", classes, spec.num_classes)[0] for s in samples]
    sweep = summarise(results, spec, classes, [s.stem for s in samples])
    write_sweep_outputs(sweep, spec, out_dir)
    return sweep


def summarise(results: list[SceneSweep], spec: DatasetSpec, classes: Sequence[int], stems: list[str]) -> dict:
    """The ``sweep.json`` content: baseline figures and, per class, one row per threshold pair."""
    baseline = sum(r.baseline for r in results)
    sweeps = {}
    for cls in classes:
        totals = sum(r.per_class[cls] for r in results)
        sweeps[str(cls)] = [
            {"t1": t1, "t2": t2, **compute_scores(matrix, spec.scored).as_dict(spec.classes)}
            for (t1, t2), matrix in zip(THRESHOLD_PAIRS, totals)
        ]
    return {
        "scenes": stems,
        "classes": list(spec.classes),
        "scored_classes": list(spec.scored),
        "baseline": compute_scores(baseline, spec.scored).as_dict(spec.classes),
        "sweeps": sweeps,
    }


def write_sweep_outputs(sweep: dict, spec: DatasetSpec, out_dir: Path) -> None:
    """``sweep.json``, a readable ``sweep.txt`` and one heatmap per class."""
    write_json_atomic(out_dir / "sweep.json", sweep)
    base = sweep["baseline"]
    lines = [f"unrefined (t1=1, t2=1): mIoU {base['mIoU']:.2f}  mF1 {base['mF1']:.2f}  mPA {base['mPA']:.2f}  OA {base['OA']:.2f}"]
    for cls, rows in sweep["sweeps"].items():
        name = spec.classes[int(cls)]
        best = max(rows, key=lambda row: row["mIoU"])
        lines += ["", f"class {cls} ({name}): best mIoU {best['mIoU']:.2f} at t1={best['t1']}, t2={best['t2']}",
                  f"{'t1':>4} {'t2':>5} {'mIoU':>7} {'change':>7} {'mF1':>7} {'mPA':>7} {'OA':>7} {'IoU ' + name:>18}"]
        for row in rows:
            lines.append(
                f"{row['t1']:>4} {row['t2']:>5} {row['mIoU']:7.2f} {row['mIoU'] - base['mIoU']:+7.2f} "
                f"{row['mF1']:7.2f} {row['mPA']:7.2f} {row['OA']:7.2f} {row['IoU'].get(name, float('nan')):18.2f}"
            )
        sweep_heatmap(rows, base["mIoU"], list(T1_VALUES), list(T2_VALUES),
                      f"{spec.name}: refining {name} (mIoU change)", out_dir / f"heatmap_{cls}_{name}.png")
    write_text_atomic(out_dir / "sweep.txt", "\n".join(lines) + "\n")
