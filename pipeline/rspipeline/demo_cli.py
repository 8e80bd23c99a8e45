"""The demo: the embedded real tiles through GeoSeg, SAM objects and SESSRS, with the peers and an offline report.

    python pipeline/run_demo.py --out outputs/demo

writes ``OUT/report.html`` (open it in a browser), ``OUT/report.json`` (the same figures) and ``OUT/metrics.json``
(with the confusion matrices). Running it again continues from what is already in ``OUT``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rspipeline.demo import SAMPLE_SETS, DemoSettings, StageError, run_demo


def parse_args(argv: list[str] | None = None) -> DemoSettings:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="output folder (created; resumed when present)")
    parser.add_argument("--sets", nargs="+", choices=sorted(SAMPLE_SETS), default=list(SAMPLE_SETS),
                        help="sample sets to run (default: all)")
    parser.add_argument("--tiles", type=int, default=None, help="use only the first N tiles of each set")
    parser.add_argument("--crop", type=int, default=None, help="cut each tile into CROP x CROP squares")
    parser.add_argument("--crops-per-tile", type=int, default=1, help="how many crops to keep per tile")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default: the sample config's)")
    parser.add_argument("--train-batches", type=int, default=None, help="batches per training epoch (default: all)")
    parser.add_argument("--objects", choices=("auto", "regions", "samhq"), default="auto",
                        help="object source: HQ-SAM when its checkpoint is in weights/ (auto), or force one")
    parser.add_argument("-n", "--workers", type=int, default=2, help="sweep worker processes")
    parser.add_argument("-t", "--mode", default="0.7", choices=("0.7", "all"), help="pick threshold mode")
    parser.add_argument("--max-objects", type=int, default=5, help="max_objects when applying the pick")
    args = parser.parse_args(argv)
    return DemoSettings(
        out=args.out,
        sets=tuple(args.sets),
        tiles=args.tiles,
        crop=args.crop,
        crops_per_tile=args.crops_per_tile,
        train_epochs=args.epochs,
        train_batches=args.train_batches,
        objects=args.objects,
        workers=args.workers,
        pick_mode=args.mode,
        max_objects=args.max_objects,
    )


def main(argv: list[str] | None = None) -> int:
    try:
        run_demo(parse_args(argv))
    except StageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0

