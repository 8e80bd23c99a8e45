"""Pick each class's best thresholds from a sweep and apply them to every image."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from rscommon.datasets import DatasetSpec
from rscommon.files import InputError, read_json, write_json_atomic, write_text_atomic
from rscommon.labels import read_label_png, write_label_png
from rscommon.metrics import compute_scores, confusion_matrix
from rscommon.parallel import unordered_map

from .inputs import Sample, load_ground_truth, load_scene
from .refine import refine_scene, thresholds

APPLY_MAX_OBJECTS = 5
UNREFINED = {"t1": 1.0, "t2": 1.0}


def threshold_limit(mode: str | float) -> float:
    """The largest picked t1 that puts a class into ``modify``: ``all`` means 0.99, else the number given."""
    if str(mode) == "all":
        return 0.99
    limit = float(mode)
    if not 0 < limit <= 1:
        raise ValueError(f"threshold mode {mode!r} must be 'all' or a number in (0, 1]")
    return limit


def pick_thresholds(sweep: dict, spec: DatasetSpec, mode: str | float = 0.7) -> dict:
    """Per class the entry of highest mIoU (first on a tie, the unrefined entry first), as the reference does.

    Returns ``{"t1": {class: t1}, "t2": {class: t2}, "modify": [classes]}`` over all the dataset's classes;
    a class is refined when its pick is not the unrefined entry and its t1 is at most the mode's limit.
    """
    limit = threshold_limit(mode)
    t1 = {str(c): UNREFINED["t1"] for c in range(spec.num_classes)}
    t2 = {str(c): UNREFINED["t2"] for c in range(spec.num_classes)}
    for cls, rows in sweep["sweeps"].items():
        if not 0 <= int(cls) < spec.num_classes:
            raise InputError(f"sweep holds class {cls}, not a class of {spec.name}")
        entries = [{**UNREFINED, "mIoU": sweep["baseline"]["mIoU"]}, *rows]
        best = max(entries, key=lambda entry: entry["mIoU"])
        t1[cls], t2[cls] = float(best["t1"]), float(best["t2"])
    modify = [c for c in range(spec.num_classes) if t1[str(c)] <= limit]
    return {"t1": t1, "t2": t2, "modify": modify}


def _apply_one(job: tuple[Sample, DatasetSpec, dict, int, Path]) -> tuple[str, np.ndarray | None, np.ndarray | None]:
    sample, spec, best, max_objects, out_dir = job
    scene = load_scene(sample, spec)
    refined = refine_scene(
        scene,
        thresholds(best["t1"], spec.num_classes),
        thresholds(best["t2"], spec.num_classes),
        best["modify"],
        max_objects,
    )
    write_label_png(out_dir / f"{sample.stem}.png", refined, spec)
    if sample.gt is None:
        return sample.stem, None, None
    gt = load_ground_truth(sample, spec, scene.shape)
    return sample.stem, confusion_matrix(gt, scene.pred, spec.num_classes), confusion_matrix(gt, refined, spec.num_classes)


def _rescore(sample: Sample, spec: DatasetSpec, out_dir: Path) -> tuple[str, np.ndarray | None, np.ndarray | None]:
    """Scores of an image refined by an earlier, interrupted run of the same application."""
    if sample.gt is None:
        return sample.stem, None, None
    refined = read_label_png(out_dir / f"{sample.stem}.png", spec)
    pred = read_label_png(sample.pred, spec)
    gt = load_ground_truth(sample, spec, pred.shape)
    return sample.stem, confusion_matrix(gt, pred, spec.num_classes), confusion_matrix(gt, refined, spec.num_classes)


def apply_thresholds(
    samples: list[Sample],
    spec: DatasetSpec,
    best: dict,
    out_dir: str | Path,
    max_objects: int = APPLY_MAX_OBJECTS,
    workers: int = 1,
) -> dict | None:
    """Refine every image with ``best`` into ``out_dir`` (P-mode PNGs); resumable.

    Returns the unrefined and refined scores (``None`` without ground truth). A folder already holding
    images refined with other thresholds is refused.
    """
    out_dir = Path(out_dir)
    marker = out_dir / ".applied.json"
    settings = {"best": best, "max_objects": max_objects, "dataset": spec.name}
    if marker.exists() and read_json(marker) != settings:
        raise InputError(f"{out_dir}: holds images refined with other thresholds; choose another output folder")
    if not marker.exists() and out_dir.is_dir() and any(out_dir.glob("*.png")):
        raise InputError(f"{out_dir}: already holds PNGs not written by this application; choose another output folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(marker, settings)
    done = [s for s in samples if (out_dir / f"{s.stem}.png").exists()]
    jobs = [(s, spec, best, max_objects, out_dir) for s in samples if s not in done]
    results = [_rescore(s, spec, out_dir) for s in done]
    with tqdm(total=len(samples), initial=len(done), desc="apply", unit="image") as progress:
        for result in unordered_map(_apply_one, jobs, workers):
            results.append(result)
            progress.update()
    if any(before is None for _, before, _ in results):
        return None
    before = sum(r[1] for r in results)
    after = sum(r[2] for r in results)
    return comparison(before, after, spec, best)


def comparison(before: np.ndarray, after: np.ndarray, spec: DatasetSpec, best: dict) -> dict:
    """Unrefined vs refined figures, overall and per class."""
    unrefined, refined = compute_scores(before, spec.scored), compute_scores(after, spec.scored)
    return {
        "thresholds": best,
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


def pick_and_apply(
    sweep_file: Path,
    samples: list[Sample],
    spec: DatasetSpec,
    out_dir: Path,
    refined_dir: Path,
    mode: str | float = 0.7,
    max_objects: int = APPLY_MAX_OBJECTS,
    workers: int = 1,
) -> dict:
    """Pick from ``sweep_file``, write ``best.json``, refine into ``refined_dir`` and report the figures."""
    sweep = read_json(sweep_file)
    if not isinstance(sweep, dict) or "sweeps" not in sweep or "baseline" not in sweep:
        raise InputError(f"{sweep_file}: not a sweep.json (needs 'baseline' and 'sweeps')")
    best = pick_thresholds(sweep, spec, mode)
    write_json_atomic(Path(out_dir) / "best.json", best)
    report = apply_thresholds(samples, spec, best, refined_dir, max_objects, workers)
    if report is not None:
        write_json_atomic(Path(out_dir) / "metrics.json", report)
        write_text_atomic(Path(out_dir) / "metrics.txt", comparison_table(report, spec))
    return {"best": best, "report": report}

