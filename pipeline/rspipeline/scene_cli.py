"""Refine one georeferenced scene with SESSRS, tile by tile, into a Cloud-Optimized GeoTIFF (and polygons).

    python pipeline/sessrs_scene.py --image SCENE.tif --pred PRED.tif --objects sam \\
        --thresholds best.json --dataset Urban --out REFINED.tif [--vector REFINED.gpkg]

The prediction is a class raster on the image's grid (``--pred``, from any model) or is made tile by tile by a
GeoSeg config (``--config``, with ``--ckpt`` or the checkpoint GeoSeg's test.py would use), its tiles blended over
the overlaps. Objects are made per tile by the SAM stage's source (``--objects``; checkpoints looked up under
weights/). The image's nodata (its nodata value, mask or alpha band, or ``--nodata``) and the prediction's stay
nodata (255) in the output, which keeps the image's CRS, transform and size, and carries the palette, the class
names as categories and attribute table, the run's provenance, and overviews, with its QGIS style OUT.qml beside
it; the polygons carry their QGIS style and area_m2 (docs/scenes.md, "QGIS-ready outputs"). Finished tiles are kept in
``OUT.parts/`` until the output is written: the same command continues an interrupted run.
``--scheduler tcp://HOST:8786`` runs the tiles on a Dask cluster whose workers see the same input paths.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from rscommon.cli import command_line
from rscommon.datasets import DATASETS
from rscommon.files import InputError
from sam_objects import SOURCES, SourceRecipe, source_recipe
from sam_objects.registry import DEFAULT_MODEL_TYPE
from sessrs import APPLY_MAX_OBJECTS
from sessrs.modes import MODES
from sessrs.presets import PRESET_PREFIX

from .raster import DECLARED, ClassNodata, parse_class_nodata
from .scene import SceneRun, run_scene
from .scene_report import report_lines
from .tile_sources import GeoSegPrediction, geoseg_prediction
from .tiling import MAX_TILES
from .vector import LAYER, SMALL_REGIONS, VectorSettings, layer_action, parse_dst_crs, parse_min_area


def add_scene_inputs(parser: argparse.ArgumentParser) -> None:
    """The options naming the scene, its prediction, the object source, the dataset and where jobs run (shared by
    the scene command and the tuning command)."""
    parser.add_argument("--image", required=True, type=Path, help="the scene: any raster GDAL reads (GeoTIFF, ...)")
    parser.add_argument(
        "--nodata",
        type=float,
        help="image pixels whose chosen bands all equal this value hold no data (default: the "
        "image's own nodata value, mask band or alpha band)",
    )
    parser.add_argument(
        "--bands",
        nargs=3,
        type=int,
        default=[1, 2, 3],
        metavar=("R", "G", "B"),
        help="the image's bands used as red, green, blue (1-based; default 1 2 3)",
    )
    prediction = parser.add_mutually_exclusive_group(required=True)
    prediction.add_argument("--pred", type=Path, help="the prediction: a one-band class raster on the image's grid")
    prediction.add_argument("--config", type=Path, help="predict tile by tile with this GeoSeg config")
    parser.add_argument(
        "--pred-nodata",
        default=DECLARED,
        help="with --pred: 'none' reads every value as a class (ignoring a declared nodata value), or the value "
        "that marks no data (default: the raster's declared nodata; one that is a class id is refused)",
    )
    parser.add_argument(
        "--ckpt",
        type=Path,
        help="with --config: the checkpoint (default: as GeoSeg's test.py, the last training's best)",
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        help="with --config: base of the config's relative paths, where its training ran (default "
        "GeoSeg/; make demo trains in outputs/demo/<set>/geoseg)",
    )
    parser.add_argument("--tta", help="with --config: test-time augmentation d4, lr or none (default: the config's)")
    parser.add_argument(
        "--objects",
        required=True,
        choices=sorted(SOURCES),
        help="object source per tile; 'regions' needs no weights and is not SAM",
    )
    defaults = ", ".join(f"{model_type} for {name}" for name, model_type in DEFAULT_MODEL_TYPE.items())
    parser.add_argument("--model-type", help=f"backbone of the object source (default: {defaults})")
    parser.add_argument(
        "--checkpoint",
        type=Path,
        help="weights of the object source, as in the SAM stage (default: its standard file name "
        "under weights/); --ckpt is the GeoSeg network's",
    )
    parser.add_argument("--device", help="torch device for the networks (default: cuda if available, else cpu)")
    parser.add_argument("--dataset", required=True, choices=sorted(DATASETS), help="class set of the prediction")
    parser.add_argument("-n", "--workers", type=int, default=1, help="local worker processes (default 1)")
    parser.add_argument("--scheduler", help="run the tiles on the Dask cluster at this address (tcp://HOST:PORT)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_scene_inputs(parser)
    parser.add_argument(
        "--thresholds",
        required=True,
        help=f"best.json written by get_best_t1_t2.py or sessrs_tune.py, or {PRESET_PREFIX}NAME (a published preset)",
    )
    parser.add_argument(
        "--max-objects",
        type=int,
        help="a list of two or more candidates this long or longer is not used (default: the limit the best.json "
        f"records, else {APPLY_MAX_OBJECTS}, as the pick's application); must agree with the best.json",
    )
    parser.add_argument(
        "--mode",
        choices=MODES,
        help="the refinement's mode (default: the mode the best.json records, else faithful); must agree "
        "with the best.json",
    )
    parser.add_argument("--out", required=True, type=Path, help="the refined scene: a Cloud-Optimized GeoTIFF")
    parser.add_argument(
        "--vector",
        type=Path,
        help="also write the refined classes as polygons, one per region: .gpkg, .fgb, .parquet "
        "(when GDAL writes it) or .shp; an existing GeoPackage keeps its other layers",
    )
    parser.add_argument(
        "--layer", default=LAYER, help=f"the polygons' layer in the GeoPackage (default {LAYER}; replaced if there)"
    )
    parser.add_argument(
        "--min-area",
        default="0px",
        help="regions smaller than this, with its unit: 4px (pixels) or 0.5m2 (square metres, whatever the CRS's "
        "unit), are merged into their largest neighbour (or dropped: --small-regions drop)",
    )
    parser.add_argument(
        "--small-regions",
        choices=SMALL_REGIONS,
        default=SMALL_REGIONS[0],
        help="what --min-area does to a smaller region: merge it into its largest neighbour, as gdal_sieve.py "
        "(default), or drop it (leaving a hole)",
    )
    parser.add_argument(
        "--simplify",
        type=float,
        default=0.0,
        help="simplify the polygons together (shared edges stay shared) by this many map units",
    )
    parser.add_argument("--dst-crs", help="reproject the polygons to this CRS (e.g. EPSG:4326)")
    parser.add_argument("--tile", type=int, default=1024, help="tile side in pixels (default 1024)")
    parser.add_argument("--overlap", type=int, default=128, help="pixels shared by neighbouring tiles (default 128)")
    parser.add_argument(
        "--max-tiles",
        type=int,
        default=MAX_TILES,
        help=f"refuse a tiling of more tiles than this (default {MAX_TILES})",
    )
    parser.add_argument("--parts-dir", type=Path, help="where finished tiles are kept (default: OUT.parts/)")
    parser.add_argument("--restart", action="store_true", help="discard every finished tile and compute them all again")
    parser.add_argument("--keep-parts", action="store_true", help="keep the finished tiles after writing the output")
    return parser


def scene_argv(**values: object) -> list[str]:
    """The scene command's arguments for these option values, keyed as its parser's dests
    (:func:`rscommon.cli.command_line`): ``scene_argv(image=..., pred=..., objects="regions", ...)``."""
    return command_line(build_parser(), values)


def _prediction(args: argparse.Namespace) -> GeoSegPrediction | None:
    """The GeoSeg prediction ``--config`` names, loaded and checked (``None`` with ``--pred``); also checks
    ``--workers``."""
    if args.config is None and (args.ckpt, args.tta, args.work_dir) != (None, None, None):
        raise InputError("--ckpt, --tta and --work-dir go with --config")
    if args.workers < 1:
        raise InputError(f"--workers {args.workers}: need at least 1")
    if args.config is None:
        return None
    prediction = geoseg_prediction(args.config, args.ckpt, args.tta, args.device, DATASETS[args.dataset], args.work_dir)
    print(f"checkpoint {prediction.checkpoint} ({prediction.why})")
    return prediction


def _pred_nodata(args: argparse.Namespace) -> ClassNodata:
    """``--pred-nodata`` as a :data:`~rspipeline.raster.ClassNodata` (it goes with ``--pred`` only)."""
    nodata = parse_class_nodata(args.pred_nodata, "--pred-nodata")
    if nodata != DECLARED and args.pred is None:
        raise InputError("--pred-nodata goes with --pred")
    return nodata


def _objects(args: argparse.Namespace) -> SourceRecipe:
    """The object source the options name."""
    return source_recipe(args.objects, args.model_type, args.checkpoint, args.device)


def scene_inputs_of(args: argparse.Namespace) -> dict[str, Any]:
    """The run settings the options of :func:`add_scene_inputs` give, loaded and checked (the GeoSeg config, the
    object source, ``--pred-nodata``, ``--workers``): the keyword arguments :class:`~rspipeline.scene.SceneRun`
    and :class:`~rspipeline.tune.TuneRun` share."""
    return {
        "image": args.image,
        "dataset": args.dataset,
        "pred": args.pred,
        "prediction": _prediction(args),
        "objects": _objects(args),
        "bands": tuple(args.bands),
        "nodata": args.nodata,
        "pred_nodata": _pred_nodata(args),
        "workers": args.workers,
        "scheduler": args.scheduler,
    }


def scene_run(args: argparse.Namespace) -> SceneRun:
    """The run the arguments describe (the GeoSeg config, when given, is loaded and checked here)."""
    defaults = {"min_area": "0px", "simplify": 0.0, "dst_crs": None, "layer": LAYER, "small_regions": SMALL_REGIONS[0]}
    if args.vector is None and any(getattr(args, name) != value for name, value in defaults.items()):
        raise InputError("--min-area, --small-regions, --simplify, --dst-crs and --layer go with --vector")
    if not (math.isfinite(args.simplify) and args.simplify >= 0):
        raise InputError(f"--simplify {args.simplify}: needs a finite distance of at least 0")
    if not args.layer.strip():
        raise InputError("--layer: give the layer a name")
    vector = None
    if args.vector is not None:
        min_area, unit = parse_min_area(args.min_area)
        vector = VectorSettings(
            args.vector, min_area, unit, args.simplify, parse_dst_crs(args.dst_crs), args.layer, args.small_regions
        )
    return SceneRun(
        **scene_inputs_of(args),
        thresholds=args.thresholds,
        out=args.out,
        vector=vector,
        tile=args.tile,
        overlap=args.overlap,
        max_tiles=args.max_tiles,
        max_objects=args.max_objects,
        mode=args.mode,
        parts=args.parts_dir,
        restart=args.restart,
        keep_parts=args.keep_parts,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run = scene_run(args)
    if run.vector is not None:
        action = layer_action(run.vector)
        print(f"--vector {run.vector.path}: layer {run.vector.layer!r} will be {action}")
    report = run_scene(run)
    reused = f" ({report.reused} kept from an earlier run)" if report.reused else ""
    skipped = f", {report.skipped} without data skipped" if report.skipped else ""
    polygons = f" and {report.polygons} polygons in {report.vector}, layer {args.layer!r}" if report.vector else ""
    print(f"{report.tiles} tiles{reused}{skipped} -> {report.out}{polygons}")
    for line in report_lines(report.changes):
        print(line)
    print(f"run report: {report.report_path}")
    return 0
