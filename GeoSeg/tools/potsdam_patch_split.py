"""Cut ISPRS Potsdam tiles into patches: ``python tools/potsdam_patch_split.py --img-dir D --mask-dir D ...``.

For every tile ``<prefix>RGB.tif`` with its label ``<prefix>label.tif`` (``--eroded``:
``<prefix>label_noBoundary.tif``), patches of ``--split-size`` are taken every ``--stride`` pixels in row-major
order; the last row and column are shifted back so they end at the tile border. Patch ``k`` of version ``m``
is written as ``<prefix><m>_<k>.png``: the image as RGB, the label as a P-mode PNG of class indices
(ImSurf 0, Building 1, LowVeg 2, Tree 3, Car 4, Clutter 5; boundary/black 6 = ignore). ``--mode train``
adds a left-right flipped (m=1) and a top-bottom flipped (m=2) copy of each tile. Label colours outside the
ISPRS table become 6 with a warning. Tiles whose patches all exist are skipped unless ``--overwrite``.
"""
from __future__ import annotations

import argparse
import warnings
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

from rscommon.datasets import get_dataset
from rscommon.files import save_png_atomic
from rscommon.labels import write_label_png
from rscommon.parallel import progress_map

POTSDAM = get_dataset("potsdam")
# ISPRS label colours (RGB) -> class index; black marks the eroded boundaries.
COLOUR_TO_CLASS = {
    (255, 255, 255): 0, (0, 0, 255): 1, (0, 255, 255): 2, (0, 255, 0): 3, (255, 255, 0): 4, (255, 0, 0): 5,
    (0, 0, 0): 6,
}
UNKNOWN_CLASS = 6
Image.MAX_IMAGE_PIXELS = None  # the tiles are 6000 x 6000 and trusted


@dataclass(frozen=True)
class Tile:
    """One Potsdam tile: its image, its label image and the prefix its patches are named with."""

    image: Path
    label: Path
    prefix: str


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--img-dir", type=Path, required=True, help="folder of *_RGB.tif tiles (2_Ortho_RGB)")
    parser.add_argument("--mask-dir", type=Path, required=True, help="folder of *_label.tif tiles")
    parser.add_argument("--split-list", type=Path,
                        help="text file naming the tiles of this split, one label file name per line "
                             "(the reference's --read_txt); default: every *_RGB.tif in --img-dir")
    parser.add_argument("--output-img-dir", type=Path, required=True)
    parser.add_argument("--output-mask-dir", type=Path, required=True)
    parser.add_argument("--eroded", action="store_true", help="read the *_label_noBoundary.tif labels")
    parser.add_argument("--mode", choices=("train", "val"), default="val", help="train adds flipped copies")
    parser.add_argument("--split-size", type=int, default=1024)
    parser.add_argument("--stride", type=int, default=1024)
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("-n", "--workers", type=int, default=2)
    return parser.parse_args(argv)


def find_tiles(img_dir: Path, mask_dir: Path, split_list: Path | None, eroded: bool) -> list[Tile]:
    """The tiles to cut, each with its image and label file checked to exist."""
    if split_list is not None:
        names = [line.strip() for line in split_list.read_text().splitlines() if line.strip()]
        prefixes = [name.split("label")[0] for name in names]
    else:
        prefixes = [p.name[: -len("RGB.tif")] for p in sorted(img_dir.glob("*_RGB.tif"))]
    if not prefixes:
        raise SystemExit(f"no tiles found ({split_list or img_dir})")
    label_suffix = "label_noBoundary.tif" if eroded else "label.tif"
    tiles = [Tile(img_dir / f"{p}RGB.tif", mask_dir / f"{p}{label_suffix}", p) for p in sorted(set(prefixes))]
    missing = [str(path) for tile in tiles for path in (tile.image, tile.label) if not path.is_file()]
    if missing:
        raise SystemExit(f"{len(missing)} missing tile file(s): {', '.join(missing[:10])}")
    return tiles


def window_starts(length: int, size: int, stride: int) -> list[int]:
    """Start offsets of windows of ``size`` every ``stride``; the last one is shifted to end at ``length``."""
    if length < size:
        raise ValueError(f"tile side {length} is smaller than the patch size {size}")
    starts = []
    for start in range(0, length, stride):
        starts.append(min(start, length - size))
        if start + size >= length:
            break
    return starts


def colours_to_classes(rgb: np.ndarray, source: Path) -> np.ndarray:
    """Map an H x W x 3 ISPRS label image to class indices; unknown colours become 6 with a warning."""
    codes = (rgb[..., 0].astype(np.int32) << 16) | (rgb[..., 1].astype(np.int32) << 8) | rgb[..., 2]
    labels = np.full(codes.shape, UNKNOWN_CLASS, dtype=np.uint8)
    known = np.zeros(codes.shape, dtype=bool)
    for (r, g, b), index in COLOUR_TO_CLASS.items():
        hit = codes == ((r << 16) | (g << 8) | b)
        labels[hit] = index
        known |= hit
    if not known.all():
        warnings.warn(f"{source}: {int((~known).sum())} pixel(s) with colours outside the ISPRS table -> ignore 6",
                      stacklevel=2)
    return labels


def versions(image: np.ndarray, labels: np.ndarray, mode: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """The tile itself, plus for training its left-right and top-bottom flips."""
    if mode == "val":
        return [(image, labels)]
    return [(image, labels), (image[:, ::-1], labels[:, ::-1]), (image[::-1], labels[::-1])]


def patch_names(tile: Tile, height: int, width: int, mode: str, size: int, stride: int) -> list[str]:
    count = len(window_starts(height, size, stride)) * len(window_starts(width, size, stride))
    return [f"{tile.prefix}{m}_{k}.png" for m in range(1 if mode == "val" else 3) for k in range(count)]


def split_tile(tile: Tile, img_out: Path, mask_out: Path, mode: str, size: int, stride: int,
               overwrite: bool = False) -> int:
    """Write the patches of one tile; returns how many image/label pairs were written."""
    with Image.open(tile.image) as handle:
        width, height = handle.size
    names = patch_names(tile, height, width, mode, size, stride)
    if not overwrite and all((img_out / n).is_file() and (mask_out / n).is_file() for n in names):
        return 0
    with Image.open(tile.image) as handle:
        image = np.array(handle.convert("RGB"))
    with Image.open(tile.label) as handle:
        label_rgb = np.array(handle.convert("RGB"))
    if label_rgb.shape != image.shape:
        raise ValueError(f"{tile.label}: size {label_rgb.shape[1::-1]} differs from {tile.image}'s {width}x{height}")
    labels = colours_to_classes(label_rgb, tile.label)
    written = 0
    for m, (version_image, version_labels) in enumerate(versions(image, labels, mode)):
        k = 0
        for y in window_starts(height, size, stride):
            for x in window_starts(width, size, stride):
                name = f"{tile.prefix}{m}_{k}.png"
                patch = np.ascontiguousarray(version_image[y: y + size, x: x + size])
                save_png_atomic(img_out / name, Image.fromarray(patch, mode="RGB"))
                write_label_png(mask_out / name, version_labels[y: y + size, x: x + size], POTSDAM)
                k += 1
                written += 1
    return written


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    tiles = find_tiles(args.img_dir, args.mask_dir, args.split_list, args.eroded)
    for folder in (args.output_img_dir, args.output_mask_dir):
        if folder.resolve() in (args.img_dir.resolve(), args.mask_dir.resolve()):
            raise SystemExit(f"output folder {folder} must differ from the input folders")
        folder.mkdir(parents=True, exist_ok=True)
    job = partial(split_tile, img_out=args.output_img_dir, mask_out=args.output_mask_dir, mode=args.mode,
                  size=args.split_size, stride=args.stride, overwrite=args.overwrite)
    written = sum(progress_map(job, tiles, args.workers, desc="split tiles", unit="tile"))
    print(f"{len(tiles)} tile(s), {written} patch pair(s) written to {args.output_img_dir} and {args.output_mask_dir}")


if __name__ == "__main__":
    main()
