"""The SESSRS refinement of one prediction with SAM objects: steps 2 to 6 of ``docs/algorithm.md``.

A docstring's "Step N" is that document's section of the same number (e.g. docs/algorithm.md, "Step 4: instances
are replaced by objects"); the quirks are its "Quirks of the reference and the improved mode".

Faithful to the paper's reference by default; :class:`~sessrs.modes.RefineOptions` fixes its quirks one by one.
:func:`refine_class` (step 4, here) and :class:`~sessrs.painting.Painting` (steps 5 and 6) are written once and
shared by :func:`refine_prepared`, the sweep engine and the joint search.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from rscommon.files import InputError

from .modes import FAITHFUL, RefineOptions
from .painting import ClassRefinement, Painting, Replacement
from .prepared import PreparedImage, prepare_image


def refine_with_mappings(
    pred: np.ndarray,
    objects: list[dict],
    t1: Mapping,
    t2: Mapping,
    modify: Sequence[int],
    *,
    max_objects: int,
    num_classes: int | None = None,
    options: RefineOptions = FAITHFUL,
    nodata: int | None = None,
) -> np.ndarray:
    """Refine the H x W class map ``pred`` with the SAM ``objects`` (see docs/algorithm.md).

    ``t1``/``t2`` map class (int or str) to threshold (classes not given default to 1, "never"),
    ``modify`` is the ordered list of classes to refine, ``max_objects`` the candidate limit of step 4,
    ``options`` the quirks to fix (none by default),
    ``nodata`` the class marking pixels without data, which no other pixel takes.
    """
    if num_classes is None:
        keys = [int(k) for k in (*t1, *t2, *modify)]
        num_classes = max(int(np.max(pred)) + 1, *(k + 1 for k in keys))
    prepared = prepare_image(pred, objects, num_classes, nodata)
    return refine_prepared(
        prepared,
        thresholds(t1, num_classes),
        thresholds(t2, num_classes),
        modify,
        max_objects=max_objects,
        options=options,
    )


def thresholds(values: Mapping, num_classes: int) -> np.ndarray:
    """A per-class array from a ``{class: threshold}`` mapping (keys int or str); missing classes get 1."""
    array = np.ones(num_classes, np.float64)
    for key, value in values.items():
        cls = int(key)
        if not 0 <= cls < num_classes:
            raise InputError(f"threshold given for class {key!r}, outside 0..{num_classes - 1}")
        array[cls] = float(value)
    return array


@dataclass
class MemoUnion:
    """A memoised union of unreduced objects, and the pixel counts of the prediction instances inside it found so
    far (the same objects gathered under other thresholds are counted once)."""

    pixels: np.ndarray
    inside: dict[int, int] = field(default_factory=dict)


@dataclass
class Objects:
    """The objects' state during one refinement: class, purity ratio and (possibly reduced) masks."""

    cls: np.ndarray
    ratio: np.ndarray
    pixels: list[np.ndarray]
    area: np.ndarray
    reduced: np.ndarray
    unions: dict[tuple[int, ...], MemoUnion]

    def instance_overlaps(self, prepared: PreparedImage, index: int) -> np.ndarray:
        """Pixel counts of object ``index`` as it is now inside every prediction instance."""
        if self.reduced[index]:
            return prepared.instance_overlaps(self.pixels[index])
        return prepared.object_instance_overlaps(index)

    def union(self, prepared: PreparedImage, members: list[int]) -> np.ndarray:
        """Pixels of the union of the objects ``members``."""
        return self._memo(prepared, members).pixels

    def inside(self, prepared: PreparedImage, members: list[int], instance: int) -> int:
        """How many pixels of prediction instance ``instance`` the union of the objects ``members`` holds."""
        memo = self._memo(prepared, members)
        if instance not in memo.inside:
            memo.inside[instance] = int(np.count_nonzero(prepared.flat_inst[memo.pixels] == instance))
        return memo.inside[instance]

    def _memo(self, prepared: PreparedImage, members: list[int]) -> MemoUnion:
        """The union of ``members`` (memoised while none of them is reduced)."""
        if self.reduced[list(members)].any():
            return MemoUnion(prepared.union([self.pixels[s] for s in members]))
        key = tuple(members)
        if key not in self.unions:
            self.unions[key] = MemoUnion(prepared.union([self.pixels[s] for s in members]))
        return self.unions[key]


def assign_classes(prepared: PreparedImage, t1: np.ndarray, unions: dict | None = None) -> Objects:
    """Step 2: an object takes its majority class when that class covers more than t1 of its area.

    See docs/algorithm.md, "Step 2: objects take a class".

    ``unions`` may carry memoised unions (:class:`MemoUnion`) of unreduced objects from an earlier refinement of
    the same prepared.
    """
    major, count = prepared.majority
    share = count / np.maximum(prepared.obj_area, 1)
    cls = np.where(share > t1[major], major, -1) if len(major) else np.zeros(0, np.int64)
    return Objects(
        cls=cls,
        ratio=np.round(share, 3),
        pixels=list(prepared.obj_pixels),
        area=prepared.obj_area.copy(),
        reduced=np.zeros(len(major), bool),
        unions={} if unions is None else unions,
    )


def resolve_object_overlaps(prepared: PreparedImage, objects: Objects, t2: np.ndarray, modify: Sequence[int]) -> None:
    """Step 3: a larger object gives up the pixels of a smaller, purer object of another class.

    See docs/algorithm.md, "Step 3: overlapping objects of different classes".
    """
    order, position = prepared.area_order, prepared.area_position
    scratch = prepared.scratch
    for a in order[np.isin(objects.cls[order], list(modify))]:
        others, original = prepared.overlapping_objects(a)
        cls = objects.cls[others]
        later = (
            (position[others] > position[a])
            & (cls >= 0)
            & (cls != objects.cls[a])
            & (objects.ratio[a] < objects.ratio[others])
            & (original > 0)
        )
        if not later.any():
            continue
        by_area = np.argsort(position[others[later]])
        for b, shared in zip(others[later][by_area].tolist(), original[later][by_area].tolist()):
            if objects.reduced[a]:
                scratch[objects.pixels[a]] = True
                shared = int(scratch[objects.pixels[b]].sum())
                scratch[objects.pixels[a]] = False
            if shared / objects.area[b] > t2[objects.cls[a]]:
                scratch[objects.pixels[b]] = True
                objects.pixels[a] = objects.pixels[a][~scratch[objects.pixels[a]]]
                scratch[objects.pixels[b]] = False
                objects.area[a] = len(objects.pixels[a])
                objects.reduced[a] = True


def claiming_t1(t1: np.ndarray, modify: Sequence[int], options: RefineOptions = FAITHFUL) -> np.ndarray:
    """Step 2's per-class t1: as given, or 1 ("never") outside ``modify`` when only refined classes take objects."""
    if not options.only_refined_classes_take_objects:
        return t1
    claiming = np.ones_like(t1)
    claiming[list(modify)] = t1[list(modify)]
    return claiming


def candidate_lists(
    prepared: PreparedImage,
    objects: Objects,
    members: np.ndarray,
    instances: np.ndarray,
    t1: float,
    t2: float,
    options: RefineOptions = FAITHFUL,
) -> list[list[int]]:
    """Step 4, first half: the objects each instance gathers.

    An object over the size limit empties the list gathered before it (quirk 1), or with
    ``options.skip_big_objects_alone`` is only left out itself. See docs/algorithm.md, "Step 4: instances are
    replaced by objects".
    """
    if not len(members) or not len(instances):
        return [[] for _ in instances]
    counts = np.array([len(objects.pixels[s]) for s in members])
    big = counts > options.big_object_pixels(prepared.pred.size)
    if options.skip_big_objects_alone:
        members = members[~big]
    elif big.any():
        members = members[np.flatnonzero(big)[-1] + 1 :]
    if not len(members):
        return [[] for _ in instances]
    shared = np.stack([objects.instance_overlaps(prepared, s)[instances] for s in members])
    taken = (shared / objects.area[members][:, None] > t1) | (shared / prepared.inst_size[instances][None, :] > t2)
    return [members[taken[:, column]].tolist() for column in range(len(instances))]


def replacement(
    prepared: PreparedImage,
    objects: Objects,
    instance: int,
    candidates: list[int],
    t1: float,
    t2: float,
    max_objects: int,
) -> np.ndarray | None:
    """Step 4, second half: the pixels that replace ``instance``, or None when it stays as it is."""
    size = prepared.inst_size[instance]
    if 1 < len(candidates) < max_objects:
        if objects.inside(prepared, candidates, instance) / size > t2:
            return objects.union(prepared, candidates)
        return None
    if len(candidates) == 1:
        pixels = objects.pixels[candidates[0]]
        return pixels if len(pixels) > t2 * size and len(pixels) * t1 < size else None
    return None


def refine_class(
    prepared: PreparedImage,
    objects: Objects,
    cls: int,
    t1: float,
    t2: float,
    *,
    max_objects: int,
    options: RefineOptions = FAITHFUL,
) -> ClassRefinement:
    """Step 4 for one class: each instance of ``cls`` gathers candidate objects of that class and may become them.

    This is the one implementation of step 4: :func:`refine_prepared`, the sweep engine and the joint search call it.
    """
    instances = prepared.instances_of(cls)
    members = prepared.area_order[objects.cls[prepared.area_order] == cls]
    replaced = []
    for instance, candidates in zip(instances, candidate_lists(prepared, objects, members, instances, t1, t2, options)):
        if candidates:
            pixels = replacement(prepared, objects, instance, candidates, t1, t2, max_objects)
            if pixels is not None:
                replaced.append(Replacement(int(instance), tuple(candidates), pixels))
    return ClassRefinement(cls, tuple(replaced))


def paint_changes(
    prepared: PreparedImage, refinements: Sequence[ClassRefinement], options: RefineOptions = FAITHFUL
) -> tuple[np.ndarray, np.ndarray]:
    """Steps 5 and 6 for the refined classes (in ``modify`` order): the sorted flat pixels that change, and their
    new classes; every other pixel keeps the prediction."""
    change = Painting(prepared, options).change({r.cls: r for r in refinements}, [r.cls for r in refinements])
    return change.pixels, change.values


def refine_prepared(
    prepared: PreparedImage,
    t1: np.ndarray,
    t2: np.ndarray,
    modify: Sequence[int],
    *,
    max_objects: int,
    options: RefineOptions = FAITHFUL,
) -> np.ndarray:
    """Run steps 2 to 6 on a prepared image with per-class threshold arrays; step 4 ignores a list of two or more
    candidates ``max_objects`` long or longer."""
    modify = [int(c) for c in modify]
    objects = assign_classes(prepared, claiming_t1(t1, modify, options))
    resolve_object_overlaps(prepared, objects, t2, modify)
    refinements = [
        refine_class(prepared, objects, cls, t1[cls], t2[cls], max_objects=max_objects, options=options)
        for cls in modify
    ]
    pixels, values = paint_changes(prepared, refinements, options)
    image = prepared.flat_pred.copy()
    image[pixels] = values
    return image.reshape(prepared.shape, order="F")
