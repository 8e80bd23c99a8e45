"""Scoring many threshold settings of all classes at once on one image, each by the pixels it changes.

See docs/algorithm.md, "The joint search"; the steps named below are that document's sections.

The joint search changes one class's setting at a time. Refining class ``k`` (steps 2 to 4) depends only on its
own ``t1``/``t2`` and on which objects of other classes take a class in step 2 (those may cut pixels out of
``k``'s objects in step 3), so each class's refinement is cached under exactly that key; the output of steps 5 and
6 is kept in a :class:`~sessrs.painting.Painting`, which answers for a changed class which pixels change and to
what. A setting is then scored by updating the confusion matrix at those pixels only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rscommon.metrics import confusion_matrix

from .modes import FAITHFUL, RefineOptions
from .painting import Change, ClassRefinement, Painting
from .prepared import PreparedImage
from .steps import assign_classes, claiming_t1, refine_class, resolve_object_overlaps
from .sweep_engine import change_matrix


@dataclass(frozen=True)
class ClassSetting:
    """One class's thresholds and whether it is in ``modify``."""

    t1: float
    t2: float
    refined: bool

    def to_json(self) -> dict:
        return {"t1": self.t1, "t2": self.t2, "refined": self.refined}


OFF = ClassSetting(1.0, 1.0, False)
Settings = tuple[ClassSetting, ...]


def modify_of(settings: Settings) -> list[int]:
    """The refined classes, in class order."""
    return [cls for cls, setting in enumerate(settings) if setting.refined]


def step3_reducers(prepared: PreparedImage) -> list[np.ndarray]:
    """Per class ``k``, the objects that can cut pixels out of an object of class ``k`` in step 3: objects of
    another majority class that overlap it, come after it in area order and are purer."""
    major, count = prepared.majority
    ratio = np.round(count / np.maximum(prepared.obj_area, 1), 3)
    position = prepared.area_position
    pairs = prepared.object_overlaps.tocoo()
    a, b = pairs.row, pairs.col
    keep = (a != b) & (position[a] < position[b]) & (ratio[a] < ratio[b]) & (major[a] != major[b])
    return [np.unique(b[keep & (major[a] == cls)]) for cls in range(prepared.num_classes)]


class ImageEvaluator:
    """One image under changing settings: the current settings' painting and confusion matrix, and a cache of
    every class refinement computed so far."""

    def __init__(
        self, prepared: PreparedImage, gt: np.ndarray, *, max_objects: int, options: RefineOptions = FAITHFUL
    ) -> None:
        self.prepared = prepared
        self.flat_gt = gt.ravel(order="F")
        self.max_objects = max_objects
        self.options = options
        self.painting = Painting(prepared, options)
        self.baseline = confusion_matrix(gt, prepared.pred, prepared.num_classes)
        self.matrix = self.baseline.copy()
        self.settings: Settings = (OFF,) * prepared.num_classes
        self._reducers = step3_reducers(prepared)
        major, count = prepared.majority
        self._major, self._share = major, count / np.maximum(prepared.obj_area, 1)
        self._unions: dict = {}
        self._cache: dict[tuple, ClassRefinement] = {}
        self._distinct: dict[tuple, ClassRefinement] = {}
        self._scores: dict[tuple, np.ndarray] = {}

    def refinement(self, cls: int, t1: np.ndarray, t2: float, takes_class: np.ndarray) -> ClassRefinement:
        """Class ``cls`` refined with step 2's per-class ``t1`` and its ``t2`` (cached); ``takes_class``: which
        objects take a class in step 2 under ``t1`` (:meth:`takes_class`)."""
        reducing = takes_class[self._reducers[cls]]
        key = (cls, float(t1[cls]), float(t2), np.packbits(reducing).tobytes())
        if key not in self._cache:
            objects = assign_classes(self.prepared, t1, self._unions)
            if reducing.any():  # else no object can cut one of class ``cls`` in step 3
                t2s = np.ones(self.prepared.num_classes)
                t2s[cls] = t2
                resolve_object_overlaps(self.prepared, objects, t2s, [cls])
            refined = refine_class(
                self.prepared, objects, cls, float(t1[cls]), t2, max_objects=self.max_objects, options=self.options
            )
            self._cache[key] = self._distinct.setdefault(_identity(refined, objects.reduced), refined)
        return self._cache[key]

    def refinements(self, settings: Settings) -> tuple[dict[int, ClassRefinement | None], list[int]]:
        """Every class's refinement under ``settings`` (None when not refined), and ``modify``."""
        modify = modify_of(settings)
        t1 = claiming_t1(np.array([s.t1 for s in settings]), modify, self.options)
        takes_class = self.takes_class(t1)
        refinements = {
            cls: self.refinement(cls, t1, settings[cls].t2, takes_class) if cls in modify else None
            for cls in range(len(settings))
        }
        return refinements, modify

    def takes_class(self, t1: np.ndarray) -> np.ndarray:
        """Which objects take their majority class in step 2 under the per-class ``t1``."""
        return self._share > t1[self._major]

    def score(self, settings: Settings) -> np.ndarray:
        """The confusion matrix under ``settings`` (remembered per distinct set of refinements)."""
        refinements, modify = self.refinements(settings)
        key = tuple(refinements[cls] for cls in modify)
        if key not in self._scores:
            change = self.painting.change(refinements, modify)
            self._scores[key] = self.matrix + self._delta(change)
        return self._scores[key]

    def commit(self, settings: Settings) -> np.ndarray:
        """Make ``settings`` the current ones; returns their confusion matrix."""
        refinements, modify = self.refinements(settings)
        change = self.painting.change(refinements, modify)
        self.matrix = self.matrix + self._delta(change)
        self.painting.apply(change)
        self.settings = tuple(settings)
        return self.matrix

    def trim(self) -> None:
        """Forget what only the finished step needs: cached refinements, unions, settlements and scores that the
        current painting does not hold, and pixel sets of instances and classes (the next step computes what it
        needs; results do not change)."""
        painting = self.painting
        held = {id(refined) for refined in painting.refinements.values()}
        self._cache = {key: refined for key, refined in self._cache.items() if id(refined) in held}
        self._distinct = {key: refined for key, refined in self._distinct.items() if id(refined) in held}
        settled = {id(settlement) for settlement in painting.settlements.values()}
        painting._settled = {pair: s for pair, s in painting._settled.items() if id(s) in settled}
        self._unions.clear()
        self._scores.clear()
        self.prepared.forget_pixel_sets()

    def _delta(self, change: Change) -> np.ndarray:
        before = change_matrix(self.prepared, self.flat_gt, change.pixels, self.painting.values[change.pixels])
        return change_matrix(self.prepared, self.flat_gt, change.pixels, change.values) - before


def _identity(refined: ClassRefinement, reduced: np.ndarray) -> tuple:
    """What makes two refinements of a class equal: the same instances replaced by the same objects, and the
    same pixels for replacements made of objects cut in step 3."""
    parts = []
    for replacement in refined.replaced:
        cut = reduced[list(replacement.objects)].any()
        parts.append(
            (
                replacement.instance,
                replacement.objects,
                hash(replacement.pixels.tobytes()) if cut else None,
                len(replacement.pixels) if cut else None,
            )
        )
    return (refined.cls, tuple(parts))


def with_setting(settings: Settings, cls: int, setting: ClassSetting) -> Settings:
    return tuple(setting if c == cls else s for c, s in enumerate(settings))


def class_matrices(
    evaluators: Sequence[ImageEvaluator], cls: int, candidates: Sequence[ClassSetting], classes: int
) -> np.ndarray:
    """Confusion matrices summed over the images, one per candidate setting of ``cls`` (others as committed)."""
    totals = np.zeros((len(candidates), classes, classes), np.int64)
    for evaluator in evaluators:
        for row, candidate in enumerate(candidates):
            totals[row] += evaluator.score(with_setting(evaluator.settings, cls, candidate))
    return totals
