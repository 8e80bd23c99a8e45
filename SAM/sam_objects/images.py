"""Finding, reading and writing images, with errors that name the file."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from sessrs.io import save_png_atomic

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


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
            raise ValueError(f"{stems[path.stem].name} and {path.name} in {image_dir} would share one output name")
        stems[path.stem] = path
    return paths


def read_rgb(path: str | Path) -> np.ndarray:
    """An H x W x 3 uint8 RGB array (greyscale, palette and alpha images are converted)."""
    try:
        with Image.open(path) as image:
            return np.array(image.convert("RGB"))
    except OSError as error:
        raise ValueError(f"{path}: not a readable image ({error})") from error


def write_png_atomic(path: str | Path, array: np.ndarray) -> None:
    """Write a uint8 image as PNG under a temporary name in the same folder, then rename it into place."""
    save_png_atomic(path, Image.fromarray(array))
