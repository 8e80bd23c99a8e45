"""Tiles joined along objects, not along straight cut lines.

A tile's refinement changes the prediction only inside objects. Each connected group of changed pixels (a
*change*) is kept whole by the one tile in whose core its centre of mass lies, provided it does not touch that
tile's inner border (then the tile saw all of it): it is pasted whole into the output, across the core's edge.
A change that touches the tile's inner border was cut by the tile's window; it is kept only inside the tile's
core, as a plain core cut would, and a whole change of a neighbour overrides it. Everything else is the
prediction. So an object crossing a core edge is refined by one tile, as one object, and no straight cut runs
through the refined scene where objects are smaller than the overlap.

A tile's part (:func:`tile_claims`) is its window's array of claimed classes: the class for a whole change,
the class plus :data:`CORE_ONLY` for a change kept in the core, :data:`NONE` elsewhere.
"""
from __future__ import annotations

import numpy as np
from rasterio.windows import Window
from scipy import ndimage

from .tiling import Tile, overlapping

NONE = 255
CORE_ONLY = 128


def tile_claims(refined: np.ndarray, pred: np.ndarray, valid: np.ndarray, tile: Tile, height: int,
                width: int) -> np.ndarray:
    """The part of a tile (see the module's docstring) from its refinement and prediction on its window."""
    changed = (refined != pred) & valid
    claims = np.full(refined.shape, NONE, np.uint8)
    if not changed.any():
        return claims
    components, count = ndimage.label(changed)
    inner = np.zeros_like(changed)
    inner[0, :] |= tile.rows.start > 0
    inner[-1, :] |= tile.rows.stop < height
    inner[:, 0] |= tile.cols.start > 0
    inner[:, -1] |= tile.cols.stop < width
    touches = np.zeros(count + 1, bool)
    touches[components[inner & changed]] = True
    rows, cols = np.nonzero(changed)
    ids = components[rows, cols]
    sizes = np.bincount(ids, minlength=count + 1).clip(1)
    centre_row = np.bincount(ids, rows, count + 1) / sizes + tile.rows.start
    centre_col = np.bincount(ids, cols, count + 1) / sizes + tile.cols.start
    owned = ((tile.rows.core_start <= centre_row) & (centre_row < tile.rows.core_stop)
             & (tile.cols.core_start <= centre_col) & (centre_col < tile.cols.core_stop))
    whole = (owned & ~touches)[components] & changed
    claims[whole] = refined[whole]
    in_core = np.zeros_like(changed)
    in_core[tile.core_in_tile] = True
    cut = touches[components] & changed & in_core
    claims[cut] = refined[cut] + CORE_ONLY
    return claims


def stitch(base: np.ndarray, window: Window, parts: list[tuple[Tile, np.ndarray]]) -> np.ndarray:
    """``base`` (the prediction inside ``window``) with the tiles' claims pasted: the changes kept in a core
    first, then the whole changes."""
    out = base.copy()
    placed = overlapping([tile for tile, _ in parts], window)
    arrays = {tile.name: part for tile, part in parts}
    for whole in (False, True):
        for tile, in_tile, in_window in placed:
            part = arrays[tile.name][in_tile]
            chosen = part < CORE_ONLY if whole else (part >= CORE_ONLY) & (part != NONE)
            out[in_window][chosen] = part[chosen] - (0 if whole else CORE_ONLY)
    return out
