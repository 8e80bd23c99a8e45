"""Label-free refinement by object voting: the peers SESSRS is compared with.

Both rules paint whole objects with the class the *original* prediction gives most of their pixels, from the
largest object to the smallest, so a smaller object painted later keeps its own vote where it lies on a larger one.

- :func:`ssa_vote` is Semantic Segment Anything's rule (fudan-zvg/Semantic-Segment-Anything, ``scripts/pipeline.py``,
  ``semantic_segment_anything_inference``): every object is painted, whatever share its plurality class has. The
  objects are ordered by their ``area`` field, largest first, with Python's stable sort (equal areas keep the
  file's order), and the plurality is counted on the unpainted prediction. SSA takes ``torch.bincount(...).topk(1)``,
  whose choice among tied counts PyTorch does not specify; here a tie goes to the lowest class id.
- :func:`majority_vote` paints an object only when its plurality class covers more than ``t1`` of it (one value for
  every class, or a class -> value mapping; a class missing from the mapping is never painted).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from rscommon.rle import rle_pixels

ClassShares = float | Mapping[int, float]
MAJORITY_SHARE = 0.5
"""The share the compared majority vote asks of an object's plurality class (the demo's and the benchmark's)."""


def ssa_vote(pred: np.ndarray, objects: Sequence[dict]) -> np.ndarray:
    """Semantic Segment Anything's vote: every object painted with its plurality predicted class (see module)."""
    return majority_vote(pred, objects, 0.0)


def majority_vote(pred: np.ndarray, objects: Sequence[dict], t1: ClassShares = MAJORITY_SHARE) -> np.ndarray:
    """Paint each object whose plurality predicted class covers more than ``t1`` of it (see module); ``t1 = 0``
    paints every object (:func:`ssa_vote`). ``pred`` is H x W class ids; ``objects`` are validated records
    (``{"rles": {"size", "counts"}, "area"}``, :func:`rscommon.objects.read_objects`). Returns a new map."""
    if pred.ndim != 2:
        raise ValueError(f"a prediction must be H x W, got shape {pred.shape}")
    flat_pred = pred.ravel(order="F")  # RLE pixel indices run down the columns
    painted = flat_pred.copy()
    for record in sorted(objects, key=lambda item: item["area"], reverse=True):
        if tuple(record["rles"]["size"]) != pred.shape:
            raise ValueError(f"an object of size {record['rles']['size']} on a prediction of shape {pred.shape}")
        pixels = rle_pixels(record["rles"]["counts"], record["rles"]["size"])
        if pixels.size == 0:
            continue
        votes = np.bincount(flat_pred[pixels])
        winner = int(votes.argmax())  # the lowest class id among tied counts
        if votes[winner] / pixels.size > _share_of(t1, winner):
            painted[pixels] = winner
    return painted.reshape(pred.shape, order="F")


def _share_of(t1: ClassShares, cls: int) -> float:
    if isinstance(t1, Mapping):
        return float(t1.get(cls, 1.0))
    return float(t1)
