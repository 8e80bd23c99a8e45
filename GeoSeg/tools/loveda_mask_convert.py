"""Convert LoveDA masks from raw codes to GeoSeg's.

    python tools/loveda_mask_convert.py --mask-dir D --output-mask-dir O

Raw codes 0 (no-data) and 1..7 become 7 (``other``) and 0..6. Each converted mask is written to
``O/<name>.png`` as a P-mode PNG with the Urban palette, and its colour rendering to ``O_rgb/<name>.png``.
Existing outputs are kept (``--overwrite`` redoes them), so an interrupted run continues where it stopped.
A failure ends in one ``error:`` line (``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import sys

from geoseg.cli import absolute
from geoseg.prepare.loveda_masks import convert_masks
from rscommon.cli import run_main


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mask-dir", type=absolute, required=True, help="folder of raw LoveDA mask PNGs")
    parser.add_argument("--output-mask-dir", type=absolute, required=True, help="folder for the converted masks")
    parser.add_argument("--rgb-dir", type=absolute, help="folder for colour renderings (default: <output>_rgb)")
    parser.add_argument("--overwrite", action="store_true", help="redo masks whose outputs already exist")
    parser.add_argument("-n", "--workers", type=int, default=2)
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    count, rgb_dir = convert_masks(args.mask_dir, args.output_mask_dir, args.rgb_dir, args.overwrite, args.workers)
    print(f"{count} mask(s) -> {args.output_mask_dir} and {rgb_dir}")


if __name__ == "__main__":
    sys.exit(run_main(main))
