"""Object voting (sessrs.voting): Semantic Segment Anything's rule on a hand-made case where order and plurality
matter, the thresholded majority vote against the demo's previous rule, and properties over random tiles."""

from __future__ import annotations

from collections.abc import Mapping

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rscommon.objects import decode_masks, encode_object
from sessrs.voting import majority_vote, ssa_vote

SHAPE = (8, 8)


def box(rows: slice, cols: slice, shape: tuple[int, int] = SHAPE) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[rows, cols] = True
    return mask


def hand_made_prediction() -> np.ndarray:
    """Class 1 on rows 0..2 and the right half of row 3, class 4 on its left half; class 2 on rows 4..5; class 0
    on row 6 and the right half of row 7, class 3 on its left half. Counts: 1: 28, 2: 16, 0: 12, 4: 4, 3: 4."""
    pred = np.zeros(SHAPE, np.uint8)
    pred[0:3] = 1
    pred[3, :4], pred[3, 4:] = 4, 1
    pred[4:6] = 2
    pred[7, :4] = 3
    return pred


HAND_MADE_OBJECTS = {
    # 64 px, plurality 1 with a share of 28/64 (under 0.5): SSA paints it, the thresholded vote does not.
    "whole": box(slice(0, 8), slice(0, 8)),
    # 32 px, plurality 2 (16/32) on the unpainted prediction; on the map painted by "whole" it would be 1.
    "lower": box(slice(4, 8), slice(0, 8)),
    # Two objects of 5 px on row 3, overlapping on columns 3..4: "left" votes 4 (4 of 5), "right" votes 1 (4 of 5).
    "left": box(slice(3, 4), slice(0, 5)),
    "right": box(slice(3, 4), slice(3, 8)),
    # 4 px on row 7: 2 of class 3 and 2 of class 0, a tie that goes to class 0; painted after "lower" (2).
    "tie": box(slice(7, 8), slice(2, 6)),
}


def records(names: list[str]) -> list[dict]:
    return [encode_object(HAND_MADE_OBJECTS[name]) for name in names]


def ssa_expected(left_before_right: bool) -> np.ndarray:
    """Every object painted, largest first, each with its plurality on the unpainted prediction."""
    expected = np.full(SHAPE, 1, np.uint8)  # "whole"
    expected[4:8] = 2  # "lower"
    first, second = (slice(0, 5), 4), (slice(3, 8), 1)  # "left" and "right": equal areas, the file's order
    for cols, cls in (first, second) if left_before_right else (second, first):
        expected[3, cols] = cls
    expected[7, 2:6] = 0  # "tie"
    return expected


@pytest.mark.parametrize(
    ("order", "left_before_right"),
    [
        (["whole", "lower", "left", "right", "tie"], True),
        (["tie", "left", "lower", "right", "whole"], True),
        (["tie", "right", "lower", "left", "whole"], False),
    ],
)
def test_ssa_vote_paints_largest_first_with_the_unpainted_plurality(order: list[str], left_before_right: bool) -> None:
    pred = hand_made_prediction()
    before = pred.copy()
    painted = ssa_vote(pred, records(order))
    np.testing.assert_array_equal(painted, ssa_expected(left_before_right))
    assert painted.dtype == pred.dtype
    np.testing.assert_array_equal(pred, before)  # the input is left alone


def test_majority_vote_paints_only_objects_whose_plurality_share_exceeds_t1() -> None:
    pred = hand_made_prediction()
    objects = records(["whole", "lower", "left", "right", "tie"])
    expected = pred.copy()
    expected[3, :5] = 4  # "left": 0.8
    expected[3, 3:] = 1  # "right": 0.8; "whole" (0.44), "lower" (0.5, not above) and "tie" (0.5) stay unpainted
    np.testing.assert_array_equal(majority_vote(pred, objects, 0.5), expected)
    np.testing.assert_array_equal(majority_vote(pred, objects, 0.0), ssa_vote(pred, objects))
    # per class: class 2 above 0.4 paints "lower"; class 1 missing from the mapping is never painted
    by_class = majority_vote(pred, objects, {2: 0.4, 4: 0.5})
    np.testing.assert_array_equal(by_class[4:8], np.full((4, 8), 2))
    np.testing.assert_array_equal(by_class[3], [4, 4, 4, 4, 4, 1, 1, 1])
    np.testing.assert_array_equal(by_class[0:3], pred[0:3])


def test_voting_rejects_objects_of_another_size_and_maps_that_are_not_2d() -> None:
    pred = hand_made_prediction()
    with pytest.raises(ValueError, match="size"):
        ssa_vote(pred, [encode_object(np.ones((4, 8), bool))])
    with pytest.raises(ValueError, match="H x W"):
        ssa_vote(pred[None], [])


def previous_demo_rule(pred: np.ndarray, objects: list[dict], t1: float | Mapping[int, float]) -> np.ndarray:
    """The demo's ObjectMajorityVote before sessrs.voting: decoded masks, sizes sorted by a stable argsort."""
    out = pred.copy()
    masks = decode_masks(objects, pred.shape)
    sizes = masks.sum(axis=(0, 1))
    for index in np.argsort(-sizes, kind="stable"):
        if sizes[index] == 0:
            continue
        mask = masks[..., index]
        votes = np.bincount(pred[mask])
        winner = int(votes.argmax())
        threshold = float(t1.get(winner, 1.0)) if isinstance(t1, Mapping) else float(t1)
        if votes[winner] / sizes[index] > threshold:
            out[mask] = winner
    return out


@st.composite
def tiles(draw: st.DrawFn) -> tuple[np.ndarray, list[np.ndarray]]:
    """A prediction of up to 6 classes and up to 8 objects: rectangles (nested, overlapping, of equal areas) and
    scattered masks."""
    height, width = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    classes = draw(st.integers(1, 6))
    pred = draw(hnp.arrays(np.uint8, (height, width), elements=st.integers(0, classes - 1)))
    rectangle = st.tuples(st.integers(0, height), st.integers(0, height), st.integers(0, width), st.integers(0, width))
    masks = []
    for shape in draw(st.lists(st.one_of(rectangle, hnp.arrays(bool, (height, width))), max_size=8)):
        if isinstance(shape, tuple):
            shape = box(slice(min(shape[:2]), max(shape[:2])), slice(min(shape[2:]), max(shape[2:])), pred.shape)
        masks.append(shape)
    return pred, masks


def plurality(values: np.ndarray) -> int:
    counts = np.bincount(values)
    return int(np.flatnonzero(counts == counts.max())[0])


@settings(deadline=None)
@given(tiles())
def test_ssa_vote_leaves_pixels_outside_objects_and_gives_each_object_its_plurality(
    tile: tuple[np.ndarray, list[np.ndarray]],
) -> None:
    pred, masks = tile
    painted = ssa_vote(pred, [encode_object(mask) for mask in masks])
    covered = np.logical_or.reduce(masks) if masks else np.zeros(pred.shape, bool)
    np.testing.assert_array_equal(painted[~covered], pred[~covered])
    for index, mask in enumerate(masks):
        on_top = [other for j, other in enumerate(masks) if j != index and other.sum() <= mask.sum()]
        own = mask & ~np.logical_or.reduce(on_top) if on_top else mask
        if own.any():
            assert (painted[own] == plurality(pred[mask])).all()


@settings(deadline=None)
@given(
    tiles(),
    st.one_of(
        st.floats(0.0, 1.0),
        st.dictionaries(st.integers(0, 5), st.floats(0.0, 1.0), max_size=6),
    ),
)
def test_majority_vote_equals_the_demo_previous_rule(
    tile: tuple[np.ndarray, list[np.ndarray]], t1: float | dict[int, float]
) -> None:
    pred, masks = tile
    objects = [encode_object(mask) for mask in masks]
    np.testing.assert_array_equal(majority_vote(pred, objects, t1), previous_demo_rule(pred, objects, t1))
