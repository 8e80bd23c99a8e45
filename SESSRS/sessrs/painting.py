"""Steps 5 and 6 of the refinement, kept up to date while refined classes change.

See docs/algorithm.md, "Step 5: pixels claimed by two refined classes" and "Step 6: painting" (whose three
passes are numbered 6.1, 6.2 and 6.3 below).

``R_k``, the pixels a refined class ``k`` claims, is the class's predicted pixels without its replaced instances,
plus the pixels of the objects replacing them. The output of a pixel depends only on which refined classes claim
it: none (it keeps the prediction, or takes the filled prediction in a replaced instance: 6.3), one (it takes
that class: 6.2), several (step 5 settles it per connected component of each pair's common pixels: 6.1).

A :class:`Painting` holds the output of one image for the classes refined so far and answers, for a change of
some classes' refinements, which pixels change and to what (:meth:`Painting.change`), without repainting the
image: only the changed classes' replaced instances, replacing objects and conflicts are visited. The full
refinement is the change from the unrefined image; the sweep and the joint search evaluate many changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import cv2
import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from .claims import ClaimSets
from .modes import FAITHFUL, RefineOptions
from .prepared import PreparedImage


@dataclass(frozen=True)
class Replacement:
    """A prediction instance replaced by the union of some objects."""

    instance: int
    objects: tuple[int, ...]
    pixels: np.ndarray


@dataclass(frozen=True, eq=False)
class ClassRefinement:
    """Step 4's result for one class: its replaced instances."""

    cls: int
    replaced: tuple[Replacement, ...]

    @property
    def outcome(self) -> tuple[tuple[int, tuple[int, ...]], ...]:
        """Which instances were replaced by which objects (on one image, equal outcomes are equal refinements
        as long as no object was reduced in step 3)."""
        return tuple((r.instance, r.objects) for r in self.replaced)

    @cached_property
    def spans(self) -> np.ndarray:
        """R x 2: the first and last flat pixel of each replacement (0, -1 for one without pixels)."""
        return np.array(
            [(r.pixels[0], r.pixels[-1]) if len(r.pixels) else (0, -1) for r in self.replaced], np.int64
        ).reshape(-1, 2)

    def changed_pixels(self, prepared: PreparedImage) -> list[np.ndarray]:
        """The pixel sets this refinement may change: its replaced instances and the objects replacing them."""
        return [prepared.instance_pixels(r.instance) for r in self.replaced] + [r.pixels for r in self.replaced]


@dataclass(frozen=True)
class Settlement:
    """Step 5 for one pair of refined classes: each common pixel's winning class and the winner's IoU."""

    pixels: np.ndarray
    winner: np.ndarray
    score: np.ndarray

    def outside(self, pixels: np.ndarray) -> Settlement:
        """This settlement without the sorted ``pixels``."""
        if not len(pixels) or not len(self.pixels):
            return self
        at = np.minimum(np.searchsorted(pixels, self.pixels), len(pixels) - 1)
        keep = pixels[at] != self.pixels
        return Settlement(self.pixels[keep], self.winner[keep], self.score[keep])

    def joined(self, other: Settlement) -> Settlement:
        """This settlement and ``other``, of other pixels, as one."""
        order = np.argsort(np.concatenate([self.pixels, other.pixels]), kind="stable")
        parts = [
            np.concatenate([getattr(self, name), getattr(other, name)])[order] for name in ("pixels", "winner", "score")
        ]
        return Settlement(*parts)


@dataclass
class Change:
    """What a :class:`Painting` becomes: new ``values`` (and claims) at the sorted flat ``pixels``."""

    pixels: np.ndarray
    values: np.ndarray
    claims: np.ndarray
    order: list[int]
    refinements: dict[int, ClassRefinement]
    settlements: dict[tuple[int, int], Settlement]


@dataclass
class Painting:
    """The refined output of one image, with what claims each pixel, for the classes in ``order`` (``modify``)."""

    prepared: PreparedImage
    options: RefineOptions = FAITHFUL
    order: list[int] = field(init=False, default_factory=list)
    refinements: dict[int, ClassRefinement] = field(init=False, default_factory=dict)
    settlements: dict[tuple[int, int], Settlement] = field(init=False, default_factory=dict, repr=False)
    values: np.ndarray = field(init=False, repr=False)
    claims: np.ndarray = field(init=False, repr=False)
    _near: dict = field(init=False, default_factory=dict, repr=False)
    """Per class, the pixels it shares with other refined classes (:meth:`_shared`) and their components."""
    _settled: dict[tuple[ClassRefinement, ClassRefinement], Settlement] = field(
        init=False, default_factory=dict, repr=False
    )
    sets: ClaimSets = field(init=False, repr=False)

    def __post_init__(self) -> None:
        """A painting starts unrefined (the prediction); classes come in with :meth:`change` and :meth:`apply`."""
        self.values = self.prepared.flat_pred.copy()
        self.sets = ClaimSets(self.prepared.num_classes)
        self.claims = self.sets.empty(self.prepared.pred.size)  # class k claims a pixel: the pixel is in R_k

    def change(self, refinements: Mapping[int, ClassRefinement | None], order: Sequence[int]) -> Change:
        """The painting when the classes in ``refinements`` take these refinements (``None``: no longer refined)
        and ``order`` is the new ``modify``; classes not named keep theirs. Nothing is modified."""
        order = [int(c) for c in order]
        new = {**self.refinements, **refinements}
        new = {cls: new[cls] for cls in order}
        if [c for c in order if c in self.refinements] != [c for c in self.order if c in new]:
            raise ValueError(f"classes kept refined must keep their order: {self.order} -> {order}")
        changed = [cls for cls in {*self.refinements, *new} if self.refinements.get(cls) is not new.get(cls)]
        pixels = self.prepared.union([part for cls in changed for part in self._reach(cls, new.get(cls))])
        kept = [cls for cls in changed if cls in self.refinements and new.get(cls) is not None]
        if kept and len(pixels):  # and the conflicts of classes still refined next to the pixels that change
            pixels = self.prepared.union([pixels, *(self._touching(cls, pixels) for cls in kept)])
        claims = self.claims[pixels] if self.refinements else self.sets.empty(len(pixels))
        pred = self.prepared.flat_pred[pixels]
        for cls in changed:
            self.sets.remove(claims, cls)
            if new.get(cls) is not None:
                self.sets.add(claims, cls, self._claimed_by(new[cls], pixels, pred))
        several = self.sets.several(claims)
        values = self._values(pixels, pred, claims, several, new)
        settlements = {}  # the pairs of classes still refined, those of a changed class away from its changes
        for pair, settlement in self.settlements.items():
            if not set(pair) & set(changed):
                settlements[pair] = settlement
            elif set(pair) <= set(order):  # so its changed classes are in ``kept``
                settlements[pair] = settlement.outside(pixels)
        if several.any():
            self._settle(pixels, claims, several, values, order, new, set(changed), settlements)
        return Change(pixels, values, claims, order, new, settlements)

    def apply(self, change: Change) -> None:
        """Make ``change`` (from :meth:`change` on this painting) the current state."""
        for cls in self.refinements.keys() ^ change.refinements.keys():
            # a class joining or leaving claims, or stops claiming, its own predicted pixels; outside the
            # change's pixels that moves no output, but later changes read the claims
            own = self.prepared.class_pixels(cls)
            if cls in change.refinements:
                self.sets.add(self.claims, cls, own)
            else:
                self.sets.remove(self.claims, cls, own)
        self.values[change.pixels] = change.values
        self.claims[change.pixels] = change.claims
        self.order, self.refinements, self.settlements = change.order, change.refinements, change.settlements
        self._near.clear()

    def _reach(self, cls: int, new: ClassRefinement | None) -> list[np.ndarray]:
        """Pixel sets holding every pixel whose output may change when ``cls`` changes to ``new``, but for the
        conflicts of a class that stays refined (:meth:`_touching` adds those).

        Those are the pixels of instances replaced differently and of their old and new objects, and for a class
        joining or leaving ``modify`` the pixels it shares with other refined classes.
        """
        old = self.refinements.get(cls)
        if old is None or new is None:
            return [*(old or new).changed_pixels(self.prepared), self._shared(cls)]
        before = {r.instance: r for r in old.replaced}
        after = {r.instance: r for r in new.replaced}
        parts = []
        for instance in before.keys() | after.keys():
            first, second = before.get(instance), after.get(instance)
            if first is not None and second is not None and _same(first, second):
                continue
            parts += [self.prepared.instance_pixels(instance)] + [r.pixels for r in (first, second) if r is not None]
        return parts

    def _shared(self, cls: int) -> np.ndarray:
        """The pixels of predicted class ``cls`` or claimed by ``cls`` that another refined class claims."""
        if cls not in self._near:
            if cls in self.refinements:
                multi = self._near.setdefault(-1, np.flatnonzero(self.sets.several(self.claims)))
                self._near[cls] = multi[self.sets.has(self.claims[multi], cls)]
            else:
                own = self.prepared.class_pixels(cls)
                self._near[cls] = own[self.sets.others(self.claims[own], cls)]
        return self._near[cls]

    def _touching(self, cls: int, core: np.ndarray) -> np.ndarray:
        """The pixels of the 8-connected components of :meth:`_shared` that hold or touch a pixel of ``core``.

        When a refined class changes only at the sorted pixels ``core`` (its replacements that differ, their
        instances and objects), a conflict component away from them keeps its pixels, its instances' IoUs and
        so its winner: only these components are settled again."""
        shared = self._shared(cls)
        if not len(shared):
            return shared
        if ("labels", cls) not in self._near:
            self._near["labels", cls] = components_of(shared, self.prepared.shape)
        labels = self._near["labels", cls]
        scratch, height = self.prepared.scratch, self.prepared.shape[0]
        scratch[core] = True
        rows = shared % height
        touching = scratch[shared]
        for row_step, valid in ((-1, rows > 0), (0, True), (1, rows < height - 1)):
            for column_step in (-1, 0, 1):
                if row_step or column_step:
                    neighbour = shared + column_step * height + row_step
                    inside = valid & (neighbour >= 0) & (neighbour < len(scratch))
                    touching |= inside & scratch[np.clip(neighbour, 0, len(scratch) - 1)]
        scratch[core] = False
        return shared[np.isin(labels, labels[touching])]

    def _claimed_by(self, refined: ClassRefinement, pixels: np.ndarray, pred: np.ndarray) -> np.ndarray:
        """Which of ``pixels`` the refined class claims: its own pixels outside replaced instances, and the
        pixels of the objects replacing them."""
        prepared = self.prepared
        replaced = np.zeros(len(prepared.inst_class), bool)
        replaced[[r.instance for r in refined.replaced]] = True
        claimed = (pred == refined.cls) & ~replaced[prepared.flat_inst[pixels]]
        if refined.replaced:
            for r in refined.replaced:
                prepared.scratch[r.pixels] = True
            claimed |= prepared.scratch[pixels]
            for r in refined.replaced:
                prepared.scratch[r.pixels] = False
        return claimed

    def _values(
        self,
        pixels: np.ndarray,
        pred: np.ndarray,
        claims: np.ndarray,
        several: np.ndarray,
        refinements: Mapping[int, ClassRefinement],
    ) -> np.ndarray:
        """6.2 and 6.3: a pixel claimed by one class takes it; claimed by none, the (filled) prediction."""
        values = pred.copy()
        unclaimed = np.flatnonzero(self.sets.unclaimed(claims))
        alone = ~several
        for cls in refinements:
            np.putmask(values, self.sets.has(claims, cls) & alone, cls)
            lost = unclaimed[pred[unclaimed] == cls]
            if len(lost):
                values[lost] = self.prepared.filled(cls, pixels[lost], self.options.fill_from_neighbourhood)
        return values

    def _settle(
        self,
        pixels: np.ndarray,
        claims: np.ndarray,
        several: np.ndarray,
        values: np.ndarray,
        order: list[int],
        refinements: Mapping[int, ClassRefinement],
        changed: set[int],
        settlements: dict[tuple[int, int], Settlement],
    ) -> None:
        """Step 5 and 6.1 at the pixels claimed by ``several`` classes (see :func:`paint_settled`).

        A pair of a changed class is settled at ``pixels``; one refined before keeps, from ``settlements``, its
        settlement elsewhere (see :meth:`_touching`)."""
        multi = np.flatnonzero(several)
        multi_claims = claims[multi]
        claimed = {cls: self.sets.has(multi_claims, cls) for cls in order}
        painted = np.zeros(len(pixels), np.int64)
        best = np.full(len(pixels), -1.0)
        for position, first in enumerate(order):
            for second in order[position + 1 :]:
                common = multi[claimed[first] & claimed[second]]
                if not len(common):
                    continue
                if first in changed or second in changed:
                    pair = (refinements[first], refinements[second])
                    if pair not in self._settled:  # a pair's settlement depends on the two refinements only
                        settled = settle_pair(self.prepared, *pair, pixels[common])
                        if (first, second) in settlements:
                            settled = settlements[first, second].joined(settled)
                        self._settled[pair] = settled
                    settlements[first, second] = self._settled[pair]
                settlement = settlements[first, second]
                at = np.searchsorted(settlement.pixels, pixels[common])
                paint_settled(values, common, settlement.winner[at], settlement.score[at], painted, best, self.options)


def _same(first: Replacement, second: Replacement) -> bool:
    if first.pixels is second.pixels:
        return True
    return first.objects == second.objects and np.array_equal(first.pixels, second.pixels)


def paint_settled(
    values: np.ndarray,
    where: np.ndarray,
    winner: np.ndarray,
    score: np.ndarray,
    painted: np.ndarray,
    best: np.ndarray,
    options: RefineOptions,
) -> None:
    """6.1 for one pair's components at positions ``where``, pairs taken in ``modify`` order.

    In the reference a pixel already painted by an earlier component gets class 0 (quirk 2, see docs/algorithm.md,
    "Quirks of the reference and the improved mode"); with
    ``options.conflicts_to_better_class`` it goes to the winner whose IoU is the highest (the first on a tie).
    """
    if options.conflicts_to_better_class:
        better = score > best[where]
        values[where[better]] = winner[better]
        best[where[better]] = score[better]
    else:
        values[where] = np.where(painted[where] == 0, winner, 0)
        painted[where] += 1


def settle_pair(
    prepared: PreparedImage, first: ClassRefinement, second: ClassRefinement, common: np.ndarray
) -> Settlement:
    """Step 5 for two refined classes and their sorted common pixels: every 8-connected component goes to the
    class with the better-matching instance (best IoU; the second class on a tie)."""
    labels = components_of(common, prepared.shape)
    first_iou, second_iou = best_iou(prepared, first, common, labels), best_iou(prepared, second, common, labels)
    first_wins = (first_iou > second_iou)[labels - 1]
    return Settlement(
        pixels=common,
        winner=np.where(first_wins, first.cls, second.cls).astype(np.uint8),
        score=np.where(first_wins, first_iou[labels - 1], second_iou[labels - 1]),
    )


LINK_COST = 100
"""Labelling a pixel set from its pixels' links costs about as much per pixel as this many pixels of a grid..."""
LINK_OVERHEAD = 250_000
"""... plus as much as this many pixels of a grid: a set whose bounding box is larger is labelled from its links."""


def components_of(pixels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """8-connected component label (1..n) of each sorted flat column-major pixel (in no particular order): on a grid
    of the pixels' bounding box, or from the links between neighbouring pixels when the box is mostly empty."""
    cols, rows = np.divmod(pixels, shape[0])
    top, left = rows.min(), cols.min()
    height, width = rows.max() - top + 1, cols.max() - left + 1
    if height * width > LINK_COST * len(pixels) + LINK_OVERHEAD:
        return linked_components(pixels, rows, shape[0])
    grid = np.zeros((height, width), np.uint8)
    grid[rows - top, cols - left] = 1
    _, labels = cv2.connectedComponents(grid, connectivity=8)
    return labels[rows - top, cols - left].astype(np.int64)


def linked_components(pixels: np.ndarray, rows: np.ndarray, height: int) -> np.ndarray:
    """8-connected component label (1..n) of each sorted flat column-major pixel (its row in ``rows``, of an image
    ``height`` rows high), from each pixel's links to its neighbours above, left, above left and below left.

    The links form a sparse graph with four entries per pixel, a missing neighbour standing for the pixel itself,
    so that it is built in compressed rows directly, with no sorting."""
    count = len(pixels)
    own = np.arange(count)
    links = np.empty((count, 4), np.int64)
    neighbours = ((1, rows > 0), (height, True), (height + 1, rows > 0), (height - 1, rows < height - 1))
    for column, (step, valid) in enumerate(neighbours):
        neighbour = pixels - step
        at = np.minimum(np.searchsorted(pixels, neighbour), count - 1)
        links[:, column] = np.where((pixels[at] == neighbour) & valid, at, own)
    graph = sparse.csr_matrix((np.ones(4 * count), links.ravel(), np.arange(0, 4 * count + 1, 4)), (count, count))
    _, labels = csgraph.connected_components(graph, directed=False)
    return labels.astype(np.int64) + 1


def best_iou(prepared: PreparedImage, refined: ClassRefinement, pixels: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per component (labels 1..n of the sorted ``pixels``), the best IoU with any instance of a refined class:
    its unreplaced predicted instances and the objects replacing the others."""
    count = int(labels.max())
    sizes = np.bincount(labels, minlength=count + 1)[1:]
    best = np.zeros(count)
    unreplaced = np.ones(len(prepared.inst_class), bool)
    unreplaced[[r.instance for r in refined.replaced]] = False
    instance = prepared.flat_inst[pixels]
    keep = unreplaced[instance] & (prepared.inst_class[instance] == refined.cls)
    instance_count = len(prepared.inst_class)
    keys = labels[keep] * instance_count + instance[keep]
    if keys.size:
        unique, shared = np.unique(keys, return_counts=True)
        component, instance = np.divmod(unique, instance_count)
        iou = shared / (sizes[component - 1] + prepared.inst_size[instance] - shared)
        np.maximum.at(best, component - 1, iou)
    for shared, size in _shared_with_replacements(refined, pixels, labels, count):
        best = np.maximum(best, shared / (sizes + size - shared))
    return best


def _shared_with_replacements(
    refined: ClassRefinement, pixels: np.ndarray, labels: np.ndarray, count: int
) -> list[tuple[np.ndarray, int]]:
    """For each replacement of ``refined`` meeting the sorted ``pixels``: how many of its pixels each component
    (labels 1..``count``) holds, and its size. Only the pixels between a replacement's first and last are looked up."""
    lows = np.searchsorted(pixels, refined.spans[:, 0])
    highs = np.searchsorted(pixels, refined.spans[:, 1] + 1)
    found = []
    for index in np.flatnonzero(highs > lows).tolist():
        replaced, band = refined.replaced[index].pixels, slice(lows[index], highs[index])
        inside = replaced[np.searchsorted(replaced, pixels[band])] == pixels[band]
        if inside.any():
            found.append((np.bincount(labels[band][inside], minlength=count + 1)[1:], len(replaced)))
    return found
