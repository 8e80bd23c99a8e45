"""The per-class t1/t2 sweep of one image, computed incrementally (see docs/algorithm.md, "The sweep").

Each class is refined alone, as the reference's sweep does: every other class keeps ``t1 = t2 = 1`` and
``modify = [cls]``. Two steps of the algorithm are then inert, and the engine relies on it:

- step 3 (overlaps between objects of different classes) needs an object of another class, and with ``t1 = 1``
  for every other class no object gets another class (a share never exceeds 1): the engine skips it;
- step 5 (pixels claimed by two refined classes) needs two refined classes: the painting of steps 5 and 6
  (:class:`~sessrs.painting.Painting`) finds no pixel claimed twice and paints each changed pixel with ``cls``
  or the filled prediction.

So a threshold pair's refinement is step 2 (once per t1), step 4 (:func:`~sessrs.steps.refine_class`, the same
code as the full refinement) and the changed pixels of step 6; the confusion matrix moves only by those pixels,
and pairs whose replaced instances and objects are the same share one matrix.
``tests/sessrs/test_engine.py`` checks all of this against the full :func:`~sessrs.steps.refine_prepared`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rscommon.files import InputError
from rscommon.metrics import confusion_matrix

from .modes import FAITHFUL, RefineOptions
from .painting import Painting
from .prepared import PreparedImage
from .steps import assign_classes, refine_class

REFERENCE_T1_VALUES = (0.5, 0.6, 0.7, 0.8, 0.9)
REFERENCE_T2_VALUES = (0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


@dataclass(frozen=True)
class ThresholdGrid:
    """The t1 x t2 values a sweep tries, ``t1`` outer; each value in (0, 1], no value twice."""

    t1_values: tuple[float, ...] = REFERENCE_T1_VALUES
    t2_values: tuple[float, ...] = REFERENCE_T2_VALUES

    def __post_init__(self) -> None:
        for name in ("t1_values", "t2_values"):
            values = tuple(float(v) for v in getattr(self, name))
            if not values or len(set(values)) != len(values) or not all(0 < v <= 1 for v in values):
                raise InputError(f"{name} {list(values)}: give distinct values in (0, 1]")
            object.__setattr__(self, name, values)

    @property
    def pairs(self) -> tuple[tuple[float, float], ...]:
        """Every (t1, t2), ``t1`` outer: the sweep's row order."""
        return tuple((t1, t2) for t1 in self.t1_values for t2 in self.t2_values)

    def to_json(self) -> dict[str, list[float]]:
        return {"t1_values": list(self.t1_values), "t2_values": list(self.t2_values)}


REFERENCE_GRID = ThresholdGrid()


@dataclass
class ImageSweep:
    """One image's confusion matrices: unrefined, and per class one per threshold pair (the grid's order)."""

    baseline: np.ndarray
    per_class: dict[int, np.ndarray]


def change_matrix(prepared: PreparedImage, flat_gt: np.ndarray, pixels: np.ndarray, values: np.ndarray) -> np.ndarray:
    """How the confusion matrix moves when ``pixels`` (flat, column-major) change from the prediction to ``values``.

    Pixels whose ground truth is not a class (ignore values) are not counted.
    """
    classes = prepared.num_classes
    before = prepared.flat_pred[pixels]
    moved = np.flatnonzero(values != before)
    truth = flat_gt[pixels[moved]].astype(np.int64)
    scored = truth < classes
    truth = truth[scored] * classes
    after = np.bincount(truth + values[moved][scored], minlength=classes * classes)
    before = np.bincount(truth + before[moved][scored], minlength=classes * classes)
    return (after - before).reshape(classes, classes)


def sweep_image(
    prepared: PreparedImage,
    gt: np.ndarray,
    classes: Sequence[int],
    *,
    max_objects: int,
    grid: ThresholdGrid = REFERENCE_GRID,
    options: RefineOptions = FAITHFUL,
) -> ImageSweep:
    """Confusion matrices of one image for every class in ``classes`` refined alone, at every pair of ``grid``."""
    flat_gt = gt.ravel(order="F")
    baseline = confusion_matrix(gt, prepared.pred, prepared.num_classes)
    unrefined = Painting(prepared, options)
    per_class = {}
    for cls in classes:
        unions: dict = {}
        by_outcome: dict = {}
        matrices = np.empty((len(grid.pairs), *baseline.shape), np.int64)
        objects_by_t1 = {}
        for row, (t1, t2) in enumerate(grid.pairs):
            if t1 not in objects_by_t1:
                t1_per_class = np.ones(prepared.num_classes)
                t1_per_class[cls] = t1
                objects_by_t1[t1] = assign_classes(prepared, t1_per_class, unions)
            refined = refine_class(prepared, objects_by_t1[t1], cls, t1, t2, max_objects=max_objects, options=options)
            if refined.outcome not in by_outcome:
                change = unrefined.change({cls: refined}, [cls])
                by_outcome[refined.outcome] = baseline + change_matrix(prepared, flat_gt, change.pixels, change.values)
            matrices[row] = by_outcome[refined.outcome]
        per_class[cls] = matrices
    return ImageSweep(baseline=baseline, per_class=per_class)
