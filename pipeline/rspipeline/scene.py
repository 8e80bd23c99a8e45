"""Refine a whole georeferenced scene tile by tile, in memory bounded by the tile, resumably, locally or on a cluster.

Before any tile runs, every input and output is checked and the scene is read once (:mod:`rspipeline.scene_scan`:
the stretch, the tiles holding data, the prediction's class values). With ``--config``, each tile's class scores
are computed first and blended over the overlaps into ``PARTS/prediction.tif`` (:mod:`rspipeline.scene_blend`);
with ``--pred`` the prediction raster is used as it is. Then each tile is refined and returns the changes it holds
(those it saw whole, each held by one tile: :mod:`rspipeline.scene_stitch`). The client saves every tile's part as
it arrives (:mod:`rspipeline.scene_parts`, each with its SHA-256); a failed tile is reported and the others go on,
so an interrupted or failed run keeps its finished tiles and the same command continues it. Tiles without any
pixel with data are skipped. At the end the prediction and the tiles' changes are stitched strip by strip into
the output COG (:mod:`rspipeline.scene_output`) and polygonised into the vector file (:mod:`rspipeline.vector`).
One run at a time holds ``--out``.

With nothing to refine (an empty ``modify``) no objects are made and the output is the prediction itself.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window
from tqdm import tqdm

from rscommon.datasets import DatasetSpec, get_dataset
from rscommon.files import InputError
from rscommon.locks import file_lock, locked
from rscommon.metrics import confusion_matrix
from rscommon.outputs import check_output_folder
from rscommon.parallel import Execution, check_scheduler, each_job
from rscommon.provenance import fingerprint
from sam_objects import SourceRecipe
from sessrs import RefineOptions, Thresholds
from sessrs.presets import PRESET_PREFIX, thresholds_to_apply

from .qgis_styles import is_own_raster_style
from .raster import (
    DECLARED,
    GDAL_OPTIONS,
    ClassNodata,
    Grid,
    check_bands,
    check_class_nodata,
    check_class_raster,
    check_same_grid,
    grid_of,
    open_raster,
    raster_identity,
    read_class_window,
    read_valid,
)
from .scene_blend import blend_window
from .scene_output import NODATA, OUTPUT_BLOCK, create_class_raster, provenance_tags, write_class_cog
from .scene_parts import PartStore, open_parts_folder, remove_parts_folder
from .scene_report import change_report, tuned_changes, write_report
from .scene_scan import SceneScan, scan_scene
from .scene_stitch import stitch
from .scene_tiles import ImageBands, RefineJob, RefineTask, ScoreJob, refine_tile, tile_scores
from .tile_sources import GeoSegPrediction, PredictionRaster
from .tiling import MAX_TILES, Tile, axis_spans, checked_tile_grid, strips
from .vector import VectorSettings, check_vector_target, raster_regions, write_polygons

SCENE_VERSION = "4"
STRIP_ROWS = 2 * OUTPUT_BLOCK
BLENDED = "prediction.tif"


@dataclass
class SceneRun:
    """One scene to refine: the inputs and the settings, as the command line gives them."""

    image: Path
    thresholds: str | Path
    """A ``best.json`` or ``preset:NAME``."""
    dataset: str
    out: Path
    objects: SourceRecipe
    pred: Path | None = None
    prediction: GeoSegPrediction | None = None
    bands: tuple[int, int, int] = (1, 2, 3)
    nodata: float | None = None
    pred_nodata: ClassNodata = DECLARED
    """Which pixels of ``pred`` hold no data (``--pred-nodata``; see :data:`rspipeline.raster.ClassNodata`)."""
    vector: VectorSettings | None = None
    tile: int = 1024
    overlap: int = 128
    max_tiles: int = MAX_TILES
    max_objects: int | None = None
    """The object limit (None: the one the ``best.json`` records, else :data:`~sessrs.APPLY_MAX_OBJECTS`)."""
    mode: str | None = None
    """The refinement's mode (None: the one the ``best.json`` records, else faithful)."""
    parts: Path | None = None
    workers: int = 1
    scheduler: str | None = None
    restart: bool = False
    keep_parts: bool = False


@dataclass(frozen=True)
class SceneReport:
    tiles: int
    computed: int
    reused: int
    skipped: int
    out: Path
    vector: Path | None
    polygons: int | None = None
    changes: dict | None = None
    """The run report (:func:`rspipeline.scene_report.change_report`), also written to ``report_path``."""
    report_path: Path | None = None


@dataclass
class Plan:
    """A checked run: the resolved paths, the grid and tiles, what the scan found, the fingerprint."""

    run: SceneRun
    spec: DatasetSpec
    thresholds: Thresholds
    options: RefineOptions
    max_objects: int
    grid: Grid
    tiles: list[Tile]
    scan: SceneScan
    record: dict
    parts: Path
    execution: Execution
    live: list[Tile] = field(default_factory=list)
    message: str | None = None
    """What a preset was tuned for (None for a best.json)."""
    tuned: tuple[dict | None, str] = (None, "")
    """The thresholds' tuned changes and where they are recorded (:func:`rspipeline.scene_report.tuned_changes`)."""


def resolved(run: SceneRun) -> SceneRun:
    """The run with every path absolute (so that tasks sent to a cluster name the same files)."""
    vector = run.vector
    if vector is not None:
        vector = dataclasses.replace(vector, path=vector.path.resolve())
    out = run.out.resolve()
    thresholds = run.thresholds if is_preset(run.thresholds) else Path(run.thresholds).resolve()
    return SceneRun(
        **{
            **run.__dict__,
            "image": run.image.resolve(),
            "thresholds": thresholds,
            "out": out,
            "pred": run.pred.resolve() if run.pred else None,
            "vector": vector,
            "parts": (run.parts or out.with_name(out.name + ".parts")).resolve(),
        }
    )


def is_preset(thresholds: str | Path) -> bool:
    """Whether ``--thresholds`` names a published preset rather than a file."""
    return str(thresholds).startswith(PRESET_PREFIX)


def check_outputs(run: SceneRun, inputs: dict) -> None:
    """The output GeoTIFF, the vector file and the parts folder can be written, and none is an input."""
    if run.out.suffix.lower() not in (".tif", ".tiff"):
        raise InputError(f"{run.out}: the output is a GeoTIFF (.tif)")
    named = [("--out", run.out)] + ([("--vector", run.vector.path)] if run.vector else [])
    for option, path in named:
        if path.is_dir():
            raise InputError(f"{path}: {option} is a folder; give a file name")
        check_output_folder(path.parent, {}, f"{option}'s folder")
        for name, source in inputs.items():
            if source is not None and Path(source).resolve() == path:
                raise InputError(f"{path}: is the {name} input; choose another output name")
    if run.vector is not None:
        check_vector_target(run.vector)
    if not is_own_raster_style(run.out.with_suffix(".qml")):
        print(f"{run.out.with_suffix('.qml')}: a style of yours, kept as it is (the raster's own is not written)")
    check_output_folder(run.parts, {}, "--parts-dir")


def check_vector_settings(vector: VectorSettings, grid: Grid, image: Path) -> None:
    """--dst-crs and --min-area in m2 need a scene with a CRS (a projected one for square metres)."""
    if vector.dst_crs is not None and grid.crs is None:
        raise InputError(f"{image}: has no CRS, so --dst-crs cannot reproject its polygons")
    if vector.area_unit == "m2" and vector.min_area > 0 and (grid.crs is None or not grid.crs.is_projected):
        raise InputError(f"{image}: has no projected CRS, so --min-area cannot be in m2; give it in px")


def prepare(run: SceneRun) -> Plan:
    """Validate every input and setting and scan the scene (nothing is written)."""
    run = resolved(run)
    spec = get_dataset(run.dataset)
    if (run.pred is None) == (run.prediction is None):
        raise InputError("give the prediction either as --pred RASTER or as --config CONFIG")
    thresholds, message, options, max_objects = thresholds_to_apply(
        str(run.thresholds), spec, run.mode, run.max_objects
    )
    tuned = tuned_changes(run.thresholds, spec)
    inputs = {
        "image": run.image,
        "pred": run.pred,
        "thresholds": None if message else run.thresholds,
        "config": getattr(run.prediction, "config", None),
        "checkpoint": getattr(run.prediction, "checkpoint", None),
    }
    check_outputs(run, inputs)
    settings = {
        "bands": list(run.bands),
        "nodata": run.nodata,
        "pred_nodata": run.pred_nodata,
        "tile": run.tile,
        "overlap": run.overlap,
        "dataset": spec.name,
        "max_objects": max_objects,
        "options": options.to_json(),
        "tta": getattr(run.prediction, "tta", None),
        "preset": str(run.thresholds) if message else None,
    }
    if thresholds.modify:  # the objects matter (and their checkpoint must exist) only when something is refined
        run.objects.check()
        settings["objects"] = run.objects.identity()
    if run.scheduler:
        check_scheduler(run.scheduler)
    with rasterio.Env(**GDAL_OPTIONS), open_raster(run.image) as image:
        check_bands(image, run.bands)
        grid = grid_of(image)
        tiles = checked_tile_grid(grid.height, grid.width, run.tile, run.overlap, run.max_tiles)
        if run.vector is not None:
            check_vector_settings(run.vector, grid, run.image)
        if run.pred is not None:
            with open_raster(run.pred) as pred:
                check_class_raster(pred)
                check_class_nodata(pred, spec, run.pred_nodata, "--pred-nodata")
                check_same_grid(image, pred, "the prediction")
                scan = scan_scene(image, run.bands, run.nodata, pred, tiles, spec, run.pred_nodata)
        else:
            scan = scan_scene(image, run.bands, run.nodata, None, tiles, spec)
    record = fingerprint(
        {**inputs, "image": raster_identity(run.image), "pred": raster_identity(run.pred) if run.pred else None},
        settings,
        SCENE_VERSION,
    )
    plan = Plan(
        run,
        spec,
        thresholds,
        options,
        max_objects,
        grid,
        tiles,
        scan,
        record,
        run.parts,
        Execution(run.workers, run.scheduler),
        message=message,
        tuned=tuned,
    )
    plan.live = [tile for tile in tiles if tile.name in scan.live]
    return plan


def run_scene(run: SceneRun) -> SceneReport:
    """Refine the scene into ``run.out`` (and the vector file); finished tiles survive a failure or an interrupt."""
    plan = prepare(run)
    run = plan.run
    if plan.message:
        print(plan.message)
    with locked(file_lock(run.out), f"--out {run.out}"):
        open_parts_folder(plan.parts, plan.record, run.restart)
        image = ImageBands(run.image, tuple(run.bands), run.nodata, plan.scan.ranges)
        computed = 0
        prediction = run.pred
        if run.prediction is not None:
            scores = PartStore(plan.parts / "scores")
            computed += run_tiles(
                plan, scores, tile_scores, lambda tile: ScoreJob(image, run.prediction, tile), "predict"
            )
            prediction = plan.parts / BLENDED
            write_blended(plan, scores, image, prediction)
        task = RefineTask(
            image,
            PredictionRaster(prediction, pred_nodata(run)),
            run.objects,
            plan.thresholds,
            plan.spec.name,
            plan.max_objects,
            plan.options,
            tuple(axis_spans(plan.grid.height, run.tile, run.overlap)),
            tuple(axis_spans(plan.grid.width, run.tile, run.overlap)),
        )
        changes = PartStore(plan.parts / "refine")
        computed += run_tiles(plan, changes, refine_tile, lambda tile: RefineJob(task, tile), "refine")
        counts = np.zeros((plan.spec.num_classes, plan.spec.num_classes), np.int64)
        polygons = write_outputs(plan, changes, image, prediction, counts)
        applied = {"mode": plan.options.mode, "options": plan.options.to_json(), "max_objects": plan.max_objects}
        report = {**applied, **change_report(counts, plan.spec, *plan.tuned)}
        report_file = write_report(run.out, report)
        if not run.keep_parts:
            remove_parts_folder(plan.parts)
    stages = 2 if run.prediction is not None else 1
    return SceneReport(
        len(plan.tiles),
        computed,
        stages * len(plan.live) - computed,
        len(plan.tiles) - len(plan.live),
        run.out,
        run.vector.path if run.vector else None,
        polygons,
        report,
        report_file,
    )


def pred_nodata(run: SceneRun) -> ClassNodata:
    """Which pixels of the prediction the tiles read hold no data: as ``--pred-nodata`` says for ``--pred``, the
    declared nodata of the prediction blended from ``--config``."""
    return run.pred_nodata if run.pred is not None else DECLARED


def run_tiles(plan: Plan, store: PartStore, function: Callable, job: Callable[[Tile], object], stage: str) -> int:
    """Run ``function`` on every tile with data whose part ``store`` lacks, saving each part as it arrives;
    returns how many ran."""
    kept = store.reusable([tile.name for tile in plan.live])
    todo = [(tile.name, job(tile)) for tile in plan.live if tile.name not in kept]
    with tqdm(total=len(plan.live), initial=len(kept), desc=stage, unit="tile") as progress:
        try:
            for _, (tile, part) in each_job(function, todo, plan.execution, noun="tiles"):
                store.save(tile.name, part)
                progress.update()
        except BaseException:
            tqdm.write(
                f"finished tiles are kept in {plan.parts}: run the same command again to continue", file=sys.stderr
            )
            raise
    return len(todo)


def write_blended(plan: Plan, scores: PartStore, image: ImageBands, path: Path) -> None:
    """The tiles' scores blended into the class raster ``path`` (nodata where the image has none)."""
    grid, live = plan.grid, plan.live
    maps = {}

    def tile_scores_of(tile: Tile) -> np.ndarray:
        if tile.name not in maps:
            maps[tile.name] = scores.load(tile.name, mmap=True)
        return maps[tile.name]

    with (
        rasterio.Env(**GDAL_OPTIONS),
        open_raster(image.path) as source,
        create_class_raster(path, grid, plan.spec) as raster,
    ):
        for window in tqdm(strips(grid.height, grid.width, STRIP_ROWS), desc="blend", unit="strip", leave=False):
            labels = blend_window(window, live, tile_scores_of, grid.height, grid.width, plan.run.overlap)
            valid = read_valid(source, image.bands, window, image.nodata)
            raster.write(np.where(valid, labels, NODATA).astype(np.uint8), 1, window=window)
            for name in [name for name in maps if not _reaches(plan, name, window)]:
                del maps[name]


def _reaches(plan: Plan, name: str, window: Window) -> bool:
    """Whether tile ``name`` reaches below ``window`` (is needed by a later strip)."""
    tile = next(tile for tile in plan.live if tile.name == name)
    return tile.rows.stop > window.row_off + window.height


def stitched_strips(
    plan: Plan, changes: PartStore, image: ImageBands, prediction: Path, counts: np.ndarray
) -> Iterator[tuple[Window, np.ndarray]]:
    """The output strip by strip: the prediction (nodata where the image or it has none) with the tiles' changes;
    ``counts`` gets the pixels with data by (predicted class, output class)."""
    grid = plan.grid
    loaded: dict[str, np.ndarray] = {}
    with rasterio.Env(**GDAL_OPTIONS), open_raster(image.path) as source, open_raster(prediction) as pred:
        for window in tqdm(strips(grid.height, grid.width, STRIP_ROWS), desc="write", unit="strip"):
            labels, has_class = read_class_window(pred, window, plan.spec, pred_nodata(plan.run))
            valid = has_class & read_valid(source, image.bands, window, image.nodata)
            base = np.where(valid, labels, NODATA).astype(np.uint8)
            near = [
                tile
                for tile in plan.live
                if tile.rows.start < window.row_off + window.height and tile.rows.stop > window.row_off
            ]
            for tile in near:
                if tile.name not in loaded:
                    loaded[tile.name] = changes.load(tile.name)
            labels = stitch(base, window, [(tile, loaded[tile.name]) for tile in near])
            counts += confusion_matrix(base[valid], labels[valid], plan.spec.num_classes)
            yield window, labels
            for name in [name for name in loaded if not _reaches(plan, name, window)]:
                del loaded[name]


def write_outputs(
    plan: Plan, changes: PartStore, image: ImageBands, prediction: Path, counts: np.ndarray
) -> int | None:
    """The output COG (and the vector file, polygonised from it), each written under a temporary name and renamed
    into place; ``counts`` as :func:`stitched_strips` fills it."""
    run = plan.run
    sources = {"thresholds": run.thresholds, "pred": run.pred}
    sources.update({name: getattr(run.prediction, name, None) for name in ("config", "checkpoint")})
    tags = provenance_tags(plan.thresholds, plan.record, sources)
    write_class_cog(run.out, plan.grid, plan.spec, stitched_strips(plan, changes, image, prediction, counts), tags)
    if run.vector is None:
        return None
    regions = raster_regions(run.out, run.vector)
    return write_polygons(run.vector, regions, plan.grid.transform, plan.grid.crs, plan.spec)
