"""Cut ISPRS Potsdam tiles into patches the way the reference's ``potsdam_patch_split.py`` does.

For every tile ``<prefix>RGB.tif`` with its label ``<prefix>label.tif`` (eroded: ``<prefix>label_noBoundary.tif``),
patches of ``size`` are taken every ``stride`` pixels in row-major order; a last row or column that would run
past the border is shifted back to end at it. Patch ``k`` of version ``m`` is ``<prefix><m>_<k>.png``: the image
as RGB, the label as a P-mode PNG of class indices (ImSurf 0, Building 1, LowVeg 2, Tree 3, Car 4, Clutter 5;
boundary/black 6 = ignore). Training mode adds a left-right flipped (m=1) and a top-bottom flipped (m=2) copy.

Training-mode padding (``train_padding``): ``"reference"`` pads each version to a multiple of ``size`` with the
image in the bottom-right corner (``albumentations.PadIfNeeded(position="bottom_right")``, as the reference:
black image, label 6 on the top and left), so a 6000-pixel side gives windows at 0, 1024, ..., 5120 of the
padded tile; ``"none"`` cuts training tiles like validation tiles (no padding, last window shifted back).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import albumentations as A
import cv2
import numpy as np
from PIL import Image

from rscommon.datasets import get_dataset
from rscommon.files import InputError, save_png_atomic
from rscommon.image_header import read_header
from rscommon.images import read_rgb
from rscommon.labels import write_label_png
from rscommon.limits import max_image_pixels
from rscommon.parallel import Execution, progress_map

POTSDAM = get_dataset("potsdam")
# ISPRS label colours (RGB) -> class index; black marks the eroded boundaries.
COLOUR_TO_CLASS = {
    (255, 255, 255): 0,
    (0, 0, 255): 1,
    (0, 255, 255): 2,
    (0, 255, 0): 3,
    (255, 255, 0): 4,
    (255, 0, 0): 5,
    (0, 0, 0): 6,
}
UNKNOWN_CLASS = 6
TRAIN_PADDINGS = ("reference", "none")


@dataclass(frozen=True)
class Tile:
    """One Potsdam tile: its image, its label image and the prefix its patches are named with."""

    image: Path
    label: Path
    prefix: str


@dataclass(frozen=True)
class SplitSettings:
    """How tiles are cut: mode (``train`` adds flips), patch size, stride and the training-mode padding."""

    mode: str = "val"
    size: int = 1024
    stride: int = 1024
    train_padding: str = "reference"

    def __post_init__(self) -> None:
        if self.mode not in ("train", "val"):
            raise InputError(f"mode must be train or val, not {self.mode!r}")
        if self.train_padding not in TRAIN_PADDINGS:
            raise InputError(f"train padding must be one of {', '.join(TRAIN_PADDINGS)}, not {self.train_padding!r}")
        if self.size < 1 or self.stride < 1:
            raise InputError(f"patch size and stride must be positive, got {self.size} and {self.stride}")

    @property
    def pads(self) -> bool:
        return self.mode == "train" and self.train_padding == "reference"


def find_tiles(img_dir: Path, mask_dir: Path, split_list: Path | None, eroded: bool) -> list[Tile]:
    """The tiles to cut, each with its image and label file checked to exist."""
    if split_list is not None:
        if not split_list.is_file():
            raise FileNotFoundError(f"split list {split_list} not found")
        names = [line.strip() for line in split_list.read_text().splitlines() if line.strip()]
        prefixes = [name.split("label")[0] for name in names]
    else:
        if not img_dir.is_dir():
            raise FileNotFoundError(f"image folder {img_dir} not found")
        prefixes = [p.name[: -len("RGB.tif")] for p in sorted(img_dir.glob("*_RGB.tif"))]
    if not prefixes:
        raise InputError(f"no tiles found ({split_list or img_dir})")
    label_suffix = "label_noBoundary.tif" if eroded else "label.tif"
    tiles = [Tile(img_dir / f"{p}RGB.tif", mask_dir / f"{p}{label_suffix}", p) for p in sorted(set(prefixes))]
    missing = [str(path) for tile in tiles for path in (tile.image, tile.label) if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} missing tile file(s): {', '.join(missing[:10])}")
    return tiles


def window_starts(length: int, size: int, stride: int) -> list[int]:
    """Start offsets of windows of ``size`` every ``stride``; the last one is shifted to end at ``length``."""
    if length < size:
        raise InputError(f"tile side {length} is smaller than the patch size {size}")
    starts = []
    for start in range(0, length, stride):
        starts.append(min(start, length - size))
        if start + size >= length:
            break
    return starts


def padded_side(length: int, size: int) -> int:
    """``length`` rounded up to a multiple of ``size`` (the reference's training-mode padding)."""
    return length + (-length) % size


def pad_bottom_right(image: np.ndarray, labels: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pad to multiples of ``size`` with the tile in the bottom-right corner: black image, ignore label."""
    height, width = padded_side(image.shape[0], size), padded_side(image.shape[1], size)
    pad = A.PadIfNeeded(
        min_height=height,
        min_width=width,
        position="bottom_right",
        border_mode=cv2.BORDER_CONSTANT,
        fill=0,
        fill_mask=UNKNOWN_CLASS,
    )
    out = pad(image=image, mask=labels)
    return out["image"], out["mask"]


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
        warnings.warn(
            f"{source}: {int((~known).sum())} pixel(s) with colours outside the ISPRS table -> ignore 6", stacklevel=2
        )
    return labels


def versions(image: np.ndarray, labels: np.ndarray, settings: SplitSettings) -> list[tuple[np.ndarray, np.ndarray]]:
    """The tile itself, plus for training its left-right and top-bottom flips, each padded as ``settings`` say."""
    if settings.mode == "val":
        return [(image, labels)]
    flipped = [(image, labels), (image[:, ::-1], labels[:, ::-1]), (image[::-1], labels[::-1])]
    if not settings.pads:
        return flipped
    return [pad_bottom_right(np.ascontiguousarray(i), np.ascontiguousarray(lab), settings.size) for i, lab in flipped]


def patch_names(tile: Tile, height: int, width: int, settings: SplitSettings) -> list[str]:
    """The file names of a tile's patches (``height`` x ``width`` before any padding)."""
    if settings.pads:
        height, width = padded_side(height, settings.size), padded_side(width, settings.size)
    count = len(window_starts(height, settings.size, settings.stride)) * len(
        window_starts(width, settings.size, settings.stride)
    )
    return [f"{tile.prefix}{m}_{k}.png" for m in range(1 if settings.mode == "val" else 3) for k in range(count)]


def split_tile(tile: Tile, img_out: Path, mask_out: Path, settings: SplitSettings, overwrite: bool = False) -> int:
    """Write the patches of one tile; returns how many image/label pairs were written."""
    header = read_header(tile.image, max_image_pixels())
    width, height = header.width, header.height
    names = patch_names(tile, height, width, settings)
    if not overwrite and all((img_out / n).is_file() and (mask_out / n).is_file() for n in names):
        return 0
    image = read_rgb(tile.image)  # the tiles' 6000 x 6000 pixels are within the readers' limit
    label_rgb = read_rgb(tile.label)
    if label_rgb.shape != image.shape:
        raise InputError(f"{tile.label}: size {label_rgb.shape[1::-1]} differs from {tile.image}'s {width}x{height}")
    labels = colours_to_classes(label_rgb, tile.label)
    written = 0
    for m, (version_image, version_labels) in enumerate(versions(image, labels, settings)):
        rows = window_starts(version_image.shape[0], settings.size, settings.stride)
        cols = window_starts(version_image.shape[1], settings.size, settings.stride)
        for k, (y, x) in enumerate((y, x) for y in rows for x in cols):
            name = f"{tile.prefix}{m}_{k}.png"
            patch = np.ascontiguousarray(version_image[y : y + settings.size, x : x + settings.size])
            save_png_atomic(img_out / name, Image.fromarray(patch, mode="RGB"))
            write_label_png(mask_out / name, version_labels[y : y + settings.size, x : x + settings.size], POTSDAM)
            written += 1
    return written


def split_tiles(
    tiles: list[Tile],
    img_out: Path,
    mask_out: Path,
    settings: SplitSettings,
    inputs: list[Path],
    overwrite: bool = False,
    workers: int = 2,
) -> int:
    """Cut every tile (in ``workers`` processes); the output folders must differ from the ``inputs`` folders."""
    for folder in (img_out, mask_out):
        if folder.resolve() in {p.resolve() for p in inputs}:
            raise InputError(f"output folder {folder} must differ from the input folders")
    for folder in (img_out, mask_out):
        folder.mkdir(parents=True, exist_ok=True)
    job = partial(split_tile, img_out=img_out, mask_out=mask_out, settings=settings, overwrite=overwrite)
    return sum(progress_map(job, tiles, Execution(workers), desc="split tiles", unit="tile"))
