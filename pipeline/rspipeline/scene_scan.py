"""One read of the whole scene, window by window, before any tile runs: what can be known up front.

It finds the stretch of 16-bit and float bands (the percentiles of a regular sample of the pixels with data),
which tiles hold any pixel with data (the others are skipped), and refuses a prediction raster with a value
outside the classes (its declared nodata aside), naming the window, before any work is done.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rasterio.io import DatasetReader
from rasterio.windows import Window
from tqdm import tqdm

from rscommon.datasets import DatasetSpec

from .raster import (
    DECLARED,
    ClassNodata,
    Ranges,
    check_class_values,
    class_valid,
    needs_stretch,
    ranges_of_sample,
    read_valid,
    sample_step,
)
from .tiling import Tile, overlapping

SCAN_ROWS, SCAN_COLS = 512, 4096


@dataclass(frozen=True)
class SceneScan:
    """What the scan found: the stretch (``None`` for 8-bit bands), the tiles with data, the pixels without."""

    ranges: Ranges | None
    live: frozenset[str]
    nodata_pixels: int


def scan_windows(height: int, width: int) -> list[Window]:
    """Windows of at most SCAN_ROWS x SCAN_COLS covering the scene, row by row."""
    return [
        Window(col, row, min(SCAN_COLS, width - col), min(SCAN_ROWS, height - row))
        for row in range(0, height, SCAN_ROWS)
        for col in range(0, width, SCAN_COLS)
    ]


def scan_scene(
    image: DatasetReader,
    bands: Sequence[int],
    nodata: float | None,
    pred: DatasetReader | None,
    tiles: Sequence[Tile],
    spec: DatasetSpec,
    pred_nodata: ClassNodata = DECLARED,
) -> SceneScan:
    """Read the scene once (see the module's docstring); ``pred_nodata`` says which prediction pixels hold no data."""
    stretch = needs_stretch(image, bands)
    step = sample_step(image)
    live: set[str] = set()
    samples, nodata_pixels = [], 0
    for window in tqdm(scan_windows(image.height, image.width), desc="scan", unit="window", leave=False, disable=None):
        data = image.read(list(bands), window=window) if stretch or nodata is not None else None
        valid = read_valid(image, bands, window, nodata, data)
        if pred is not None:
            values = pred.read(1, window=window)
            has_class = class_valid(pred, window, values, pred_nodata)
            check_class_values(pred.name, values[has_class], window, spec)
            valid &= has_class
        nodata_pixels += int(valid.size - valid.sum())
        if stretch:
            rows = slice(-window.row_off % step, None, step)
            cols = slice(-window.col_off % step, None, step)
            samples.append(data[:, rows, cols][:, valid[rows, cols]].T)
        live.update(_tiles_with_data(tiles, window, valid, live))
    ranges = ranges_of_sample(np.concatenate(samples)) if stretch else None
    return SceneScan(ranges, frozenset(live), nodata_pixels)


def _tiles_with_data(tiles: Sequence[Tile], window: Window, valid: np.ndarray, known: set[str]) -> list[str]:
    """The tiles not yet ``known`` to hold data whose part of ``window`` has a pixel with data."""
    return [
        tile.name
        for tile, _, in_window in overlapping([t for t in tiles if t.name not in known], window)
        if valid[in_window].any()
    ]
