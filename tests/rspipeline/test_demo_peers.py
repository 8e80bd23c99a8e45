"""The refinement peers of the demo: the object votes (SSA's rule, the thresholded majority vote) on tiny synthetic
arrays, DenseCRF's output, and the common interface."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rscommon.objects import encode_object
from rspipeline.peers import DenseCRF, ObjectMajorityVote, PeerInput, SSAVote, Unrefined, run_peers

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sessrs_reference"


def box(shape: tuple[int, int], rows: slice, cols: slice) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[rows, cols] = True
    return mask


def tile_of(pred: np.ndarray, masks: list[np.ndarray], image: np.ndarray | None = None) -> PeerInput:
    if image is None:
        image = np.zeros((*pred.shape, 3), np.uint8)
    return PeerInput(image=image, pred=pred, objects=[encode_object(m) for m in masks], name="synthetic")


def halves() -> np.ndarray:
    """10 x 10 prediction: class 1 in columns 0..6, class 2 in columns 7..9."""
    pred = np.full((10, 10), 2, np.uint8)
    pred[:, :7] = 1
    return pred


def test_majority_vote_paints_object_when_majority_share_exceeds_t1() -> None:
    pred = halves()
    whole = box(pred.shape, slice(0, 10), slice(0, 10))  # class 1 covers 70 % of it
    painted = ObjectMajorityVote(t1=0.6)(tile_of(pred, [whole]))
    assert (painted == 1).all()


def test_majority_vote_threshold_is_strict() -> None:
    pred = halves()
    whole = box(pred.shape, slice(0, 10), slice(0, 10))
    unchanged = ObjectMajorityVote(t1=0.7)(tile_of(pred, [whole]))
    np.testing.assert_array_equal(unchanged, pred)


def test_majority_vote_smaller_object_keeps_its_own_vote() -> None:
    pred = halves()
    whole = box(pred.shape, slice(0, 10), slice(0, 10))
    right = box(pred.shape, slice(2, 5), slice(6, 10))  # 9 of 12 pixels are class 2
    painted = ObjectMajorityVote(t1=0.6)(tile_of(pred, [right, whole]))
    assert (painted[right] == 2).all()
    assert (painted[~right] == 1).all()


def test_majority_vote_per_class_thresholds_and_unlisted_class_never() -> None:
    pred = halves()
    left = box(pred.shape, slice(0, 10), slice(0, 8))  # 70 of 80 class 1
    right = box(pred.shape, slice(0, 10), slice(6, 10))  # 30 of 40 class 2
    painted = ObjectMajorityVote(t1={1: 0.8})(tile_of(pred, [left, right]))
    assert (painted[:, 7] == 1).all()  # left voted 1 at 87.5 % > 0.8
    assert (painted[:, 6] == 1).all()  # right voted 2, but class 2 has no threshold: never painted


def test_majority_vote_ignores_empty_objects_and_leaves_input_alone() -> None:
    pred = halves()
    before = pred.copy()
    tile = tile_of(pred, [np.zeros(pred.shape, bool)])
    np.testing.assert_array_equal(ObjectMajorityVote(t1=0.0)(tile), before)
    np.testing.assert_array_equal(pred, before)


def test_ssa_vote_paints_every_object_whatever_the_share_of_its_plurality() -> None:
    """Three classes in one object, none above half: SSA's rule paints it with the plurality, the majority vote at
    0.5 leaves it; a smaller object on it keeps its own vote on the unrefined prediction."""
    pred = np.zeros((10, 10), np.uint8)
    pred[:, 4:7], pred[:, 7:] = 1, 2  # class 0: 40 px, class 1: 30 px, class 2: 30 px
    whole = box(pred.shape, slice(0, 10), slice(0, 10))
    corner = box(pred.shape, slice(0, 2), slice(6, 10))  # 2 px of class 1, 6 px of class 2
    tile = tile_of(pred, [whole, corner])
    expected = np.zeros_like(pred)
    expected[corner] = 2
    np.testing.assert_array_equal(SSAVote()(tile), expected)
    unpainted_whole = pred.copy()
    unpainted_whole[corner] = 2  # the corner's 6 of 8 is above 0.5
    np.testing.assert_array_equal(ObjectMajorityVote(t1=0.5)(tile), unpainted_whole)


def test_densecrf_output_shape_classes_and_it_follows_colour_edges() -> None:
    """A two-colour image split at column 32 and a prediction whose boundary is off by a few columns: the CRF
    labels must stay in range and move the boundary towards the colour edge."""
    rng = np.random.default_rng(0)
    height, width = 48, 64
    image = np.zeros((height, width, 3), np.uint8)
    image[:, :32] = (200, 60, 40)
    image[:, 32:] = (30, 140, 200)
    image = np.clip(image + rng.integers(-8, 9, image.shape), 0, 255).astype(np.uint8)
    truth = np.zeros((height, width), np.uint8)
    truth[:, 32:] = 3
    pred = truth.copy()
    pred[:, 28:32] = 3
    pred[::5, 40] = 1
    out = DenseCRF(num_classes=6, iterations=10)(tile_of(pred, [], image))
    assert out.shape == pred.shape and out.dtype == pred.dtype
    assert set(np.unique(out)) <= set(range(6))
    assert (out == truth).mean() > (pred == truth).mean()


def test_densecrf_rejects_class_outside_range() -> None:
    pred = np.full((4, 4), 7, np.uint8)
    with pytest.raises(ValueError, match="class 7"):
        DenseCRF(num_classes=6)(tile_of(pred, []))


def test_peer_input_rejects_mismatched_image() -> None:
    with pytest.raises(ValueError, match="differ in size"):
        PeerInput(image=np.zeros((5, 5, 3), np.uint8), pred=np.zeros((4, 4), np.uint8), objects=[])


def test_run_peers_gives_every_peer_the_same_tile_under_its_name() -> None:
    pred = halves()
    whole = box(pred.shape, slice(0, 10), slice(0, 10))
    tile = tile_of(pred, [whole])
    peers = [Unrefined(), SSAVote(), ObjectMajorityVote(t1=0.6), DenseCRF(num_classes=3)]
    results = run_peers(peers, tile)
    assert list(results) == ["unrefined", "ssa_vote", "majority_vote", "densecrf"]
    np.testing.assert_array_equal(results["unrefined"], pred)
    assert results["unrefined"] is not pred
    assert all(r.shape == pred.shape for r in results.values())
    with pytest.raises(ValueError, match="unique"):
        run_peers([Unrefined(), Unrefined()], tile)
