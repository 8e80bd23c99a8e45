"""A network's tiles blended into one prediction: class scores averaged over the overlaps, as tiled inference does.

Each tile's class probabilities are weighted by a ramp that rises from the tile's inner borders over the
overlap (flat 1 inside, and up to the scene's outer edges), so a tile's unreliable border counts least, and the
prediction of a pixel is the class of highest weighted mean score over every tile that covers it. The weights
change smoothly across the overlap, so no cut line shows in the prediction.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from rasterio.windows import Window

from .scene_output import NODATA
from .tiling import Span, Tile, overlapping


def axis_weights(span: Span, size: int, overlap: int) -> np.ndarray:
    """The ramp of one tile along one axis: (distance to an inner border + 1) / (overlap + 1), at most 1."""
    position = np.arange(span.stop - span.start, dtype=np.float64)
    low = position + 1 if span.start > 0 else np.inf
    high = (span.stop - span.start) - position if span.stop < size else np.inf
    return np.minimum(1.0, np.minimum(low, high) / (overlap + 1)).astype(np.float32)


def tile_weights(tile: Tile, height: int, width: int, overlap: int) -> np.ndarray:
    """The H x W weights of a tile's scores (the product of its two axis ramps)."""
    return np.outer(axis_weights(tile.rows, height, overlap), axis_weights(tile.cols, width, overlap))


def blend_window(
    window: Window, tiles: list[Tile], scores: Callable[[Tile], np.ndarray], height: int, width: int, overlap: int
) -> np.ndarray:
    """The blended classes inside ``window`` (uint8; :data:`NODATA` where no tile has scores). ``scores`` gives a
    tile's C x H x W probabilities (a memory map: only the slices used are read)."""
    total: np.ndarray | None = None
    weight = np.zeros((int(window.height), int(window.width)), np.float32)
    for tile, in_tile, in_window in overlapping(tiles, window):
        tile_scores = scores(tile)
        if total is None:
            total = np.zeros((tile_scores.shape[0], *weight.shape), np.float32)
        ramp = tile_weights(tile, height, width, overlap)[in_tile]
        total[(slice(None), *in_window)] += tile_scores[(slice(None), *in_tile)] * ramp
        weight[in_window] += ramp
    if total is None:
        return np.full(weight.shape, NODATA, np.uint8)
    return np.where(weight > 0, total.argmax(axis=0), NODATA).astype(np.uint8)
