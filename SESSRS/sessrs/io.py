"""Reading and writing label maps and SAM object lists, with clear errors and atomic writes."""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .datasets import DatasetSpec
from .rle import RLEError, rle_counts


class InputError(ValueError):
    """An input file is missing, malformed or inconsistent; the message names the file."""


def read_label_png(path: str | Path, spec: DatasetSpec | None = None) -> np.ndarray:
    """Read a label map as an H x W uint8 array of class indices.

    P-mode and greyscale PNGs are read as indices. An RGB PNG is mapped through ``spec``'s palette;
    a colour outside the palette is an error.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        with Image.open(path) as image:
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


def _atomic_target(path: Path) -> tuple[int, str]:
    """A temporary file beside ``path`` (readable like a normally created file) to rename into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.chmod(temporary, 0o644)
    return handle, temporary


def write_label_png(path: str | Path, labels: np.ndarray, spec: DatasetSpec) -> None:
    """Write class indices as a P-mode PNG with the dataset palette, atomically."""
    image = Image.fromarray(np.asarray(labels, dtype=np.uint8), mode="P")
    image.putpalette(spec.flat_palette())
    save_png_atomic(path, image)


def save_png_atomic(path: str | Path, image: Image.Image) -> None:
    """Save ``image`` as a PNG under a temporary name beside ``path``, then rename it into place."""
    path = Path(path)
    handle, temporary = _atomic_target(path)
    try:
        with os.fdopen(handle, "wb") as stream:
            image.save(stream, format="PNG")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write text to a temporary file beside ``path`` and rename it into place."""
    path = Path(path)
    handle, temporary = _atomic_target(path)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Write JSON atomically (indent 1, keys in insertion order); NaN, which JSON lacks, becomes null."""
    write_text_atomic(path, json.dumps(_json_ready(data), indent=1, allow_nan=False) + "\n")


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(item) for item in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def read_json(path: str | Path) -> Any:
    """Parse a JSON file, naming the file and the position on a syntax error."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: malformed JSON ({error})") from error


def read_objects(path: str | Path, shape: tuple[int, int] | None = None) -> list[dict]:
    """Read and validate a SAM object list: ``[{"rles": {"size": [H, W], "counts": str}, "area": int}, ...]``.

    Every RLE must decode to runs covering exactly H x W pixels, have ``size == shape`` (when given) and
    a pixel count equal to ``area``.
    Objects with an empty mask are dropped: they can take no class and never change a refinement.
    """
    data = read_json(path)
    return validate_objects(data, path, shape)


def validate_objects(data: Any, path: str | Path, shape: tuple[int, int] | None = None) -> list[dict]:
    """Validate a parsed SAM object list (see :func:`read_objects`); returns the non-empty objects."""
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a JSON list of objects, found {type(data).__name__}")
    objects = []
    for index, item in enumerate(data):
        where = f"{path}: object {index}"
        if not isinstance(item, dict) or not isinstance(item.get("rles"), dict) or "area" not in item:
            raise InputError(f"{where}: expected {{'rles': {{'size', 'counts'}}, 'area'}}")
        rle = item["rles"]
        size, counts, area = rle.get("size"), rle.get("counts"), item["area"]
        if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)):
            raise InputError(f"{where}: RLE size {size!r} is not [H, W]")
        if shape is not None and tuple(size) != tuple(shape):
            raise InputError(f"{where}: RLE size {size} differs from the prediction's {list(shape)}")
        if not isinstance(counts, str):
            raise InputError(f"{where}: RLE counts must be a COCO compressed string")
        if not isinstance(area, (int, float)) or area < 0 or area != int(area):
            raise InputError(f"{where}: area {area!r} is not a non-negative integer")
        try:
            decoded_area = int(rle_counts(counts, size)[1::2].sum())
        except (RLEError, UnicodeEncodeError) as error:
            raise InputError(f"{where}: malformed RLE ({error})") from error
        if decoded_area != int(area):
            raise InputError(f"{where}: area field {area} differs from the decoded pixel count {decoded_area}")
        if decoded_area == 0:
            continue
        objects.append({"rles": {"size": list(size), "counts": counts}, "area": int(area)})
    return objects

