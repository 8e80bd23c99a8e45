"""Reading test outputs without leaving files open (the suite turns ResourceWarning into an error)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def pixels(path: str | Path, mode: str | None = None) -> np.ndarray:
    """The image at ``path`` as an array, converted to ``mode`` when given; the file is closed again."""
    with Image.open(path) as image:
        return np.array(image.convert(mode) if mode else image)


def opened(path: str | Path) -> Image.Image:
    """A loaded copy of the image at ``path`` (mode, size and palette kept); the file is closed again."""
    with Image.open(path) as image:
        return image.copy()
