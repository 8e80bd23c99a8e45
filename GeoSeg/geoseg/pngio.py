"""Label maps in colour, written atomically."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from sessrs.datasets import DatasetSpec
from sessrs.io import save_png_atomic


def labels_to_rgb(labels: np.ndarray, spec: DatasetSpec) -> np.ndarray:
    """Colour a label map with the dataset palette (values outside it become black)."""
    palette = np.zeros((256, 3), dtype=np.uint8)
    palette[: len(spec.palette)] = np.array(spec.palette, dtype=np.uint8)
    return palette[np.asarray(labels, dtype=np.uint8)]


def write_rgb_png(path: str | Path, labels: np.ndarray, spec: DatasetSpec) -> None:
    """Write the coloured label map as an RGB PNG, atomically."""
    save_png_atomic(path, Image.fromarray(labels_to_rgb(labels, spec), mode="RGB"))
