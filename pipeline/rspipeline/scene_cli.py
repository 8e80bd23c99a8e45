"""Refine one georeferenced scene with SESSRS, tile by tile, into a GeoTIFF (and a GeoPackage of polygons).

    python pipeline/sessrs_scene.py --image SCENE.tif --pred PRED.tif --objects sam \\
        --thresholds best.json --dataset Urban --out REFINED.tif [--vector REFINED.gpkg]

The prediction is a class raster on the image's grid (``--pred``, from any model) or is made tile by tile by a
GeoSeg config (``--config``, with ``--ckpt`` or the config's checkpoint). Objects are made per tile by the SAM
stage's source (``--objects``; checkpoints looked up under weights/). The output keeps the image's CRS, transform
and size, and carries the dataset's palette. Finished tiles are kept in ``OUT.parts/`` until the output is
written: the same command continues an interrupted run. ``--scheduler tcp://HOST:8786`` runs the tiles on a
Dask cluster whose workers see the same input paths.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from rscommon.datasets import DATASETS
from sam_objects import SOURCES, source_recipe
from sam_objects.registry import DEFAULT_MODEL_TYPE
from sessrs import APPLY_MAX_OBJECTS

from .scene import SceneRun, run_scene
from .tile_sources import geoseg_prediction
from rscommon.files import InputError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", required=True, type=Path, help="the scene: any raster GDAL reads (GeoTIFF, ...)")
    parser.add_argument("--bands", nargs=3, type=int, default=[1, 2, 3], metavar=("R", "G", "B"),
                        help="the image's bands used as red, green, blue (1-based; default 1 2 3)")
    prediction = parser.add_mutually_exclusive_group(required=True)
    prediction.add_argument("--pred", type=Path, help="the prediction: a one-band class raster on the image's grid")
    prediction.add_argument("--config", type=Path, help="predict tile by tile with this GeoSeg config")
    parser.add_argument("--ckpt", type=Path,
                        help="with --config: the checkpoint (default: as GeoSeg's test.py, the last training's best)")
    parser.add_argument("--tta", help="with --config: test-time augmentation d4, lr or none (default: the config's)")
    parser.add_argument("--objects", required=True, choices=sorted(SOURCES),
                        help="object source per tile; 'regions' needs no weights and is not SAM")
    defaults = ", ".join(f"{model_type} for {name}" for name, model_type in DEFAULT_MODEL_TYPE.items())
    parser.add_argument("--model-type", help=f"backbone of the object source (default: {defaults})")
    parser.add_argument("--checkpoint", type=Path,
                        help="weights of the object source, as in the SAM stage (default: its standard file name "
                             "under weights/); --ckpt is the GeoSeg network's")
    parser.add_argument("--device", help="torch device for the networks (default: cuda if available, else cpu)")
    parser.add_argument("--thresholds", required=True, type=Path, help="best.json written by get_best_t1_t2.py")
    parser.add_argument("--dataset", required=True, choices=sorted(DATASETS), help="class set of the prediction")
    parser.add_argument("--max-objects", type=int, default=APPLY_MAX_OBJECTS,
                        help=f"a candidate list this long or longer is not used (default {APPLY_MAX_OBJECTS}, "
                             "as the pick's application)")
    parser.add_argument("--out", required=True, type=Path, help="the refined scene: a GeoTIFF")
    parser.add_argument("--vector", type=Path, help="also write the refined classes as polygons to this GeoPackage")
    parser.add_argument("--tile", type=int, default=1024, help="tile side in pixels (default 1024)")
    parser.add_argument("--overlap", type=int, default=128, help="pixels shared by neighbouring tiles (default 128)")
    parser.add_argument("-n", "--workers", type=int, default=1, help="local worker processes (default 1)")
    parser.add_argument("--scheduler", help="run the tiles on the Dask cluster at this address (tcp://HOST:PORT)")
    parser.add_argument("--parts-dir", type=Path, help="where finished tiles are kept (default: OUT.parts/)")
    parser.add_argument("--restart", action="store_true",
                        help="discard finished tiles made with other inputs or settings")
    parser.add_argument("--keep-parts", action="store_true", help="keep the finished tiles after writing the output")
    return parser


def scene_run(args: argparse.Namespace) -> SceneRun:
    """The run the arguments describe (the GeoSeg config, when given, is loaded and checked here)."""
    if args.config is None and (args.ckpt is not None or args.tta is not None):
        raise InputError("--ckpt and --tta go with --config")
    prediction = None
    if args.config is not None:
        prediction = geoseg_prediction(args.config, args.ckpt, args.tta, args.device, DATASETS[args.dataset])
    if args.workers < 1:
        raise InputError(f"--workers {args.workers}: need at least 1")
    return SceneRun(
        image=args.image, thresholds=args.thresholds, dataset=args.dataset, out=args.out,
        objects=source_recipe(args.objects, args.model_type, args.checkpoint, args.device),
        pred=args.pred, prediction=prediction, bands=tuple(args.bands), vector=args.vector, tile=args.tile,
        overlap=args.overlap, max_objects=args.max_objects, parts=args.parts_dir, workers=args.workers,
        scheduler=args.scheduler, restart=args.restart, keep_parts=args.keep_parts,
    )


def main(argv: list[str] | None = None) -> int:
    report = run_scene(scene_run(build_parser().parse_args(argv)))
    reused = f" ({report.reused} kept from an earlier run)" if report.reused else ""
    print(f"{report.tiles} tiles{reused} -> {report.out}" + (f" and {report.vector}" if report.vector else ""))
    return 0
