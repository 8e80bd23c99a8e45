"""How much a tiled result changes class across the tiles' core cut lines, against the lines beside them.

For each cut line (the edge between two neighbouring cores), the pixels whose class differs from the pixel across
the line are counted, and compared with the same count on the ``neighbours`` lines on either side. A ratio near
1 means the cuts are invisible; straight seams give ratios of 5 to 15. :func:`cut_at_cores` is the plain join
(each tile's own result inside its core) that a seamless join is compared with.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .scene_output import NODATA
from .tiling import Tile


def changes_across(labels: np.ndarray, line: int) -> int:
    """Pixels whose class differs across the horizontal line between rows ``line - 1`` and ``line``."""
    above, below = labels[line - 1], labels[line]
    return int(((above != below) & (above != NODATA) & (below != NODATA)).sum())


def seam_ratio(labels: np.ndarray, tiles: list[Tile], neighbours: int = 20) -> float:
    """Mean changes across the cut lines over mean changes across the lines within ``neighbours`` of them."""
    ratios = []
    for array, cuts in ((labels, {t.rows.core_start for t in tiles}), (labels.T, {t.cols.core_start for t in tiles})):
        cuts.discard(0)
        for cut in sorted(cuts):
            beside = [
                line
                for offset in range(1, neighbours + 1)
                for line in (cut - offset, cut + offset)
                if 0 < line < array.shape[0] and line not in cuts
            ]
            ratios.append((changes_across(array, cut), np.mean([changes_across(array, line) for line in beside])))
    at_cuts, nearby = np.array(ratios, dtype=np.float64).sum(axis=0)
    return float(at_cuts / max(nearby, 1e-9))


def cut_at_cores(tiles: Sequence[Tile], result: Callable[[Tile], np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Plain core cutting: each tile's ``result`` (an array of its window) inside the tile's core."""
    joined = np.full(shape, NODATA, np.uint8)
    for tile in tiles:
        joined[tile.core_in_scene] = result(tile)[tile.core_in_tile]
    return joined
