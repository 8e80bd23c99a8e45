"""Refine one whole georeferenced scene tile by tile: GeoTIFF in, GeoTIFF (and GeoPackage) out.

    python pipeline/sessrs_scene.py --image SCENE.tif --pred PRED.tif --objects sam --thresholds best.json \
        --dataset Urban --out REFINED.tif --vector REFINED.gpkg

``--help`` lists every option; see rspipeline/scene_cli.py.
"""

import sys

from rscommon.cli import run_main
from rspipeline.scene_cli import main

if __name__ == "__main__":
    sys.exit(run_main(main))
