"""The demo: the embedded real tiles through GeoSeg, SAM objects and SESSRS, with the peers and an offline report.

    python pipeline/run_demo.py --out outputs/demo

prints one line per stage and ends with a table of every method's mIoU and OA; it writes ``OUT/report.html``
(open it in a browser), ``OUT/report.json`` (the same figures), ``OUT/metrics.json`` (with the confusion
matrices) and each stage's output in ``OUT/logs/``. Running it again continues from what is already in ``OUT``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rscommon.cli import DEBUG_FLAG, EXIT_FAILED, run_main
from rspipeline.demo import SAMPLE_SETS, DemoSettings, StageError, run_demo
from sessrs.thresholds import APPLY_MAX_OBJECTS


def parse_args(argv: list[str] | None = None) -> DemoSettings:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="output folder (created; resumed when present)")
    parser.add_argument(
        "--sets",
        nargs="+",
        choices=sorted(SAMPLE_SETS),
        default=list(SAMPLE_SETS),
        help="sample sets to run (default: all)",
    )
    parser.add_argument("--tiles", type=int, default=None, help="use only the first N tiles of each set")
    parser.add_argument("--crop", type=int, default=None, help="cut each tile into CROP x CROP squares")
    parser.add_argument("--crops-per-tile", type=int, default=1, help="how many crops to keep per tile")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default: the sample config's)")
    parser.add_argument("--train-batches", type=int, default=None, help="batches per training epoch (default: all)")
    parser.add_argument(
        "--objects",
        choices=("auto", "regions", "samhq", "sam2"),
        default="auto",
        help="object source: HQ-SAM, else SAM 2.1, when a checkpoint is in weights/ (auto), or force one",
    )
    parser.add_argument("-n", "--workers", type=int, default=2, help="sweep worker processes")
    parser.add_argument("-t", "--mode", default="0.7", choices=("0.7", "all"), help="pick threshold mode")
    parser.add_argument(
        "--max-objects",
        type=int,
        default=APPLY_MAX_OBJECTS,
        help=f"max_objects when applying the pick (default {APPLY_MAX_OBJECTS})",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show every stage's own output on the terminal instead of in OUT/logs/",
    )
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
        verbose=args.verbose,
    )


def main(argv: list[str] | None = None) -> int:
    """The demo's command line; a failure ends in one ``error:`` line (``--debug`` shows the traceback)."""
    args = list(sys.argv[1:] if argv is None else argv)

    def demo(demo_args: list[str]) -> int:
        try:
            run_demo(parse_args(demo_args))
        except StageError as error:  # already one line naming the stage and its log
            if DEBUG_FLAG in args:
                raise
            print(f"error: {error}", file=sys.stderr)
            return EXIT_FAILED
        return 0

    return run_main(demo, args)
