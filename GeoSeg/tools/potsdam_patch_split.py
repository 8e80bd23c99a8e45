"""Cut ISPRS Potsdam tiles into patches: ``python tools/potsdam_patch_split.py --img-dir D --mask-dir D ...``.

For every tile ``<prefix>RGB.tif`` with its label ``<prefix>label.tif`` (``--eroded``:
``<prefix>label_noBoundary.tif``), patches of ``--split-size`` are taken every ``--stride`` pixels in row-major
order; the last row and column are shifted back so they end at the tile border. Patch ``k`` of version ``m``
is written as ``<prefix><m>_<k>.png``: the image as RGB, the label as a P-mode PNG of class indices
(ImSurf 0, Building 1, LowVeg 2, Tree 3, Car 4, Clutter 5; boundary/black 6 = ignore). ``--mode train``
adds a left-right flipped (m=1) and a top-bottom flipped (m=2) copy of each tile and, as the reference, pads
each copy on the top and left to a multiple of the patch size (``--train-padding none``: no padding, the
windows of ``--mode val``). Label colours outside the ISPRS table become 6 with a warning. Tiles whose patches
all exist are skipped unless ``--overwrite``. A failure ends in one ``error:`` line (``--debug``: traceback).
"""

from __future__ import annotations

import argparse
import sys

from geoseg.cli import absolute
from geoseg.prepare.potsdam_patches import TRAIN_PADDINGS, SplitSettings, find_tiles, split_tiles
from rscommon.cli import run_main


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--img-dir", type=absolute, required=True, help="folder of *_RGB.tif tiles (2_Ortho_RGB)")
    parser.add_argument("--mask-dir", type=absolute, required=True, help="folder of *_label.tif tiles")
    parser.add_argument(
        "--split-list",
        type=absolute,
        help="text file naming the tiles of this split, one label file name per line "
        "(the reference's --read_txt); default: every *_RGB.tif in --img-dir",
    )
    parser.add_argument("--output-img-dir", type=absolute, required=True)
    parser.add_argument("--output-mask-dir", type=absolute, required=True)
    parser.add_argument("--eroded", action="store_true", help="read the *_label_noBoundary.tif labels")
    parser.add_argument("--mode", choices=("train", "val"), default="val", help="train adds flipped copies")
    parser.add_argument(
        "--train-padding",
        choices=TRAIN_PADDINGS,
        default="reference",
        help="train mode: pad top/left to a multiple of the patch size as the reference, or not",
    )
    parser.add_argument("--split-size", type=int, default=1024)
    parser.add_argument("--stride", type=int, default=1024)
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("-n", "--workers", type=int, default=2)
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    settings = SplitSettings(args.mode, args.split_size, args.stride, args.train_padding)
    tiles = find_tiles(args.img_dir, args.mask_dir, args.split_list, args.eroded)
    written = split_tiles(
        tiles,
        args.output_img_dir,
        args.output_mask_dir,
        settings,
        [args.img_dir, args.mask_dir],
        args.overwrite,
        args.workers,
    )
    print(f"{len(tiles)} tile(s), {written} patch pair(s) written to {args.output_img_dir} and {args.output_mask_dir}")


if __name__ == "__main__":
    sys.exit(run_main(main))
