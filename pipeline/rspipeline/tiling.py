"""Overlapping tiles over a scene, and which tile owns each output pixel.

Tiles are ``tile`` x ``tile`` windows placed every ``tile - overlap`` pixels; the last tile of a row or column
is moved back so that it ends at the scene's edge (so every tile is full-sized when the scene is at least one
tile large). Neighbouring tiles therefore share at least ``overlap`` pixels. Each tile *owns* its **core**: the
tile minus half of the shared band on every inner edge (the cut lies at the middle of the band, rounded down),
the whole tile on the scene's outer edges. The cores cover the scene exactly once, so every output pixel comes
from exactly one tile, the one in whose core it lies, far from that tile's borders.
"""

from __future__ import annotations

from dataclasses import dataclass

from rasterio.windows import Window

from rscommon.files import InputError

MIN_TILE = 64
MAX_TILES = 10_000


@dataclass(frozen=True)
class Span:
    """One tile's extent along one axis: ``[start, stop)`` read, ``[core_start, core_stop)`` owned."""

    start: int
    stop: int
    core_start: int
    core_stop: int


@dataclass(frozen=True)
class Tile:
    """A tile at (``row``, ``col``) of the tile grid: the window read and the core window it owns."""

    row: int
    col: int
    rows: Span
    cols: Span

    @property
    def name(self) -> str:
        return f"r{self.row:03d}_c{self.col:03d}"

    @property
    def window(self) -> Window:
        """The window read (scene pixel coordinates)."""
        return Window(
            self.cols.start, self.rows.start, self.cols.stop - self.cols.start, self.rows.stop - self.rows.start
        )

    @property
    def core_window(self) -> Window:
        """The window owned and written (scene pixel coordinates)."""
        return Window(
            self.cols.core_start,
            self.rows.core_start,
            self.cols.core_stop - self.cols.core_start,
            self.rows.core_stop - self.rows.core_start,
        )

    @property
    def core_in_scene(self) -> tuple[slice, slice]:
        """Row and column slices of the core in an array of the whole scene."""
        return slice(self.rows.core_start, self.rows.core_stop), slice(self.cols.core_start, self.cols.core_stop)

    @property
    def core_in_tile(self) -> tuple[slice, slice]:
        """Row and column slices of the core inside an array of the tile's window."""
        return (
            slice(self.rows.core_start - self.rows.start, self.rows.core_stop - self.rows.start),
            slice(self.cols.core_start - self.cols.start, self.cols.core_stop - self.cols.start),
        )


def axis_spans(size: int, tile: int, overlap: int) -> list[Span]:
    """The spans of the tiles along an axis of ``size`` pixels (see the module's docstring)."""
    if tile < 1 or not 0 <= overlap < tile:
        raise InputError(f"tile {tile} and overlap {overlap}: need tile >= 1 and 0 <= overlap < tile")
    if size <= tile:
        return [Span(0, size, 0, size)]
    stride = tile - overlap
    count = -(-(size - overlap) // stride)  # ceil: enough tiles to reach the edge
    starts = [min(index * stride, size - tile) for index in range(count)]
    cuts = [0] + [(starts[i + 1] + starts[i] + tile) // 2 for i in range(count - 1)] + [size]
    return [Span(start, start + tile, cuts[i], cuts[i + 1]) for i, start in enumerate(starts)]


def tile_grid(height: int, width: int, tile: int, overlap: int) -> list[Tile]:
    """Every tile of a ``height`` x ``width`` scene, row by row."""
    return [
        Tile(row, col, rows, cols)
        for row, rows in enumerate(axis_spans(height, tile, overlap))
        for col, cols in enumerate(axis_spans(width, tile, overlap))
    ]


def checked_tile_grid(height: int, width: int, tile: int, overlap: int, max_tiles: int = MAX_TILES) -> list[Tile]:
    """:func:`tile_grid`, refused up front when the tile is smaller than MIN_TILE or the tiles more than
    ``max_tiles``."""
    if tile < MIN_TILE:
        raise InputError(f"--tile {tile}: tiles are at least {MIN_TILE} pixels a side")
    rows, cols = len(axis_spans(height, tile, overlap)), len(axis_spans(width, tile, overlap))
    if rows * cols > max_tiles:
        raise InputError(
            f"--tile {tile} --overlap {overlap}: {rows} x {cols} = {rows * cols} tiles for this "
            f"{width} x {height} scene, more than {max_tiles}; use larger tiles or raise --max-tiles"
        )
    return tile_grid(height, width, tile, overlap)


def overlapping(tiles: list[Tile], window: Window) -> list[tuple[Tile, tuple[slice, slice], tuple[slice, slice]]]:
    """The tiles whose window meets ``window``, each with the shared pixels as slices of the tile's array and as
    slices of ``window``'s array."""
    found = []
    row0, col0 = int(window.row_off), int(window.col_off)
    row1, col1 = row0 + int(window.height), col0 + int(window.width)
    for tile in tiles:
        top, bottom = max(tile.rows.start, row0), min(tile.rows.stop, row1)
        left, right = max(tile.cols.start, col0), min(tile.cols.stop, col1)
        if bottom > top and right > left:
            found.append(
                (
                    tile,
                    (
                        slice(top - tile.rows.start, bottom - tile.rows.start),
                        slice(left - tile.cols.start, right - tile.cols.start),
                    ),
                    (slice(top - row0, bottom - row0), slice(left - col0, right - col0)),
                )
            )
    return found


def strips(height: int, width: int, rows: int) -> list[Window]:
    """Full-width windows of ``rows`` rows (the last one shorter) covering the scene top to bottom."""
    return [Window(0, row, width, min(rows, height - row)) for row in range(0, height, rows)]
