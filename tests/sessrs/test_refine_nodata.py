"""``sessrs.refine(..., nodata=N)``: the class marking pixels without data is never given to another pixel, over
random predictions, collars and objects (objects cut to the pixels with data, as the scene command cuts them)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rscommon.files import InputError
from sessrs import RefineOptions, Thresholds, refine

CLASSES = 4
NODATA = CLASSES
ALL = {str(c): 0.3 for c in range(CLASSES)}


@st.composite
def scenes(draw: st.DrawFn) -> tuple[np.ndarray, list[np.ndarray]]:
    """A blocky prediction with a collar (class NODATA) along a random wavy edge and a hole, and rectangle
    objects cut to the pixels with data."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    size = draw(st.integers(24, 48))
    pred = np.repeat(np.repeat(rng.integers(0, CLASSES, (size // 4 + 1,) * 2), 4, 0), 4, 1)[:size, :size]
    rows, cols = np.mgrid[:size, :size]
    depth, amplitude = draw(st.integers(2, size // 3)), draw(st.integers(0, 4))
    collar = cols < depth + amplitude * np.sin(rows / draw(st.integers(2, 9)))
    centre = draw(st.integers(0, size - 1)), draw(st.integers(0, size - 1))
    collar |= (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 < draw(st.integers(0, 40))
    pred = np.where(collar, NODATA, pred).astype(np.uint8)
    masks = []
    for _ in range(draw(st.integers(1, 12))):
        top, left = rng.integers(0, size, 2)
        mask = np.zeros((size, size), bool)
        mask[top : top + rng.integers(3, 16), left : left + rng.integers(3, 16)] = True
        if (mask & ~collar).any():
            masks.append(mask & ~collar)
    return pred, masks


@settings(max_examples=80, deadline=None)
@given(scene=scenes(), improved=st.booleans(), order=st.permutations(range(CLASSES)))
def test_no_pixel_with_data_takes_the_nodata_class(scene, improved: bool, order: list[int]) -> None:
    pred, masks = scene
    thresholds = Thresholds(t1=ALL, t2=ALL, modify=list(order))
    options = RefineOptions.improved() if improved else RefineOptions.faithful()
    refined = refine(pred, masks, thresholds, num_classes=CLASSES + 1, options=options, nodata=NODATA)
    assert np.array_equal(refined == NODATA, pred == NODATA)


def test_the_nodata_class_cannot_be_refined() -> None:
    thresholds = Thresholds(t1={"1": 0.5}, t2={"1": 0.5}, modify=[1])
    with pytest.raises(InputError, match="nodata class 1 cannot be refined"):
        refine(np.zeros((4, 4), np.uint8), [], thresholds, num_classes=2, nodata=1)
