"""Object lists as the SAM stage writes them and the refinement reads them: ``[{"rles": {"size": [H, W],
"counts": str}, "area": int}, ...]`` in COCO compressed RLE."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pycocotools.mask as mask_utils

from .files import InputError, read_json
from .limits import MAX_OBJECTS_ENV, max_objects_per_image
from .rle import RLEError, rle_counts, rle_pixels


def read_objects(path: str | Path, shape: tuple[int, int] | None = None, max_objects: int | None = None) -> list[dict]:
    """Read and validate a SAM object list: ``[{"rles": {"size": [H, W], "counts": str}, "area": int}, ...]``.

    A list of more than ``max_objects`` objects (default :func:`rscommon.limits.max_objects_per_image`) is refused
    while it is parsed, before any mask is decoded. Every RLE must decode to runs covering exactly H x W pixels,
    have ``size == shape`` (when given) and a pixel count equal to ``area``.
    Objects with an empty mask are dropped: they can take no class and never change a refinement.
    """
    data = read_json(path, _ObjectCounter(path, max_objects_per_image(max_objects)))
    return validate_objects(data, path, shape)


class _ObjectCounter:
    """A JSON object hook counting the objects (``{"rles": ...}``) parsed; past the limit it stops the parse."""

    def __init__(self, path: str | Path, limit: int) -> None:
        self.path, self.limit, self.count = path, limit, 0

    def __call__(self, item: dict) -> dict:
        if "rles" in item:
            self.count += 1
            if self.count > self.limit:
                raise InputError(
                    f"{self.path}: more than {self.limit:,} objects in one image (raise the limit with "
                    f"${MAX_OBJECTS_ENV} if they are real)"
                )
        return item


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
        if not (
            isinstance(size, (list, tuple))
            and len(size) == 2
            and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in size)
        ):
            raise InputError(f"{where}: RLE size {size!r} is not [H, W]")
        if shape is not None and tuple(size) != tuple(shape):
            raise InputError(f"{where}: RLE size {size} differs from the prediction's {list(shape)}")
        if not isinstance(counts, str):
            raise InputError(f"{where}: RLE counts must be a COCO compressed string")
        if (
            isinstance(area, bool)
            or not isinstance(area, (int, float, np.integer, np.floating))
            or not math.isfinite(area)
            or area < 0
            or area != int(area)
        ):
            raise InputError(f"{where}: area {area!r} is not a non-negative integer")
        try:
            decoded_area = int(rle_counts(counts, size)[1::2].sum())
        except (RLEError, UnicodeEncodeError) as error:
            raise InputError(f"{where}: malformed RLE ({error})") from error
        if decoded_area != int(area):
            raise InputError(f"{where}: area field {area} differs from the decoded pixel count {decoded_area}")
        if decoded_area == 0:
            continue
        objects.append({"rles": {"size": [int(v) for v in size], "counts": counts}, "area": int(area)})
    return objects


def encode_object(mask: np.ndarray) -> dict:
    """The record of one boolean H x W mask: ``{"rles": {"size": [H, W], "counts": str}, "area": int}``."""
    if mask.ndim != 2:
        raise ValueError(f"an object mask must be H x W, got shape {mask.shape}")
    rle = mask_utils.encode(np.asfortranarray(mask, dtype=np.uint8))
    return object_record(rle)


def object_record(rle: dict[str, Any]) -> dict:
    """The record of a COCO RLE as pycocotools or a mask generator gives it (``counts`` bytes or str)."""
    counts = rle["counts"]
    counts = counts.decode("ascii") if isinstance(counts, bytes) else str(counts)
    size = [int(v) for v in rle["size"]]
    return {"rles": {"size": size, "counts": counts}, "area": int(rle_counts(counts, size)[1::2].sum())}


def decode_masks(objects: list[dict], shape: tuple[int, int]) -> np.ndarray:
    """H x W x N boolean masks of validated records (N may be 0), decoded by :mod:`rscommon.rle`."""
    masks = np.zeros((len(objects), shape[1] * shape[0]), bool)
    for index, record in enumerate(objects):
        masks[index, rle_pixels(record["rles"]["counts"], record["rles"]["size"])] = True
    return masks.reshape(len(objects), shape[1], shape[0]).transpose(2, 1, 0)
