"""The SESSRS refinement of one prediction with SAM objects, faithful to the paper's reference."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from .scene import BIG_OBJECT_PIXELS, Scene, build_scene

UNSET = 255


def refine(
    pred: np.ndarray,
    objects: list[dict],
    t1: Mapping,
    t2: Mapping,
    modify: Sequence[int],
    max_objects: int = 10,
    num_classes: int | None = None,
) -> np.ndarray:
    """Refine the H x W class map ``pred`` with the SAM ``objects`` (see docs: the algorithm).

    ``t1``/``t2`` map class (int or str) to threshold (classes not given default to 1, "never"),
    ``modify`` is the ordered list of classes to refine.
    """
    if num_classes is None:
        keys = [int(k) for k in (*t1, *t2, *modify)]
        num_classes = max(int(np.max(pred)) + 1, *(k + 1 for k in keys))
    scene = build_scene(pred, objects, num_classes)
    return refine_scene(scene, thresholds(t1, num_classes), thresholds(t2, num_classes), modify, max_objects)


def thresholds(values: Mapping, num_classes: int) -> np.ndarray:
    """A per-class array from a ``{class: threshold}`` mapping (keys int or str); missing classes get 1."""
    array = np.ones(num_classes, np.float64)
    for key, value in values.items():
        cls = int(key)
        if not 0 <= cls < num_classes:
            raise ValueError(f"threshold given for class {key!r}, outside 0..{num_classes - 1}")
        array[cls] = float(value)
    return array


@dataclass
class Objects:
    """The objects' state during one refinement: class, purity ratio and (possibly reduced) masks."""

    cls: np.ndarray
    ratio: np.ndarray
    pixels: list[np.ndarray]
    area: np.ndarray
    reduced: np.ndarray
    unions: dict[tuple[int, ...], np.ndarray]

    def instance_overlaps(self, scene: Scene, index: int) -> np.ndarray:
        """Pixel counts of object ``index`` as it is now inside every prediction instance."""
        if self.reduced[index]:
            return scene.instance_overlaps(self.pixels[index])
        return scene.object_instance_overlaps(index)

    def union(self, scene: Scene, members: list[int]) -> np.ndarray:
        """Pixels of the union of the objects ``members`` (memoised while none of them is reduced)."""
        if self.reduced[list(members)].any():
            return scene.union([self.pixels[s] for s in members])
        key = tuple(members)
        if key not in self.unions:
            self.unions[key] = scene.union([self.pixels[s] for s in members])
        return self.unions[key]


def assign_classes(scene: Scene, t1: np.ndarray, unions: dict | None = None) -> Objects:
    """Step 2: an object takes its majority class when that class covers more than t1 of its area.

    ``unions`` may carry memoised unions of unreduced objects from an earlier refinement of the same scene.
    """
    major, count = scene.majority
    share = count / np.maximum(scene.obj_area, 1)
    cls = np.where(share > t1[major], major, -1) if len(major) else np.zeros(0, np.int64)
    return Objects(
        cls=cls,
        ratio=np.round(share, 3),
        pixels=list(scene.obj_pixels),
        area=scene.obj_area.copy(),
        reduced=np.zeros(len(major), bool),
        unions={} if unions is None else unions,
    )


def resolve_object_overlaps(scene: Scene, objects: Objects, t2: np.ndarray, modify: Sequence[int]) -> None:
    """Step 3: a larger object gives up the pixels of a smaller, purer object of another class."""
    order = scene.area_order
    overlaps = scene.object_overlaps
    in_modify = np.isin(objects.cls, list(modify))
    scratch = scene.scratch
    for position, a in enumerate(order):
        if not in_modify[a]:
            continue
        later = order[position + 1 :]
        later = later[(objects.cls[later] >= 0) & (objects.cls[later] != objects.cls[a])]
        later = later[objects.ratio[a] < objects.ratio[later]]
        if not len(later):
            continue
        original = overlaps[a].toarray().ravel()
        for b in later[original[later] > 0]:
            if objects.reduced[a]:
                scratch[objects.pixels[a]] = True
                shared = int(scratch[objects.pixels[b]].sum())
                scratch[objects.pixels[a]] = False
            else:
                shared = int(original[b])
            if shared / objects.area[b] > t2[objects.cls[a]]:
                scratch[objects.pixels[b]] = True
                objects.pixels[a] = objects.pixels[a][~scratch[objects.pixels[a]]]
                scratch[objects.pixels[b]] = False
                objects.area[a] = len(objects.pixels[a])
                objects.reduced[a] = True


def candidate_lists(
    scene: Scene, objects: Objects, members: np.ndarray, instances: np.ndarray, t1: float, t2: float
) -> list[list[int]]:
    """Step 4, first half: the objects each instance gathers (a big object empties the list so far)."""
    if not len(members) or not len(instances):
        return [[] for _ in instances]
    counts = np.array([len(objects.pixels[s]) for s in members])
    big = np.flatnonzero(counts > BIG_OBJECT_PIXELS)
    start = big[-1] + 1 if len(big) else 0
    members = members[start:]
    if not len(members):
        return [[] for _ in instances]
    shared = np.stack([objects.instance_overlaps(scene, s)[instances] for s in members])
    taken = (shared / objects.area[members][:, None] > t1) | (shared / scene.inst_size[instances][None, :] > t2)
    return [members[taken[:, column]].tolist() for column in range(len(instances))]


def replacement(
    scene: Scene, objects: Objects, instance: int, candidates: list[int], t1: float, t2: float, max_objects: int
) -> np.ndarray | None:
    """Step 4, second half: the pixels that replace ``instance``, or None when it stays as it is."""
    size = scene.inst_size[instance]
    if 1 < len(candidates) < max_objects:
        union = objects.union(scene, candidates)
        inside = int(np.count_nonzero(scene.flat_inst[union] == instance))
        return union if inside / size > t2 else None
    if len(candidates) == 1:
        pixels = objects.pixels[candidates[0]]
        return pixels if len(pixels) > t2 * size and len(pixels) * t1 < size else None
    return None


@dataclass
class RefinedClass:
    """A refined class: its union mask and its (possibly replaced) instances."""

    cls: int
    mask: np.ndarray
    instances: list[tuple[int, np.ndarray | None]]


def refine_class(
    scene: Scene, objects: Objects, cls: int, t1: float, t2: float, max_objects: int
) -> RefinedClass | None:
    """Step 4 for one class: replace its instances and return their union (None without instances)."""
    instances = scene.instances_of(cls)
    if not len(instances):
        return None
    members = scene.area_order[objects.cls[scene.area_order] == cls]
    gathered = candidate_lists(scene, objects, members, instances, t1, t2)
    mask = scene.flat_pred == cls
    refined: list[tuple[int, np.ndarray | None]] = []
    replaced_pixels = []
    for instance, candidates in zip(instances, gathered):
        pixels = replacement(scene, objects, instance, candidates, t1, t2, max_objects)
        refined.append((int(instance), pixels))
        if pixels is not None:
            mask[scene.instance_pixels(instance)] = False
            replaced_pixels.append(pixels)
    for pixels in replaced_pixels:
        mask[pixels] = True
    return RefinedClass(cls=cls, mask=mask, instances=refined)


def components_of(pixels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """OpenCV 8-connected component label (1..n) of each flat column-major pixel, in full-image label order."""
    cols, rows = np.divmod(pixels, shape[0])
    top, left = rows.min(), cols.min()
    grid = np.zeros((rows.max() - top + 1, cols.max() - left + 1), np.uint8)
    grid[rows - top, cols - left] = 1
    _, labels = cv2.connectedComponents(grid, connectivity=8)
    return labels[rows - top, cols - left].astype(np.int64)


def best_iou(
    scene: Scene, refined: RefinedClass, pixels: np.ndarray, labels: np.ndarray, label_map: np.ndarray
) -> np.ndarray:
    """Per component (labels 1..n of ``pixels``), the best IoU with any instance of a refined class."""
    count = int(labels.max())
    sizes = np.bincount(labels, minlength=count + 1)[1:]
    best = np.zeros(count)
    unreplaced = np.ones(len(scene.inst_class), bool)
    unreplaced[[i for i, replaced in refined.instances if replaced is not None]] = False
    instance = scene.flat_inst[pixels]
    keep = unreplaced[instance] & (scene.inst_class[instance] == refined.cls)
    instance_count = len(scene.inst_class)
    keys = labels[keep] * instance_count + instance[keep]
    if keys.size:
        unique, shared = np.unique(keys, return_counts=True)
        component, instance = np.divmod(unique, instance_count)
        iou = shared / (sizes[component - 1] + scene.inst_size[instance] - shared)
        np.maximum.at(best, component - 1, iou)
    for _, replaced in refined.instances:
        if replaced is None:
            continue
        shared = np.bincount(label_map[replaced], minlength=count + 1)[1:]
        best = np.maximum(best, shared / (sizes + len(replaced) - shared))
    return best


def settle_conflicts(
    scene: Scene, refined: dict[int, RefinedClass | None], modify: Sequence[int]
) -> list[tuple[np.ndarray, int]]:
    """Step 5: pixels claimed by two refined classes go, per connected component, to the better-matching class."""
    settled = []
    label_map = np.zeros(scene.pred.size, np.int64)
    for i, first in enumerate(modify):
        for second in modify[i + 1 :]:
            a, b = refined[first], refined[second]
            if a is None or b is None:
                continue
            pixels = np.flatnonzero(a.mask & b.mask)
            if not pixels.size:
                continue
            labels = components_of(pixels, scene.shape)
            label_map[pixels] = labels
            first_iou = best_iou(scene, a, pixels, labels, label_map)
            second_iou = best_iou(scene, b, pixels, labels, label_map)
            label_map[pixels] = 0
            order = np.argsort(labels, kind="stable")
            bounds = np.searchsorted(labels[order], np.arange(1, len(first_iou) + 2))
            for number in range(len(first_iou)):
                winner = first if first_iou[number] > second_iou[number] else second
                settled.append((pixels[order[bounds[number] : bounds[number + 1]]], winner))
    return settled


def paint(scene: Scene, refined: dict[int, RefinedClass | None], settled, modify: Sequence[int]) -> np.ndarray:
    """Step 6: conflicts first, then each refined class on free pixels, then the filled prediction."""
    image = np.full(scene.pred.size, UNSET, np.uint8)
    free = np.ones(scene.pred.size, bool)
    for pixels, cls in settled:
        image[pixels] = np.where(free[pixels], cls, 0)
        free[pixels] = False
    for cls in modify:
        if refined[cls] is not None:
            image[refined[cls].mask & free] = cls
    unset = np.flatnonzero(image == UNSET)
    original = scene.flat_pred[unset]
    values = original.copy()
    for cls in modify:
        here = original == cls
        if here.any():
            values[here] = scene.filled(cls)[unset[here]]
    image[unset] = values
    return image.reshape(scene.shape, order="F")


def refine_scene(
    scene: Scene, t1: np.ndarray, t2: np.ndarray, modify: Sequence[int], max_objects: int = 10
) -> np.ndarray:
    """Run steps 2 to 6 on a precomputed scene with per-class threshold arrays."""
    modify = [int(c) for c in modify]
    objects = assign_classes(scene, t1)
    resolve_object_overlaps(scene, objects, t2, modify)
    refined = {cls: refine_class(scene, objects, cls, t1[cls], t2[cls], max_objects) for cls in modify}
    settled = settle_conflicts(scene, refined, modify)
    return paint(scene, refined, settled, modify)
