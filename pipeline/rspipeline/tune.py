"""Tune the thresholds for a scene from a few labelled areas of it, for the scene command.

The labels (polygons or a label raster, :mod:`rspipeline.tune_labels`) are gathered into areas; each area's
window is cut into the sweep's folders ``OUT/areas/{pred,sam,gt}/`` (:mod:`rspipeline.tune_areas`), every area a
job run where ``-n``/``--scheduler`` say. Then the sweep (``OUT/sweep/``) and the choice (``OUT/choice/``: the
per-class pick, the joint search or the cv selection, through :func:`sessrs.choose.choose_and_apply`, the areas
refined and scored) run, and the chosen thresholds are copied to ``OUT/best.json`` (with ``tuned_on`` and
``tuned_changes``, which the scene command's run report compares against).

Resumable as the scene command is: a rerun keeps every area made from the same window, inputs and settings whose
files are those written, the sweep keeps the parts of unchanged areas, and the choice starts over only when the
areas, their labels or its settings changed. What is damaged in ``OUT`` is made again, never refused; what cannot
work (areas larger than one image, more cv folds than areas) is refused before any area is cut. One run at a time
holds ``OUT``.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import rasterio

from rscommon.datasets import DatasetSpec, get_dataset
from rscommon.files import InputError, read_json, write_json_atomic
from rscommon.limits import MAX_IMAGE_PIXELS_ENV, max_image_pixels
from rscommon.locks import folder_lock, locked
from rscommon.outputs import check_output_folder
from rscommon.parallel import Execution, each_job
from rscommon.provenance import digest, fingerprint
from sam_objects import SourceRecipe
from sessrs import Thresholds
from sessrs.choose import Choice, ChoiceSettings, choose_and_apply
from sessrs.inputs import Sample, pair_inputs
from sessrs.sweep import run_sweep
from sessrs.thresholds import APPLY_MAX_OBJECTS, SWEEP_MAX_OBJECTS

from .raster import (
    DECLARED,
    GDAL_OPTIONS,
    ClassNodata,
    check_bands,
    check_class_nodata,
    check_class_raster,
    check_same_grid,
    grid_of,
    open_raster,
    raster_identity,
)
from .scene import check_scheduler
from .scene_scan import scan_scene
from .scene_tiles import ImageBands
from .tile_sources import GeoSegPrediction, PredictionRaster
from .tune_areas import AreaJob, AreaStore, cut_area, read_area
from .tune_folder import TuneFolder
from .tune_labels import UNLABELLED, Area, areas_of, labelled_areas, read_labels

TUNE_VERSION = "1"


@dataclass
class TuneRun:
    """One tuning: the scene, its prediction, its labels and the settings, as the command line gives them."""

    image: Path
    labels: Path
    dataset: str
    out: Path
    objects: SourceRecipe
    pred: Path | None = None
    prediction: GeoSegPrediction | None = None
    class_field: str = "class"
    context: int = 128
    bands: tuple[int, int, int] = (1, 2, 3)
    nodata: float | None = None
    pred_nodata: ClassNodata = DECLARED
    labels_nodata: ClassNodata = DECLARED
    """Which pixels of ``pred`` and of a label raster hold no data (``--pred-nodata``, ``--labels-nodata``)."""
    choice: ChoiceSettings = field(default_factory=ChoiceSettings)
    workers: int = 1
    scheduler: str | None = None


@dataclass(frozen=True)
class TuneReport:
    """What a tuning did: the areas (and how many were made now), the labelled pixels with data, the thresholds
    written to ``best`` and the figures of their application to the areas."""

    areas: int
    made: int
    labelled: int
    best: Path
    thresholds: Thresholds
    report: dict | None


def check_run(run: TuneRun) -> TuneRun:
    """The run with absolute paths, its settings checked (nothing is read or written)."""
    if (run.pred is None) == (run.prediction is None):
        raise InputError("give the prediction either as --pred RASTER or as --config CONFIG")
    if run.context < 0:
        raise InputError(f"--context {run.context}: needs at least 0 pixels")
    run = TuneRun(
        **{
            **run.__dict__,
            "image": run.image.resolve(),
            "labels": run.labels.resolve(),
            "out": run.out.resolve(),
            "pred": run.pred.resolve() if run.pred else None,
        }
    )
    check_output_folder(run.out, {})
    run.objects.check()
    check_scheduler(run.scheduler)
    return run


def run_tune(run: TuneRun) -> TuneReport:
    """Cut the labelled areas, sweep them, choose the thresholds and write ``run.out/best.json``."""
    run = check_run(run)
    spec = get_dataset(run.dataset)
    with rasterio.Env(**GDAL_OPTIONS), open_raster(run.image) as image:
        check_bands(image, run.bands)
        grid = grid_of(image)
        labels = read_labels(run.labels, run.class_field, spec, image, run.labels_nodata)
        if run.pred is not None:
            with open_raster(run.pred) as pred:
                check_class_raster(pred)
                check_class_nodata(pred, spec, run.pred_nodata, "--pred-nodata")
                check_same_grid(image, pred, "the prediction")
        scan = scan_scene(image, run.bands, run.nodata, None, [], spec)
        check_areas(run, areas_of(labels.boxes(), grid, run.context))
        areas = list(labelled_areas(labels, grid, run.context))
    execution = Execution(run.workers, run.scheduler)
    folder = TuneFolder(run.out)
    with locked(folder_lock(run.out), f"--out {run.out}"):
        store = AreaStore(folder.areas)
        jobs, made = _make_areas(
            run,
            store,
            [area for area, _ in areas],
            ImageBands(run.image, tuple(run.bands), run.nodata, scan.ranges),
            execution,
        )
        truths = {
            area.name: _save_truth(store, area, truth, job, spec)
            for (area, truth), job in zip(areas, jobs, strict=True)
        }
        labelled = sum(count for count, _ in truths.values())
        if not labelled:
            raise InputError(f"{run.labels}: no labelled pixel holds data in the image and the prediction")
        samples = pair_inputs(store.folder("pred"), store.folder("sam"), store.folder("gt"))
        truth_digests = {name: truth for name, (_, truth) in truths.items()}
        choice = _choose(run, folder, store, truth_digests, samples, made, execution)
    write_json_atomic(folder.best, read_json(folder.choice.best))
    return TuneReport(len(areas), made, labelled, folder.best, choice.thresholds, choice.report)


def _make_areas(
    run: TuneRun, store: AreaStore, areas: list[Area], image: ImageBands, execution: Execution
) -> tuple[list[AreaJob], int]:
    """Every area's job, and how many areas were made now (the others were current)."""
    source = PredictionRaster(run.pred, run.pred_nodata) if run.pred is not None else run.prediction
    jobs = [AreaJob(image, source, run.objects, run.dataset, area.tile) for area in areas]
    settings = {
        "bands": list(run.bands),
        "nodata": run.nodata,
        "pred_nodata": run.pred_nodata,
        "ranges": image.ranges,
        "dataset": run.dataset,
        "objects": run.objects.identity(),
        "tta": getattr(run.prediction, "tta", None),
    }
    record = fingerprint(
        {
            "image": raster_identity(run.image),
            "pred": raster_identity(run.pred) if run.pred else None,
            "config": getattr(run.prediction, "config", None),
            "checkpoint": getattr(run.prediction, "checkpoint", None),
        },
        settings,
        TUNE_VERSION,
    )
    keys = {area.name: {"run": record, "window": area.tile.window.flatten()} for area in areas}
    removed = store.keep_only(set(keys))
    todo = [
        (area.name, job) for area, job in zip(areas, jobs, strict=True) if not store.current(area.name, keys[area.name])
    ]
    for name, (pred, objects) in each_job(cut_area, todo, execution, noun="areas"):
        store.save(name, keys[name], pred, objects, get_dataset(run.dataset))
    return jobs, len(todo) + len(removed)


def check_areas(run: TuneRun, areas: list[Area]) -> None:
    """Refuse, before any area is cut, labels without an area, an area larger than the sweep reads as one image,
    and more cv folds than areas."""
    if not areas:
        raise InputError(f"{run.labels}: no labelled pixel")
    limit = max_image_pixels()
    for area in areas:
        window = area.tile.window
        if window.width * window.height > limit:
            raise InputError(
                f"{run.labels}: the labels at rows {area.box.top}..{area.box.bottom}, columns {area.box.left}.."
                f"{area.box.right} make an area of {window.width} x {window.height} pixels with --context "
                f"{run.context}, more than one image may have ({limit:,} pixels; ${MAX_IMAGE_PIXELS_ENV}); "
                "label smaller areas apart from each other, or give a smaller --context"
            )
    held_out = {"cv": "--select cv"}.get(run.choice.select) or {"auto": "--method auto"}.get(run.choice.method)
    if held_out is not None and run.choice.folds > len(areas):
        raise InputError(
            f"{run.labels}: --folds {run.choice.folds} needs at least as many labelled areas, found {len(areas)}; "
            f"give --folds 2 to {len(areas)} or label more areas apart from each other"
            if len(areas) >= 2
            else f"{run.labels}: {held_out} needs at least 2 labelled areas apart from each other, found 1"
        )


def _save_truth(store: AreaStore, area: Area, truth: np.ndarray, job: AreaJob, spec: DatasetSpec) -> tuple[int, str]:
    """Write the area's ground truth; returns its labelled pixels with data and the digest of its pixels."""
    _, _, valid = read_area(job)
    written = store.save_truth(area.name, truth, valid, spec)
    return int(((truth != UNLABELLED) & valid).sum()), written


def _choose(
    run: TuneRun,
    folder: TuneFolder,
    store: AreaStore,
    truths: dict[str, str],
    samples: list[Sample],
    changed: int,
    execution: Execution,
) -> Choice:
    """The sweep of the areas and the choice, each started over when the areas, their labels (``truths``: each
    area's ground-truth digest) or the choice's settings changed since the last run, or when the sweep's record
    or the choice's ``best.json`` is not readable (this run owns both folders: it repairs rather than refuses)."""
    sweep, choice = folder.sweep, folder.choice
    options = run.choice.options
    # the memory limit changes how the joint search runs, not what it chooses: a rerun with another one continues
    record = {"areas": store.made, "truth": truths, "choice": asdict(replace(run.choice, memory_limit=None))}
    record_path = folder.record
    if sweep.run.exists() and _recorded(sweep.run) is None:
        sweep.run.unlink()
    if changed or _recorded(record_path) != digest(record) or not _readable(choice.best):
        sweep.run.unlink(missing_ok=True)  # the sweep's parts are kept per area, by their content
        shutil.rmtree(choice.root, ignore_errors=True)
    spec = get_dataset(run.dataset)
    max_objects = options.sweep_object_limit(SWEEP_MAX_OBJECTS, APPLY_MAX_OBJECTS)
    run_sweep(samples, spec, sweep, max_objects=max_objects, options=options, execution=execution)
    result = choose_and_apply(sweep.sweep, samples, samples, spec, choice, settings=run.choice, execution=execution)
    write_json_atomic(record_path, record)
    return result


def _recorded(path: Path) -> str | None:
    """The digest of the record ``path`` holds (``None``: missing, or damaged: not a JSON object)."""
    try:
        record = read_json(path) if path.is_file() else None
    except InputError:
        return None
    return digest(record) if isinstance(record, dict) else None


def _readable(best: Path) -> bool:
    """Whether a choice's ``best.json`` is missing (nothing to keep) or holds thresholds."""
    if not best.exists():
        return True
    try:
        Thresholds.read(best)
    except InputError:
        return False
    return True
