"""Pictures of object masks: a coloured overlay (deterministic colours) and a blend with the image.

Objects are painted one by one into one H x W canvas of ranks (larger objects first, smaller ones over them), so
drawing takes the memory of one image whatever the number of objects; each pixel takes one object's colour.
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence

import numpy as np

from .files import InputError
from .rle import rle_pixels

_GOLDEN_RATIO_FRACTION = 0.6180339887498949
NOT_COVERED = -1


def object_colour(rank: int) -> tuple[int, int, int]:
    """A fixed RGB colour for the object of a given rank; hues step by the golden ratio so neighbours differ."""
    hue = (rank * _GOLDEN_RATIO_FRACTION) % 1.0
    return tuple(round(channel * 255) for channel in colorsys.hsv_to_rgb(hue, 0.75, 0.95))


def drawing_order(areas: Sequence[int] | np.ndarray) -> np.ndarray:
    """The indices of objects of the given areas in the order they are painted: largest first, ties by index."""
    return np.argsort(-np.asarray(areas, dtype=np.int64), kind="stable")


def colour_ranks(ranks: np.ndarray) -> np.ndarray:
    """An H x W x 3 uint8 overlay of a canvas of ranks: rank r in :func:`object_colour` (r), uncovered black."""
    palette = np.array(
        [(0, 0, 0), *(object_colour(rank) for rank in range(int(ranks.max(initial=-1)) + 1))], dtype=np.uint8
    )
    return palette[ranks + 1]


def rank_masks(masks: np.ndarray) -> np.ndarray:
    """The H x W canvas of ranks (:data:`NOT_COVERED` where no object is) of H x W x N masks."""
    ranks = np.full(masks.shape[:2], NOT_COVERED, dtype=np.int32)
    for rank, index in enumerate(drawing_order(masks.sum(axis=(0, 1), dtype=np.int64))):
        ranks[masks[:, :, index].astype(bool)] = rank
    return ranks


def rank_records(objects: Sequence[dict], shape: tuple[int, int]) -> np.ndarray:
    """The H x W canvas of ranks of validated object records (see :mod:`rscommon.objects`), painted record by
    record from their runs: no mask is ever decoded."""
    height, width = shape
    ranks = np.full(width * height, NOT_COVERED, dtype=np.int32)  # column-major, as the runs index pixels
    for rank, index in enumerate(drawing_order([record["area"] for record in objects])):
        rle = objects[index]["rles"]
        ranks[rle_pixels(rle["counts"], rle["size"])] = rank
    return ranks.reshape(width, height).T


def render_objects(masks: np.ndarray) -> np.ndarray:
    """An H x W x 3 uint8 overlay of H x W x N masks: larger objects first, smaller ones painted over them.

    Pixels covered by no object stay black; each pixel takes exactly one object's colour (no summing).
    """
    return colour_ranks(rank_masks(masks))


def blend(image: np.ndarray, overlay: np.ndarray, covered: np.ndarray, alpha: float) -> np.ndarray:
    """``(1 - alpha) * image + alpha * overlay`` where ``covered``, the image elsewhere; computed in float, clipped."""
    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"alpha must be in [0, 1], got {alpha}")
    mixed = (1.0 - alpha) * image.astype(np.float32) + alpha * overlay.astype(np.float32)
    mixed = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    return np.where(covered[:, :, None], mixed, image)
