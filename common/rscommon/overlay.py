"""Pictures of object masks: a coloured overlay (deterministic colours) and a blend with the image."""
from __future__ import annotations

import colorsys

import numpy as np
from .files import InputError

_GOLDEN_RATIO_FRACTION = 0.6180339887498949


def object_colour(rank: int) -> tuple[int, int, int]:
    """A fixed RGB colour for the object of a given rank; hues step by the golden ratio so neighbours differ."""
    hue = (rank * _GOLDEN_RATIO_FRACTION) % 1.0
    return tuple(round(channel * 255) for channel in colorsys.hsv_to_rgb(hue, 0.75, 0.95))


def render_objects(masks: np.ndarray) -> np.ndarray:
    """An H x W x 3 uint8 overlay of H x W x N masks: larger objects first, smaller ones painted over them.

    Pixels covered by no object stay black; each pixel takes exactly one object's colour (no summing).
    """
    overlay = np.zeros((*masks.shape[:2], 3), dtype=np.uint8)
    areas = masks.sum(axis=(0, 1), dtype=np.int64)
    for rank, index in enumerate(np.argsort(-areas, kind="stable")):
        overlay[masks[:, :, index].astype(bool)] = object_colour(rank)
    return overlay


def blend(image: np.ndarray, overlay: np.ndarray, covered: np.ndarray, alpha: float) -> np.ndarray:
    """``(1 - alpha) * image + alpha * overlay`` where ``covered``, the image elsewhere; computed in float, clipped."""
    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"alpha must be in [0, 1], got {alpha}")
    mixed = (1.0 - alpha) * image.astype(np.float32) + alpha * overlay.astype(np.float32)
    mixed = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    return np.where(covered[:, :, None], mixed, image)
