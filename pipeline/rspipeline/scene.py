"""Refine a whole georeferenced scene tile by tile, in memory bounded by the tile, resumably, locally or on a cluster.

Each tile (see :mod:`rspipeline.tiling`) is one task: it reads its window of the image (and of the prediction
raster, or predicts the window with a GeoSeg network), makes the window's objects, refines the window's
prediction with the thresholds and returns the part it owns, its core. The client saves every core as it arrives
(``PARTS/r<row>_c<col>.png``, keyed on the inputs and settings); a failed tile is reported and the others go on,
so an interrupted or failed run keeps its finished tiles and the same command continues it. When every tile is
done, the cores are written window by window into the output GeoTIFF (and polygonised into the GeoPackage), each
under a temporary name renamed into place.

With nothing to refine (an empty ``modify``) no objects are made and the output is the prediction itself.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from tqdm import tqdm

from rscommon.datasets import DatasetSpec, get_dataset
from rscommon.files import InputError, read_json, write_json_atomic
from rscommon.labels import read_label_png, write_label_png
from rscommon.parallel import Execution, each_job
from rscommon.provenance import fingerprint, what_changed
from sam_objects import SourceRecipe
from sam_objects.registry import rebuilt_source
from sessrs import APPLY_MAX_OBJECTS, Thresholds, refine

from .raster import (
    GDAL_OPTIONS,
    Grid,
    check_bands,
    check_class_raster,
    check_same_grid,
    create_class_raster,
    grid_of,
    open_raster,
    read_rgb_window,
    stretch_ranges,
)
from .tile_sources import GeoSegPrediction, PredictionRaster
from .tiling import Tile, tile_grid
from .vector import PolygonWriter

SCENE_VERSION = "1"
FINGERPRINT_FILE = "fingerprint.json"


class TileError(RuntimeError):
    """A tile task failed; the message names the tile and the cause."""


@dataclass(frozen=True)
class SceneTask:
    """What every tile task of a scene shares (small: it travels with each tile job)."""

    image: Path
    bands: tuple[int, int, int]
    ranges: tuple[tuple[float, float], ...] | None
    prediction: PredictionRaster | GeoSegPrediction
    objects: SourceRecipe
    thresholds: Thresholds
    dataset: str
    max_objects: int


@dataclass(frozen=True)
class TileJob:
    scene: SceneTask
    tile: Tile


def refine_tile(job: TileJob) -> tuple[Tile, np.ndarray]:
    """Refine one tile and return it with the core it owns (H x W uint8 classes); the task of the scene."""
    scene, tile = job.scene, job.tile
    spec = get_dataset(scene.dataset)
    try:
        with rasterio.Env(**GDAL_OPTIONS), open_raster(scene.image) as image_file:
            image = read_rgb_window(image_file, scene.bands, tile.window, scene.ranges)
            pred = scene.prediction.predict(tile, image, spec)
        refined = pred
        if scene.thresholds.modify:
            objects = rebuilt_source(scene.objects)(image)  # built once per process
            refined = refine(pred, objects, scene.thresholds, max_objects=scene.max_objects,
                             num_classes=spec.num_classes)
    except InputError as error:
        raise InputError(f"tile {tile.name}: {error}") from None
    except Exception as error:
        raise TileError(f"tile {tile.name} (window {tile.window}): {type(error).__name__}: {error}") from error
    return tile, np.ascontiguousarray(refined[tile.core_in_tile])


class TileStore:
    """The finished tiles of one scene run, one P-mode PNG per core, beside a fingerprint of what made them."""

    def __init__(self, folder: Path, record: dict, spec: DatasetSpec, restart: bool = False) -> None:
        self.folder, self.spec = folder, spec
        marker = folder / FINGERPRINT_FILE
        parts = sorted(folder.glob("r*_c*.png")) if folder.is_dir() else []
        if marker.is_file():
            changed = what_changed(read_json(marker), record)
            if changed and not restart:
                raise InputError(f"{folder}: holds tiles made from other inputs or settings ({', '.join(changed)}); "
                                 f"pass --restart to discard them")
            if changed:
                for part in parts:
                    part.unlink()
        elif parts:
            raise InputError(f"{folder}: holds tiles without {FINGERPRINT_FILE}; choose another --parts-dir")
        folder.mkdir(parents=True, exist_ok=True)
        write_json_atomic(marker, record)

    def path(self, tile: Tile) -> Path:
        return self.folder / f"{tile.name}.png"

    def done(self, tile: Tile) -> bool:
        return self.path(tile).is_file()

    def save(self, tile: Tile, core: np.ndarray) -> None:
        write_label_png(self.path(tile), core, self.spec)

    def load(self, tile: Tile) -> np.ndarray:
        core = read_label_png(self.path(tile))
        expected = (tile.core_window.height, tile.core_window.width)
        if core.shape != expected:
            raise InputError(f"{self.path(tile)}: {core.shape} pixels, the tile's core is {expected}")
        return core

    def remove(self) -> None:
        """Delete the parts and the fingerprint, and the folder when nothing else is in it."""
        for path in [*self.folder.glob("r*_c*.png"), self.folder / FINGERPRINT_FILE]:
            path.unlink(missing_ok=True)
        if not any(self.folder.iterdir()):
            self.folder.rmdir()


@dataclass
class SceneRun:
    """One scene to refine: the inputs and the settings, as the command line gives them."""

    image: Path
    thresholds: Path
    dataset: str
    out: Path
    objects: SourceRecipe
    pred: Path | None = None
    prediction: GeoSegPrediction | None = None
    bands: tuple[int, int, int] = (1, 2, 3)
    vector: Path | None = None
    tile: int = 1024
    overlap: int = 128
    max_objects: int = APPLY_MAX_OBJECTS
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
    out: Path
    vector: Path | None


def prepare(run: SceneRun) -> tuple[SceneTask, Grid, list[Tile], dict]:
    """Validate every input and setting (nothing is written): the shared task, the grid, the tiles, the fingerprint."""
    spec = get_dataset(run.dataset)
    if (run.pred is None) == (run.prediction is None):
        raise InputError("give the prediction either as --pred RASTER or as --config CONFIG")
    if run.out.suffix.lower() not in (".tif", ".tiff"):
        raise InputError(f"{run.out}: the output is a GeoTIFF (.tif)")
    if run.vector is not None and run.vector.suffix.lower() != ".gpkg":
        raise InputError(f"{run.vector}: the vector output is a GeoPackage (.gpkg)")
    thresholds = Thresholds.read(run.thresholds, spec)
    tile_grid(1, 1, run.tile, run.overlap)  # validates tile and overlap
    with rasterio.Env(**GDAL_OPTIONS), open_raster(run.image) as image:
        check_bands(image, run.bands)
        grid = grid_of(image)
        ranges = stretch_ranges(image, run.bands)
        if run.pred is not None:
            with open_raster(run.pred) as pred:
                check_class_raster(pred)
                check_same_grid(image, pred, "the prediction")
    prediction = PredictionRaster(run.pred.resolve()) if run.pred is not None else run.prediction
    inputs = {"image": run.image, "pred": run.pred, "thresholds": run.thresholds,
              "config": getattr(prediction, "config", None), "checkpoint": getattr(prediction, "checkpoint", None)}
    outputs = [path.resolve() for path in (run.out, run.vector) if path is not None]
    for name, path in inputs.items():
        if path is not None and Path(path).resolve() in outputs:
            raise InputError(f"{path}: is the {name} input; choose another output name")
    settings = {"bands": list(run.bands), "tile": run.tile, "overlap": run.overlap, "dataset": spec.name,
                "max_objects": run.max_objects, "tta": getattr(prediction, "tta", None)}
    if thresholds.modify:  # the objects matter (and their checkpoint must exist) only when something is refined
        run.objects.check()
        settings["objects"] = run.objects.identity()
    task = SceneTask(run.image.resolve(), tuple(run.bands), ranges, prediction, run.objects, thresholds, spec.name,
                     run.max_objects)
    record = fingerprint(inputs, settings, SCENE_VERSION)
    return task, grid, tile_grid(grid.height, grid.width, run.tile, run.overlap), record


def run_scene(run: SceneRun) -> SceneReport:
    """Refine the scene into ``run.out`` (and ``run.vector``); finished tiles survive a failure or an interrupt."""
    spec = get_dataset(run.dataset)
    task, grid, tiles, record = prepare(run)
    parts = run.parts or run.out.with_name(run.out.name + ".parts")
    store = TileStore(parts, record, spec, run.restart)
    todo = [(tile.name, TileJob(task, tile)) for tile in tiles if not store.done(tile)]
    with tqdm(total=len(tiles), initial=len(tiles) - len(todo), desc="tiles", unit="tile") as progress:
        try:
            for _, (tile, core) in each_job(refine_tile, todo, Execution(run.workers, run.scheduler), noun="tiles"):
                store.save(tile, core)
                progress.update()
        except BaseException:
            tqdm.write(f"finished tiles are kept in {parts}: run the same command again to continue", file=sys.stderr)
            raise
    write_outputs(store, tiles, grid, spec, run.out, run.vector)
    if not run.keep_parts:
        store.remove()
    return SceneReport(len(tiles), len(todo), len(tiles) - len(todo), run.out, run.vector)


def write_outputs(store: TileStore, tiles: list[Tile], grid: Grid, spec: DatasetSpec, out: Path,
                  vector: Path | None) -> None:
    """The tiles' cores into the output GeoTIFF (and their polygons into ``vector``), window by window, atomically."""
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.tmp")
    polygons = PolygonWriter(vector, grid.crs, spec) if vector is not None else None
    try:
        with rasterio.Env(**GDAL_OPTIONS), create_class_raster(temporary, grid, spec) as raster:
            for tile in tqdm(tiles, desc="write", unit="tile"):
                core = store.load(tile)
                raster.write(core, 1, window=tile.core_window)
                if polygons is not None:
                    polygons.add(core, grid.transform @ Affine.translation(tile.cols.core_start, tile.rows.core_start))
        if polygons is not None:
            polygons.close()
        os.replace(temporary, out)
    except BaseException:
        temporary.unlink(missing_ok=True)
        if polygons is not None:
            polygons.discard()
        raise
