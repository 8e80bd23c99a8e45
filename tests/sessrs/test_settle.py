"""Step 5's components: a mostly empty pixel set is labelled from the links between its pixels, and those components
are OpenCV's 8-connected components of the grid, also where one column of the flat column-major order ends and the
next begins."""

import cv2
import numpy as np
import pytest

from sessrs.painting import components_of, linked_components


def grid_labels(mask: np.ndarray) -> np.ndarray:
    """OpenCV's 8-connected labels of ``mask`` at its pixels in flat column-major order."""
    _, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    return labels.ravel(order="F")[np.flatnonzero(mask.ravel(order="F"))]


def same_partition(first: np.ndarray, second: np.ndarray) -> bool:
    pairs = np.unique(np.stack([first, second]), axis=1)
    return pairs.shape[1] == len(np.unique(first)) == len(np.unique(second))


@pytest.mark.parametrize(("height", "width", "density"), [(2, 9, 0.5), (5, 7, 0.6), (6, 9, 0.35), (40, 30, 0.08)])
def test_linked_components_are_the_grid_components(height, width, density):
    rng = np.random.default_rng(height)
    for _ in range(20):
        mask = rng.random((height, width)) < density
        if not mask.any():
            continue
        pixels = np.flatnonzero(mask.ravel(order="F"))
        linked = linked_components(pixels, pixels % height, height)
        assert linked.min() == 1 and same_partition(linked, grid_labels(mask))


def test_a_column_end_does_not_link_to_the_next_column_start():
    mask = np.zeros((4, 3), bool)
    mask[3, 0] = mask[0, 1] = True  # flat neighbours 3 and 4, not image neighbours
    pixels = np.flatnonzero(mask.ravel(order="F"))
    assert len(set(linked_components(pixels, pixels % 4, 4).tolist())) == 2


def test_a_sparse_set_in_a_large_image_gets_the_grid_components():
    rng = np.random.default_rng(5)
    mask = np.zeros((1024, 1024), bool)
    for top, left in rng.integers(0, 1020, (60, 2)):
        mask[top : top + rng.integers(1, 4), left : left + rng.integers(1, 4)] = True
    pixels = np.flatnonzero(mask.ravel(order="F"))
    assert same_partition(components_of(pixels, mask.shape), grid_labels(mask))
    assert np.array_equal(components_of(pixels, mask.shape), linked_components(pixels, pixels % 1024, 1024))
