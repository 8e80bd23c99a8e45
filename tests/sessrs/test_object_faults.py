"""The object faults: each keeps masks inside the image, does nothing at rate 0, and does what it imitates."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rscommon.objects import decode_masks, encode_object
from sessrs.object_faults import FAULTS, ObjectFaults, degrade, plurality_classes
from sessrs.synthetic import URBAN_LIKE, make_image


def blocks(rng: np.random.Generator, shape: tuple[int, int], cell: int) -> np.ndarray:
    """A label map of square cells of random classes 0..3 (cut at the image's edge)."""
    grid = rng.integers(0, 4, (-(-shape[0] // cell), -(-shape[1] // cell)), dtype=np.uint8)
    return np.kron(grid, np.ones((cell, cell), np.uint8))[: shape[0], : shape[1]]


def cell_objects(gt: np.ndarray, cell: int) -> list[dict]:
    """One object per cell: objects exactly on the true boundaries."""
    objects = []
    for top in range(0, gt.shape[0], cell):
        for left in range(0, gt.shape[1], cell):
            mask = np.zeros(gt.shape, bool)
            mask[top : top + cell, left : left + cell] = True
            objects.append(encode_object(mask))
    return objects


def masks_of(objects: list[dict], shape: tuple[int, int]) -> np.ndarray:
    return decode_masks(objects, shape).transpose(2, 0, 1)


scenes = st.tuples(st.integers(0, 2**16), st.sampled_from([(24, 24), (20, 36), (33, 17)]), st.sampled_from([4, 6, 9]))
fault_settings = st.builds(
    ObjectFaults,
    merge_rate=st.floats(0, 1),
    merge_neighbours=st.integers(1, 4),
    split_rate=st.floats(0, 1),
    split_pieces=st.integers(2, 5),
    split_min_share=st.floats(0, 0.2),
    miss_rate=st.floats(0, 1),
    small_share=st.floats(0, 0.2),
    offset=st.integers(0, 6),
    erosion=st.integers(0, 3),
    garbage_rate=st.floats(0, 1),
)


@settings(max_examples=40, deadline=None)
@given(scene=scenes, faults=fault_settings)
def test_every_fault_keeps_non_empty_masks_inside_the_image(scene, faults):
    seed, shape, cell = scene
    rng = np.random.default_rng(seed)
    gt = blocks(rng, shape, cell)
    degraded = degrade(rng, gt, cell_objects(gt, cell), faults)
    for record in degraded:
        assert record["rles"]["size"] == list(shape)
        assert record["area"] > 0
    masks = masks_of(degraded, shape)
    assert masks.shape[1:] == shape and all(mask.any() for mask in masks)


@settings(max_examples=25, deadline=None)
@given(scene=scenes, pieces=st.integers(2, 5), neighbours=st.integers(1, 4))
def test_rate_zero_is_the_identity_whatever_the_other_settings(scene, pieces, neighbours):
    seed, shape, cell = scene
    gt = blocks(np.random.default_rng(seed), shape, cell)
    objects = cell_objects(gt, cell)
    faults = ObjectFaults(split_pieces=pieces, merge_neighbours=neighbours, small_share=0.5, split_min_share=0.0)
    assert degrade(np.random.default_rng(seed), gt, objects, faults) == objects
    assert degrade(np.random.default_rng(seed), gt, objects, ObjectFaults.at_quality(0)) == objects


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16))
def test_merging_makes_objects_that_span_true_classes(seed):
    rng = np.random.default_rng(seed)
    gt = blocks(rng, (24, 24), 6)
    if len(np.unique(gt)) < 2:
        return
    objects = cell_objects(gt, 6)
    spans = [len(np.unique(gt[mask])) for mask in masks_of(objects, gt.shape)]
    assert max(spans) == 1  # the objects follow the truth
    merged = masks_of(degrade(rng, gt, objects, ObjectFaults(merge_rate=1.0)), gt.shape)
    assert max(len(np.unique(gt[mask])) for mask in merged) >= 2
    assert len(merged) < len(objects)
    assert np.array_equal(merged.any(axis=0), np.ones(gt.shape, bool))  # nothing lost, only joined


def test_splitting_cuts_large_objects_into_pieces_that_tile_them():
    gt = np.zeros((40, 40), np.uint8)
    big, small = np.zeros((40, 40), bool), np.zeros((40, 40), bool)
    big[:30, :30], small[35:, 35:] = True, True
    faults = ObjectFaults(split_rate=1.0, split_pieces=3, split_min_share=0.1)
    pieces = masks_of(
        degrade(np.random.default_rng(0), gt, [encode_object(big), encode_object(small)], faults), gt.shape
    )
    assert len(pieces) == 4
    assert np.array_equal(pieces[:3].sum(axis=0), big.astype(int))  # disjoint, and together the large object
    assert np.array_equal(pieces[3], small)


def test_missing_drops_small_objects_only():
    gt = np.zeros((40, 40), np.uint8)
    big, small = np.zeros((40, 40), bool), np.zeros((40, 40), bool)
    big[:30, :30], small[35:37, 35:37] = True, True
    kept = degrade(
        np.random.default_rng(0), gt, [encode_object(big), encode_object(small)], ObjectFaults(miss_rate=1.0)
    )
    assert kept == [encode_object(big)]


@settings(max_examples=25, deadline=None)
@given(scene=scenes, pixels=st.integers(1, 3))
def test_erosion_shrinks_inside_the_object_and_offset_keeps_its_size_or_cuts_it(scene, pixels):
    seed, shape, cell = scene
    gt = blocks(np.random.default_rng(seed), shape, cell)
    objects = cell_objects(gt, cell)
    original = masks_of(objects, shape)
    eroded = degrade(np.random.default_rng(seed), gt, objects, ObjectFaults(erosion=pixels))
    for mask in masks_of(eroded, shape):
        assert any((mask <= whole).all() and mask.sum() < whole.sum() for whole in original)
    moved = masks_of(degrade(np.random.default_rng(seed), gt, objects, ObjectFaults(offset=pixels)), shape)
    assert sum(mask.sum() for mask in moved) <= original.sum()
    assert len(moved) <= len(objects)


def test_garbage_adds_masks_as_a_share_of_the_objects():
    rng = np.random.default_rng(3)
    gt, _, objects = make_image(rng, 128, URBAN_LIKE)
    degraded = degrade(rng, gt, objects, ObjectFaults(garbage_rate=0.5))
    assert degraded[: len(objects)] == objects
    assert len(degraded) == len(objects) + round(0.5 * len(objects))


def test_badness_makes_objects_less_pure():
    """Bad objects' pixels agree less with their plurality true class than the objects as generated do."""
    rng = np.random.default_rng(5)
    gt, _, objects = make_image(rng, 256, URBAN_LIKE)

    def purity(badness: float) -> float:
        masks = masks_of(degrade(np.random.default_rng(1), gt, objects, ObjectFaults.at_quality(badness)), gt.shape)
        agree = sum(int((gt[mask] == cls).sum()) for mask, cls in zip(masks, plurality_classes(gt, masks)))
        return agree / sum(int(mask.sum()) for mask in masks)

    clean = purity(0)
    assert clean > purity(0.5) and clean > purity(1)


def test_only_keeps_one_fault_and_bad_settings_are_refused():
    bad = ObjectFaults.at_quality(1)
    for fault in FAULTS:
        alone = bad.only(fault)
        assert not alone.is_identity and alone.describe().split()[0] == fault
    with pytest.raises(ValueError, match="merge_rate"):
        ObjectFaults(merge_rate=1.5)
    with pytest.raises(ValueError, match="split_pieces"):
        ObjectFaults(split_pieces=1)
    with pytest.raises(ValueError, match="badness"):
        ObjectFaults.at_quality(2)
    with pytest.raises(ValueError, match="fault 'blur'"):
        bad.only("blur")
