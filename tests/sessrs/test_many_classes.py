"""Class ids up to 254 refine correctly: relabelling the classes of a scene to large ids (in the same order)
relabels its refinement, in both modes, and the class sets count claims across words."""

from __future__ import annotations

import numpy as np
import pytest
from sessrs_cases import random_inputs

from sessrs.api import refine
from sessrs.claims import ClaimSets
from sessrs.modes import FAITHFUL, IMPROVED
from sessrs.thresholds import Thresholds

LARGE = np.array([0, 31, 63, 64, 254])
"""Class k of a five-class scene becomes LARGE[k]: across the 32- and 64-bit word borders, up to 254."""


@pytest.mark.parametrize("options", [FAITHFUL, IMPROVED], ids=["faithful", "improved"])
@pytest.mark.parametrize("seed", [0, 2, 3, 7, 9, 11])
def test_large_class_ids_refine_as_their_small_twins(seed, options):
    pred, objects, _ = random_inputs(seed)
    small = Thresholds(t1={k: 0.5 for k in range(1, 5)}, t2={k: 0.55 for k in range(1, 5)}, modify=[4, 1, 3, 2])
    large = Thresholds(
        t1={int(LARGE[k]): 0.5 for k in range(1, 5)},
        t2={int(LARGE[k]): 0.55 for k in range(1, 5)},
        modify=[int(LARGE[k]) for k in small.modify],
    )
    expected = refine(pred, objects, small, num_classes=5, options=options)
    refined = refine(LARGE[pred], objects, large, num_classes=255, options=options)
    assert not np.array_equal(expected, pred), "the scene is refined"
    assert np.array_equal(refined, LARGE[expected])


def test_class_sets_across_words():
    sets = ClaimSets(255)
    claims = sets.empty(4)
    sets.add(claims, 3, np.array([0, 1]))
    sets.add(claims, 200, np.array([1, 2]))
    sets.add(claims, 64, np.array([2]))
    assert sets.several(claims).tolist() == [False, True, True, False]
    assert sets.unclaimed(claims).tolist() == [False, False, False, True]
    assert sets.others(claims, 200).tolist() == [True, True, True, False]
    sets.remove(claims, 200)
    assert sets.has(claims, 200).tolist() == [False] * 4 and sets.several(claims).tolist() == [False] * 4


@pytest.mark.parametrize("num_classes", [2, 7, 8, 9, 16, 17, 32, 33, 64, 65, 255])
def test_class_sets_agree_with_sets_of_classes_at_every_word_width(num_classes):
    rng = np.random.default_rng(num_classes)
    sets = ClaimSets(num_classes)
    claims, model = sets.empty(300), np.zeros((300, num_classes), bool)
    for cls in rng.choice(num_classes, size=min(num_classes, 12), replace=False).tolist():
        mask = rng.random(300) < 0.2
        sets.add(claims, cls, mask if cls % 2 else np.flatnonzero(mask))
        model[:, cls] |= mask
    dropped = int(rng.integers(num_classes))
    sets.remove(claims, dropped, np.arange(0, 300, 3))
    model[::3, dropped] = False
    counts = model.sum(axis=1)
    assert sets.several(claims).tolist() == (counts > 1).tolist()
    assert sets.unclaimed(claims).tolist() == (counts == 0).tolist()
    for cls in range(num_classes):
        assert sets.has(claims, cls).tolist() == model[:, cls].tolist()
        assert sets.others(claims, cls).tolist() == (counts - model[:, cls] > 0).tolist()


@pytest.mark.parametrize(
    ("num_classes", "bytes_per_pixel"), [(6, 1), (7, 1), (8, 1), (16, 2), (20, 4), (64, 8), (255, 32)]
)
def test_claims_take_the_narrowest_words(num_classes, bytes_per_pixel):
    assert ClaimSets(num_classes).empty(10).nbytes == 10 * bytes_per_pixel
