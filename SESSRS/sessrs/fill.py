"""Fill the regions of one class from their surroundings (pass 6.3 of docs/algorithm.md, "Step 6: painting")."""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

MARK = 255
_KERNEL = np.ones((3, 3), np.uint8)


def fill_class(pred: np.ndarray, cls: int, neighbourhood: bool = False, nodata: int | None = None) -> np.ndarray:
    """Return ``pred`` where every 4-connected region of ``cls`` takes the majority value around it.

    Regions (4-connected, labelled in raster order of their first pixel) are taken in label order. A region
    sees a window: its bounding box (the reference), or with ``neighbourhood`` its box grown by one pixel on
    every side within the image, so that it sees all its 8-neighbours. Its border pixels are the region pixels
    with an 8-neighbour inside the window outside the region; the values gathered are those 8-neighbours of
    border pixels that are not (still unfilled) ``cls`` pixels, counted once per border pixel that sees them.
    The most frequent value wins (smallest on a tie); with nothing gathered the region keeps ``cls``. So in the
    reference's window a region that fills its box is never filled (quirk 5, see docs/algorithm.md, "Quirks of
    the reference and the improved mode", and its picture docs/figures/quirk_fill_window.png).

    ``nodata``: a value marking pixels without data (a whole scene's collar, say). It is never gathered, so no
    region takes it: a region seeing only such pixels keeps ``cls``.
    """
    values = pred.astype(np.uint8, copy=True)
    marked = values == cls
    values[marked] = MARK
    _, labels = cv2.connectedComponents(marked.view(np.uint8), connectivity=4)
    areas = np.bincount(labels.ravel())
    height, width = pred.shape
    for number, box in enumerate(ndimage.find_objects(labels), start=1):
        if neighbourhood:
            box = (
                slice(max(box[0].start - 1, 0), min(box[0].stop + 1, height)),
                slice(max(box[1].start - 1, 0), min(box[1].stop + 1, width)),
            )
        if areas[number] == (box[0].stop - box[0].start) * (box[1].stop - box[1].start):
            values[box] = cls
            continue
        region = labels[box] == number
        window = values[box]
        window[region] = _majority_around(region, window, cls, nodata)
    return values


def _majority_around(region: np.ndarray, window: np.ndarray, cls: int, nodata: int | None) -> int:
    outside = ~region
    near_outside = cv2.dilate(outside.view(np.uint8), _KERNEL, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    border = (region & (near_outside > 0)).astype(np.float32)
    seen = cv2.filter2D(border, -1, _KERNEL.astype(np.float32), borderType=cv2.BORDER_CONSTANT)
    gathered = window != MARK
    if nodata is not None:
        gathered &= window != nodata
    weights = seen[gathered]
    if not weights.any():
        return cls
    histogram = np.bincount(window[gathered], weights=weights)
    return int(np.argmax(histogram))
