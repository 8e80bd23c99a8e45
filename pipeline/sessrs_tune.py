"""Tune SESSRS's thresholds for one scene from a few labelled areas of it, for sessrs_scene.py.

    python pipeline/sessrs_tune.py --image SCENE.tif --pred PRED.tif --labels LABELS.gpkg --class-field class \
        --objects sam --dataset Urban --out TUNED
    python pipeline/sessrs_scene.py ... --thresholds TUNED/best.json

``--help`` lists every option; see rspipeline/tune_cli.py and docs/tuning.md.
"""

import sys

from rscommon.cli import run_main
from rspipeline.tune_cli import main

if __name__ == "__main__":
    sys.exit(run_main(main))
