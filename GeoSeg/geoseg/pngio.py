"""Writing PNG files atomically (a temporary file beside the target, then a rename), label maps in colour."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from sessrs.datasets import DatasetSpec


def save_png_atomic(path: str | Path, image: Image.Image) -> None:
    """Save ``image`` as ``path`` so that readers never see a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            image.save(stream, format="PNG")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def labels_to_rgb(labels: np.ndarray, spec: DatasetSpec) -> np.ndarray:
    """Colour a label map with the dataset palette (values outside it become black)."""
    palette = np.zeros((256, 3), dtype=np.uint8)
    palette[: len(spec.palette)] = np.array(spec.palette, dtype=np.uint8)
    return palette[np.asarray(labels, dtype=np.uint8)]


def write_rgb_png(path: str | Path, labels: np.ndarray, spec: DatasetSpec) -> None:
    """Write the coloured label map as an RGB PNG, atomically."""
    save_png_atomic(path, Image.fromarray(labels_to_rgb(labels, spec), mode="RGB"))
