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
