"""Tune the thresholds for a scene from a few labelled areas of it: GeoTIFF and labels in, best.json out.

    python pipeline/sessrs_tune.py --image SCENE.tif --pred PRED.tif --labels LABELS.gpkg --class-field class \\
        --objects sam --dataset Urban --out TUNED

The labels are polygons in any vector format OGR reads, with a class field (``--class-field``; class ids or class
names), or a label raster on the scene's grid (255 or its nodata unlabelled). Each group of labels is cut with
``--context`` pixels around it into ``OUT/areas/{pred,sam,gt}/``, swept, and the thresholds are chosen (any
``--search``, ``--select``, ``--mode``) into ``OUT/best.json``, for ``sessrs_scene.py --thresholds OUT/best.json``.
The scene, prediction, objects, nodata, ``-n`` and ``--scheduler`` options are the scene command's. A rerun keeps
every finished area. See docs/tuning.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sessrs.choice_settings import SEARCHES, SELECTIONS, ChoiceSettings
from sessrs.modes import MODES, RefineOptions

from .raster import DECLARED, parse_class_nodata
from .scene_cli import add_scene_inputs, objects_of, pred_nodata_of, prediction_of
from .tune import TuneRun, run_tune


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_scene_inputs(parser)
    parser.add_argument(
        "--labels",
        required=True,
        type=Path,
        help="labelled areas: polygons (GeoPackage, Shapefile, GeoJSON, ...) with a class field, or "
        "a label raster (.tif) on the image's grid",
    )
    parser.add_argument("--class-field", default="class", help="the polygons' class field (default 'class')")
    parser.add_argument(
        "--labels-nodata",
        default=DECLARED,
        help="with a label raster: 'none' ignores its declared nodata value, or the value that marks unlabelled "
        "pixels besides 255 (default: the raster's declared nodata; one that is a class id is refused)",
    )
    parser.add_argument(
        "--context",
        type=int,
        default=128,
        help="pixels read around each labelled area for the objects and the prediction (default 128)",
    )
    parser.add_argument(
        "--out",
        required=True,
        type=Path,
        help="output folder: best.json, areas/, sweep/, choice/ (refined areas and their figures)",
    )
    parser.add_argument("-t", "--threshold-mode", default="0.7", help="largest picked t1 that is applied, or 'all'")
    parser.add_argument("--mode", choices=MODES, default="faithful", help="the refinement's mode (default faithful)")
    parser.add_argument(
        "--search",
        choices=SEARCHES,
        default="pick",
        help="pick: each class's best sweep row; joint: then the joint search on the areas",
    )
    parser.add_argument(
        "--select",
        choices=SELECTIONS,
        default="all",
        help="cv: keep only the classes whose gain holds out over folds of the areas",
    )
    parser.add_argument("--folds", type=int, default=5, help="folds of the cv selection (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="shuffles the cv selection's folds")
    return parser


def tune_run(args: argparse.Namespace) -> TuneRun:
    """The run the arguments describe (the GeoSeg config, when given, is loaded and checked here)."""
    choice = ChoiceSettings(
        search=args.search,
        threshold_mode=args.threshold_mode,
        options=RefineOptions.for_mode(args.mode),
        select=args.select,
        folds=args.folds,
        seed=args.seed,
    )
    return TuneRun(
        image=args.image,
        labels=args.labels,
        dataset=args.dataset,
        out=args.out,
        objects=objects_of(args),
        pred=args.pred,
        prediction=prediction_of(args),
        class_field=args.class_field,
        context=args.context,
        bands=tuple(args.bands),
        nodata=args.nodata,
        pred_nodata=pred_nodata_of(args),
        labels_nodata=parse_class_nodata(args.labels_nodata, "--labels-nodata"),
        choice=choice,
        workers=args.workers,
        scheduler=args.scheduler,
    )


def main(argv: list[str] | None = None) -> int:
    report = run_tune(tune_run(build_parser().parse_args(argv)))
    made = f", {report.made} made now" if report.made < report.areas else ""
    print(f"{report.areas} labelled areas ({report.labelled} labelled pixels{made}) -> {report.best}")
    print(f"thresholds: {report.thresholds.to_json()}")
    if report.report is not None:
        print(f"on the areas: mIoU {report.report['unrefined']['mIoU']:.2f} -> {report.report['refined']['mIoU']:.2f}")
    return 0
