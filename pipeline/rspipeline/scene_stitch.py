"""Tiles joined along the refinement's changes, never along straight cut lines.

A tile's refinement changes the prediction only inside objects. Each connected group of changed pixels (a
*change*) is kept by exactly one tile that saw all of it, its *holder*, and pasted whole into the output, across
any core edge: along each axis, among the tiles whose window holds the change's bounding box clear of their inner
borders, the one whose core holds the box's centre (else the nearest core). The holder depends only on the
change's bounding box and the tiling, so every tile that sees the change whole names the same holder, and a tile
that sees it cut by its window (touching an inner border) never holds it. A change that no window can hold is
left as predicted: it was made from a cut view of its objects and would end in a straight seam (a larger
``--tile`` or ``--overlap`` holds larger changes). So no cut line runs through the refined scene.

A tile's part (:func:`tile_claims`) is its window's array of claimed classes: the class for a change it holds,
:data:`NONE` elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rasterio.windows import Window
from scipy import ndimage

from .tiling import Span, Tile, overlapping

NONE = 255


def holder(start: int, stop: int, spans: Sequence[Span], size: int) -> int | None:
    """Along one axis of ``size`` pixels, the index of the span that holds the extent ``[start, stop)``: among
    the spans holding it clear of their inner borders, the one whose core holds its centre, else the nearest
    core (the first on a tie); None when no span holds it."""
    centre = (start + stop - 1) / 2
    distances = [
        (max(span.core_start - centre, centre - (span.core_stop - 1), 0.0), index)
        for index, span in enumerate(spans)
        if (span.start == 0 or start > span.start) and (span.stop == size or stop < span.stop)
    ]
    return min(distances)[1] if distances else None


def tile_claims(
    refined: np.ndarray, pred: np.ndarray, valid: np.ndarray, tile: Tile, rows: Sequence[Span], cols: Sequence[Span]
) -> np.ndarray:
    """The part of ``tile`` (see the module's docstring) from its refinement and prediction on its window;
    ``rows`` and ``cols`` are the tiling's spans along each axis."""
    changed = (refined != pred) & valid
    claims = np.full(refined.shape, NONE, np.uint8)
    if not changed.any():
        return claims
    components, _ = ndimage.label(changed)
    height, width = rows[-1].stop, cols[-1].stop
    for label, (row_slice, col_slice) in enumerate(ndimage.find_objects(components), start=1):
        row = holder(row_slice.start + tile.rows.start, row_slice.stop + tile.rows.start, rows, height)
        col = holder(col_slice.start + tile.cols.start, col_slice.stop + tile.cols.start, cols, width)
        if (row, col) == (tile.row, tile.col):
            kept = components[row_slice, col_slice] == label
            claims[row_slice, col_slice][kept] = refined[row_slice, col_slice][kept]
    return claims


def stitch(base: np.ndarray, window: Window, parts: list[tuple[Tile, np.ndarray]]) -> np.ndarray:
    """``base`` (the prediction inside ``window``) with the tiles' claims pasted (in the tiles' order)."""
    out = base.copy()
    arrays = {tile.name: part for tile, part in parts}
    for tile, in_tile, in_window in overlapping([tile for tile, _ in parts], window):
        part = arrays[tile.name][in_tile]
        chosen = part != NONE
        out[in_window][chosen] = part[chosen]
    return out
