"""Label maps: class-index PNGs read and written (P mode with the dataset palette), and coloured for pictures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from .datasets import DatasetSpec
from .files import InputError, save_png_atomic
from .image_header import open_lazily
from .limits import check_image_pixels, max_image_pixels


def read_label_png(path: str | Path, spec: DatasetSpec | None = None, max_pixels: int | None = None) -> np.ndarray:
    """Read a label map as an H x W uint8 array of class indices.

    P-mode and greyscale PNGs are read as indices. An RGB PNG is mapped through ``spec``'s palette;
    a colour outside the palette is an error. A map of more than ``max_pixels`` pixels (default:
    :func:`~rscommon.limits.max_image_pixels`) is refused from its header, before it is decoded.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    limit = max_image_pixels(max_pixels)
    try:
        with open_lazily(path, limit) as image:
            check_image_pixels(path, *image.size, limit)
            image.load()
            mode = image.mode
            array = np.array(image)
    except OSError as error:
        raise InputError(f"{path}: not a readable image ({error})") from error
    if mode in ("P", "L"):
        return array.astype(np.uint8, copy=False)
    if mode in ("RGB", "RGBA"):
        if spec is None:
            raise InputError(f"{path}: an {mode} PNG, expected P-mode class indices (no palette given to map it)")
        return _rgb_to_index(array[..., :3], spec, path)
    raise InputError(f"{path}: unsupported PNG mode {mode}, expected P-mode class indices")


def _rgb_to_index(rgb: np.ndarray, spec: DatasetSpec, path: Path) -> np.ndarray:
    codes = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    palette_codes = np.array([(r << 16) | (g << 8) | b for r, g, b in spec.palette], dtype=np.int64)
    order = np.argsort(palette_codes)
    position = np.clip(np.searchsorted(palette_codes[order], codes), 0, len(order) - 1)
    matched = palette_codes[order][position] == codes
    if not matched.all():
        y, x = np.argwhere(~matched)[0]
        raise InputError(
            f"{path}: RGB colour {tuple(int(v) for v in rgb[y, x])} at (row {y}, col {x}) is not in the "
            f"{spec.name} palette"
        )
    return order[position].astype(np.uint8)


def check_classes(labels: np.ndarray, num_classes: int, path: str | Path, *, allowed_extra: int | None = None) -> None:
    """Raise when ``labels`` holds values outside [0, num_classes) (``allowed_extra`` is also accepted)."""
    values = np.unique(labels)
    bad = values[(values >= num_classes) & (values != (allowed_extra if allowed_extra is not None else -1))]
    if bad.size:
        raise InputError(f"{path}: class values {bad.tolist()} outside the dataset's 0..{num_classes - 1}")


def write_label_png(path: str | Path, labels: np.ndarray, spec: DatasetSpec) -> None:
    """Write class indices as a P-mode PNG with the dataset palette, atomically."""
    image = Image.fromarray(np.asarray(labels, dtype=np.uint8), mode="P")
    image.putpalette(spec.flat_palette())
    save_png_atomic(path, image)


def labels_to_rgb(labels: np.ndarray, spec: DatasetSpec) -> np.ndarray:
    """Colour a label map with the dataset palette (values outside it become black)."""
    palette = np.zeros((256, 3), dtype=np.uint8)
    palette[: len(spec.palette)] = np.array(spec.palette, dtype=np.uint8)
    return palette[np.asarray(labels, dtype=np.uint8)]


def write_rgb_png(path: str | Path, labels: np.ndarray, spec: DatasetSpec) -> None:
    """Write the coloured label map as an RGB PNG, atomically."""
    save_png_atomic(path, Image.fromarray(labels_to_rgb(labels, spec), mode="RGB"))
