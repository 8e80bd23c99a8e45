"""What an image file holds, read from its header alone (nothing decoded): its size, its bands, and whether
Pillow decodes it as 8-bit data or OpenCV must read it (16-bit, float, or a TIFF Pillow does not open).

Pillow identifies every file lazily, quietly (:func:`pillow_quietly`). Its own size guard (a warning, then an error,
at a fixed number of pixels) gives way to the caller's limit: its warning is not shown, and it is raised to the
caller's limit when that is higher. Multi-band float TIFFs, which Pillow does not open, are read by
:func:`tiff_header` (TIFF and BigTIFF).
"""

from __future__ import annotations

import logging
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from .files import InputError
from .limits import image_too_large

_EIGHT_BIT_MODES = {"RGB", "RGBA", "L", "LA", "P", "PA", "1", "CMYK", "YCbCr"}
_TIFF_SIZE_TAGS = {256: "width", 257: "height", 277: "bands"}
# value type -> struct format: SHORT, LONG, LONG8 (BigTIFF)
_TIFF_VALUE_FORMATS = {3: "H", 4: "I", 16: "Q"}
# version -> (where the first directory's offset is, its format, the entry count's format, entry size, where in an
# entry its value is): classic TIFF (42) and BigTIFF (43)
_TIFF_LAYOUTS = {42: (4, "I", "H", 12, 8), 43: (8, "Q", "Q", 20, 12)}
_TIFF_MAX_ENTRIES = 4096


@dataclass(frozen=True)
class ImageHeader:
    """The size and bands of an image file; ``eight_bit`` when Pillow decodes it as 8 bits per band."""

    width: int
    height: int
    bands: int
    eight_bit: bool


def read_header(path: Path, max_pixels: int) -> ImageHeader:
    """The header of the image at ``path``; an error names a file that is no image, or one far over ``max_pixels``
    (which Pillow refuses to open)."""
    try:
        with open_lazily(path, max_pixels) as image:
            raw_modes = " ".join(str(tile[3]) for tile in image.tile)
            return ImageHeader(
                *image.size, len(image.getbands()), image.mode in _EIGHT_BIT_MODES and ";16" not in raw_modes
            )
    except InputError:
        raise
    except (OSError, ValueError) as error:
        header = tiff_header(path)
        if header is None:
            raise InputError(f"{path}: not a readable image ({error})") from error
        return header


def open_lazily(path: Path, max_pixels: int) -> Image.Image:
    """The image at ``path`` identified, not decoded, with Pillow's size guard at least ``max_pixels``; one so far
    over it that Pillow refuses to open it is refused as too large."""
    if Image.MAX_IMAGE_PIXELS is not None and max_pixels > Image.MAX_IMAGE_PIXELS:
        Image.MAX_IMAGE_PIXELS = max_pixels  # the caller's higher limit (Pillow refuses twice its own)
    try:
        with pillow_quietly():
            return Image.open(path)
    except Image.DecompressionBombError:
        raise image_too_large(path, f"over {2 * Image.MAX_IMAGE_PIXELS:,} pixels", max_pixels) from None


@contextmanager
def pillow_quietly() -> Iterator[None]:
    """Pillow's warnings and log messages about a file held back for the block (its size guard's among them): the
    caller checks the file itself and says in one line what is wrong with it."""
    logger = logging.getLogger("PIL")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def tiff_header(path: Path) -> ImageHeader | None:
    """The size and bands of the first image of a TIFF or BigTIFF file; None when ``path`` is no TIFF."""
    with open(path, "rb") as stream:
        start = stream.read(16)
        order = {b"II": "<", b"MM": ">"}.get(start[:2])
        version = struct.unpack(f"{order}H", start[2:4])[0] if order and len(start) >= 4 else None
        if version not in _TIFF_LAYOUTS:
            return None
        first_at, offset_format, count_format, entry_size, value_at = _TIFF_LAYOUTS[version]
        stream.seek(_unpacked(order, offset_format, start[first_at : first_at + struct.calcsize(offset_format)], path))
        count = _unpacked(order, count_format, stream.read(struct.calcsize(count_format)), path)
        entries = stream.read(entry_size * min(_TIFF_MAX_ENTRIES, count))
    values = {"bands": 1}
    for at in range(0, len(entries) - entry_size + 1, entry_size):
        tag, kind = struct.unpack(f"{order}HH", entries[at : at + 4])
        if tag in _TIFF_SIZE_TAGS and kind in _TIFF_VALUE_FORMATS:
            values[_TIFF_SIZE_TAGS[tag]] = struct.unpack_from(
                f"{order}{_TIFF_VALUE_FORMATS[kind]}", entries, at + value_at
            )[0]
    if "width" not in values or "height" not in values:
        raise InputError(f"{path}: a TIFF whose first image has no width or height in its header")
    return ImageHeader(values["width"], values["height"], values["bands"], eight_bit=False)


def _unpacked(order: str, fmt: str, data: bytes, path: Path) -> int:
    if len(data) != struct.calcsize(fmt):
        raise InputError(f"{path}: a TIFF cut short in its header")
    return struct.unpack(f"{order}{fmt}", data)[0]
