"""Everything about one image that the refinement needs and that does not depend on the thresholds.

That is step 1 (docs/algorithm.md, "Step 1: instances") and what later steps measure again and again: the
objects' pixels, class histograms and overlaps, and the fills of "Step 6: painting".

Pixel sets are arrays of flat indices in column-major (Fortran) order, the order of COCO RLE, so that a
decoded mask turns into indices without a transpose.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import cv2
import numpy as np
from scipy import ndimage, sparse

from rscommon.rle import rle_pixels

from .fill import fill_class


@dataclass
class PreparedImage:
    """A prediction split into instances, and the SAM objects measured against it."""

    pred: np.ndarray
    num_classes: int
    inst_map: np.ndarray
    inst_class: np.ndarray
    inst_size: np.ndarray
    inst_box: np.ndarray
    obj_pixels: list[np.ndarray]
    obj_area: np.ndarray
    nodata: int | None = None
    """A class marking pixels without data, which no pixel takes in a fill (see :func:`~sessrs.fill.fill_class`)."""
    _fills: dict[bool, np.ndarray] = field(default_factory=dict, repr=False)
    _filled: set[tuple[int, bool]] = field(default_factory=set, repr=False)
    _object_overlaps: dict[int, np.ndarray] = field(default_factory=dict, repr=False)
    _instance_pixels: dict[int, np.ndarray] = field(default_factory=dict, repr=False)
    _class_pixels: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        return self.pred.shape

    @cached_property
    def flat_pred(self) -> np.ndarray:
        return self.pred.ravel(order="F")

    @cached_property
    def flat_inst(self) -> np.ndarray:
        return self.inst_map.ravel(order="F")

    @cached_property
    def class_histograms(self) -> np.ndarray:
        """N x C counts of prediction classes under each object."""
        histograms = np.zeros((len(self.obj_pixels), self.num_classes), np.int64)
        for index, pixels in enumerate(self.obj_pixels):
            histograms[index] = np.bincount(self.flat_pred[pixels], minlength=self.num_classes)
        return histograms

    @cached_property
    def majority(self) -> tuple[np.ndarray, np.ndarray]:
        """Each object's most frequent prediction class (smallest on a tie) and its pixel count."""
        histograms = self.class_histograms
        major = histograms.argmax(axis=1) if len(histograms) else np.zeros(0, np.int64)
        return major, histograms[np.arange(len(major)), major]

    @cached_property
    def area_order(self) -> np.ndarray:
        """Objects by JSON area, largest first, equal areas in file order."""
        return np.argsort(-self.obj_area, kind="stable")

    @cached_property
    def area_position(self) -> np.ndarray:
        """Each object's position in :attr:`area_order`."""
        position = np.empty(len(self.obj_area), np.int64)
        position[self.area_order] = np.arange(len(self.obj_area))
        return position

    @cached_property
    def object_overlaps(self) -> sparse.csr_matrix:
        """N x N pixel counts of pairwise object intersections (original masks)."""
        lengths = np.array([len(p) for p in self.obj_pixels], np.int64)
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        indices = np.concatenate(self.obj_pixels) if self.obj_pixels else np.zeros(0, np.int64)
        shape = (len(self.obj_pixels), self.pred.size)
        indicator = sparse.csr_matrix((np.ones(len(indices), np.int32), indices, indptr), shape=shape)
        return indicator @ indicator.T

    def overlapping_objects(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The objects whose original masks meet that of object ``index`` (itself included), and the pixel counts
        of those intersections."""
        overlaps = self.object_overlaps
        row = slice(overlaps.indptr[index], overlaps.indptr[index + 1])
        return overlaps.indices[row], overlaps.data[row]

    @cached_property
    def scratch(self) -> np.ndarray:
        """A flat all-False mask for set operations; every user leaves it all False again."""
        return np.zeros(self.pred.size, bool)

    def union(self, pixel_sets: list[np.ndarray]) -> np.ndarray:
        """Sorted flat indices of the union of several pixel sets."""
        pixel_sets = [pixels for pixels in pixel_sets if len(pixels)]
        if not pixel_sets:
            return np.zeros(0, np.int64)
        low = min(int(pixels.min()) for pixels in pixel_sets)
        high = max(int(pixels.max()) for pixels in pixel_sets) + 1
        for pixels in pixel_sets:
            self.scratch[pixels] = True
        union = np.flatnonzero(self.scratch[low:high]) + low
        self.scratch[low:high] = False
        return union

    def instance_overlaps(self, pixels: np.ndarray) -> np.ndarray:
        """Pixel counts of ``pixels`` inside every prediction instance."""
        return np.bincount(self.flat_inst[pixels], minlength=len(self.inst_class))

    def object_instance_overlaps(self, index: int) -> np.ndarray:
        """Pixel counts of object ``index`` (its original mask) inside every prediction instance (cached)."""
        if index not in self._object_overlaps:
            self._object_overlaps[index] = self.instance_overlaps(self.obj_pixels[index])
        return self._object_overlaps[index]

    def instance_pixels(self, instance: int) -> np.ndarray:
        """Flat (column-major) indices of one prediction instance (cached)."""
        if instance not in self._instance_pixels:
            x, y, w, h = self.inst_box[instance]
            rows, cols = np.nonzero(self.inst_map[y : y + h, x : x + w] == instance)
            self._instance_pixels[instance] = (cols + x).astype(np.int64) * self.shape[0] + rows + y
        return self._instance_pixels[instance]

    def class_pixels(self, cls: int) -> np.ndarray:
        """Flat (column-major) indices of the pixels predicted as ``cls`` (cached)."""
        if cls not in self._class_pixels:
            self._class_pixels[cls] = np.flatnonzero(self.flat_pred == cls)
        return self._class_pixels[cls]

    def instances_of(self, cls: int) -> np.ndarray:
        return np.flatnonzero(self.inst_class == cls)

    def filled(self, cls: int, pixels: np.ndarray, neighbourhood: bool = False) -> np.ndarray:
        """The classes the flat ``pixels``, all predicted as ``cls``, take when the ``cls`` regions are filled from
        their surroundings.

        ``neighbourhood``: a region sees all its 8-neighbours, not only those inside its bounding box. Cached: one
        image per ``neighbourhood`` holds every class filled so far at that class's own pixels.
        """
        if (cls, neighbourhood) not in self._filled:
            fills = self._fills.setdefault(neighbourhood, np.zeros(self.pred.size, np.uint8))
            np.copyto(
                fills,
                fill_class(self.pred, cls, neighbourhood, self.nodata).ravel(order="F"),
                where=self.flat_pred == cls,
            )
            self._filled.add((cls, neighbourhood))
        return self._fills[neighbourhood][pixels]

    def forget_pixel_sets(self) -> None:
        """Drop the cached pixel sets of instances and classes (cheap to derive again; they add up over a search)."""
        self._instance_pixels.clear()
        self._class_pixels.clear()


def split_instances(pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """8-connected components of every class value of the uint8 ``pred``, ordered by class then OpenCV label order."""
    inst_map = np.empty(pred.shape, np.int32, order="F")  # so that flat_inst is a view, not a copy
    classes, sizes, boxes = [], [], []
    for value in np.flatnonzero(np.bincount(pred.ravel(), minlength=256)):  # the values present, without a sort
        # labels, then sizes and boxes by NumPy and SciPy: faster than OpenCV's statistics, the same numbers
        count, labels = cv2.connectedComponents((pred == value).view(np.uint8), connectivity=8)
        offset = len(sizes)
        member = labels > 0
        inst_map[member] = labels[member] + (offset - 1)
        classes.extend([int(value)] * (count - 1))
        sizes.extend(np.bincount(labels.ravel(), minlength=count)[1:].tolist())
        boxes.extend((x.start, y.start, x.stop - x.start, y.stop - y.start) for y, x in ndimage.find_objects(labels))
    return (
        inst_map,
        np.array(classes, np.int64),
        np.array(sizes, np.int64),
        np.array(boxes, np.int64).reshape(-1, 4),
    )


def prepare_image(pred: np.ndarray, objects: list[dict], num_classes: int, nodata: int | None = None) -> PreparedImage:
    """Precompute the instances of ``pred`` and the pixel sets of the (validated) ``objects``; ``nodata`` is
    the class marking pixels without data, if any."""
    pred = np.ascontiguousarray(pred, dtype=np.uint8)
    inst_map, inst_class, inst_size, inst_box = split_instances(pred)
    obj_pixels = [rle_pixels(o["rles"]["counts"], o["rles"]["size"]) for o in objects]
    return PreparedImage(
        pred=pred,
        num_classes=num_classes,
        inst_map=inst_map,
        inst_class=inst_class,
        inst_size=inst_size,
        inst_box=inst_box,
        obj_pixels=obj_pixels,
        obj_area=np.array([o["area"] for o in objects], np.int64),
        nodata=nodata,
    )
