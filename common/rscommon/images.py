"""Finding and reading images: one reader for every stage, 8-bit RGB out whatever the file's bit depth.

8-bit images (RGB, greyscale, palette, with or without alpha) are read as they are. 16-bit and floating-point
images are stretched to 8 bits per band between the band's 2nd and 98th percentiles, as GIS viewers display
them; they are never cut to their low byte or saturated. Every image's size is read from its header and checked
(:mod:`rscommon.limits`) before it is decoded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from .files import InputError, save_png_atomic
from .image_header import pillow_quietly, read_header
from .limits import check_image_pixels, max_image_pixels

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
STRETCH_PERCENTILES = (2.0, 98.0)


def list_images(image_dir: str | Path) -> list[Path]:
    """Image files directly in ``image_dir``, sorted by name; an error if there are none or two share a stem."""
    image_dir = Path(image_dir)
    if not image_dir.is_dir():
        raise FileNotFoundError(f"image folder not found: {image_dir}")
    paths = sorted(p for p in image_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {image_dir}")
    stems: dict[str, Path] = {}
    for path in paths:
        if path.stem in stems:
            raise InputError(f"{stems[path.stem].name} and {path.name} in {image_dir} would share one output name")
        stems[path.stem] = path
    return paths


def percentile_ranges(
    bands: np.ndarray, percentiles: tuple[float, float] = STRETCH_PERCENTILES
) -> list[tuple[float, float]]:
    """Per band of H x W x B values the given percentiles of its finite values ((0, 0) when it has none).

    Integer bands are ranked as they are (every value is finite and exact in float64), so only one band's copy
    is made at a time."""
    ranges = []
    for band in range(bands.shape[2]):
        values = bands[..., band]
        if not np.issubdtype(values.dtype, np.integer):
            values = np.asarray(values, dtype=np.float64)
            values = values[np.isfinite(values)]
        ranges.append(tuple(float(v) for v in np.percentile(values, percentiles)) if values.size else (0.0, 0.0))
    return ranges


STRIP_ROWS = 256
"""Rows stretched at a time: the float64 working copies are of one strip, not of the whole image."""


def stretch_with_ranges(bands: np.ndarray, ranges: Sequence[tuple[float, float]]) -> np.ndarray:
    """H x W x B values to uint8, band b linearly from ``ranges[b]`` to 0..255; non-finite values and constant
    ranges give 0."""
    low, high = np.array(ranges, dtype=np.float64).T
    usable = high > low
    span = np.where(usable, high - low, 1.0)
    stretched = np.empty(bands.shape, np.uint8)
    for top in range(0, bands.shape[0], STRIP_ROWS):
        values = bands[top : top + STRIP_ROWS].astype(np.float64)  # a copy, scaled in place
        kept = np.isfinite(values) & usable
        values -= low
        values /= span
        np.clip(values, 0.0, 1.0, out=values)
        values *= 255.0
        np.rint(values, out=values)
        values[~kept] = 0
        stretched[top : top + STRIP_ROWS] = values
    return stretched


def stretch_to_uint8(bands: np.ndarray, percentiles: tuple[float, float] = STRETCH_PERCENTILES) -> np.ndarray:
    """H x W x B values of any numeric type to uint8, each band stretched from its own percentile range."""
    return stretch_with_ranges(bands, percentile_ranges(bands, percentiles))


def to_rgb(bands: np.ndarray) -> np.ndarray:
    """H x W (x 1, 3 or 4) image data as H x W x 3 uint8 RGB: uint8 kept, other types stretched per band."""
    if bands.ndim == 2:
        bands = bands[..., None]
    if bands.ndim != 3 or bands.shape[2] not in (1, 3, 4):
        raise InputError(f"expected 1, 3 or 4 bands, got shape {bands.shape}")
    bands = bands[..., :3]
    if bands.dtype != np.uint8:
        bands = stretch_to_uint8(bands)
    return np.repeat(bands, 3, axis=2) if bands.shape[2] == 1 else np.ascontiguousarray(bands)


def read_rgb(path: str | Path, max_pixels: int | None = None) -> np.ndarray:
    """An image file as an H x W x 3 uint8 RGB array; a clear error names an unreadable file.

    The header is read first: an image over ``max_pixels`` (default :func:`rscommon.limits.max_image_pixels`), or
    with bands other than 1, 3 or 4 for OpenCV, is refused before it is decoded. 16-bit and float images are
    stretched (see the module's docstring).
    """
    path = Path(path)
    limit = max_image_pixels(max_pixels)
    header = read_header(path, limit)
    check_image_pixels(path, header.width, header.height, limit)
    pil_error: Exception | None = None
    if header.eight_bit:
        try:
            with pillow_quietly(), Image.open(path) as image:
                return np.array(image.convert("RGB"))
        except (OSError, ValueError) as error:  # damaged data: OpenCV may still read it
            pil_error = error
    if header.bands not in (1, 3, 4):
        raise InputError(f"{path}: {header.bands} bands; expected 1, 3 or 4 (grey, RGB or RGBA)")
    data = _opencv_read(path)
    if data is None:
        reason = f" ({pil_error})" if pil_error else ""
        raise InputError(f"{path}: not a readable image{reason}")
    if data.ndim == 3 and data.shape[2] >= 3:
        data = cv2.cvtColor(data[..., :3], cv2.COLOR_BGR2RGB)
    try:
        return to_rgb(data)
    except ValueError as error:
        raise InputError(f"{path}: {error}") from error


def _opencv_read(path: Path) -> np.ndarray | None:
    """OpenCV's reading of ``path`` as stored (None when it cannot), its own log silenced: the caller says why."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    finally:
        cv2.utils.logging.setLogLevel(level)


def write_png_atomic(path: str | Path, array: np.ndarray) -> None:
    """Write a uint8 image as PNG under a temporary name in the same folder, then rename it into place."""
    save_png_atomic(path, Image.fromarray(array))
