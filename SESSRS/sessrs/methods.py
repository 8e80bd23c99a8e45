"""What ``best.json``'s ``method`` means when refining one image: the per-class thresholds or a vote.

``thresholds`` is the SESSRS refinement (docs/algorithm.md, steps 1 to 6). ``ssa_vote`` and ``majority_vote`` are
the label-free votes of :mod:`sessrs.voting` (every object painted with its plurality predicted class; the
majority vote only where that class covers more than half of the object); they ignore t1, t2, modify and the
object limit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rscommon.objects import read_objects

from .inputs import Sample
from .modes import RefineOptions
from .prepared import PreparedImage
from .steps import refine_prepared
from .thresholds import Thresholds
from .voting import majority_vote

VOTE_SHARES = {"ssa_vote": 0.0, "majority_vote": 0.5}
"""The share of an object its plurality class must exceed for each vote to paint it."""


def vote(pred: np.ndarray, objects: Sequence[dict], method: str) -> np.ndarray:
    """``pred`` refined by the vote ``method`` (a key of :data:`VOTE_SHARES`) with the object records."""
    return majority_vote(pred, objects, VOTE_SHARES[method])


def refine_sample(
    sample: Sample, prepared: PreparedImage, thresholds: Thresholds, *, max_objects: int, options: RefineOptions
) -> np.ndarray:
    """One image (its sample and its prepared prediction) refined as ``thresholds.method`` says."""
    if thresholds.method in VOTE_SHARES:
        return vote(prepared.pred, read_objects(sample.sam, prepared.shape), thresholds.method)
    num_classes = prepared.num_classes
    t1, t2 = thresholds.t1_array(num_classes), thresholds.t2_array(num_classes)
    return refine_prepared(prepared, t1, t2, thresholds.modify, max_objects=max_objects, options=options)
