"""Object quality as a knob: the faults of segment-anything masks on aerial imagery, applied to a scene's objects.

The generated images (:mod:`sessrs.synthetic`) have objects that follow the true regions with small errors, the
kind on which a plain vote over objects beats per-class thresholds. Real segment-anything output on aerial tiles is
worse, in ways each fault here imitates (each is off at its default, so ``ObjectFaults()`` changes nothing):

- **merge** (``merge_rate``, ``merge_neighbours``): an object swallows touching objects of another true class.
  SAM merges neighbours of similar colour or texture: a grey roof and the road beside it, a field and the fallow
  strip next to it, a tree crown and its shadow on the lawn.
- **split** (``split_rate``, ``split_pieces``, ``split_min_share``): a large object is cut into pieces.
  Large uniform areas (fields, water, parking lots) get over-segmented along furrows, glints and texture changes,
  and SAM's crop tiling cuts them at tile borders.
- **miss** (``miss_rate``, ``small_share``): small objects vanish. The point grid misses cars, sheds and small
  buildings, and ``min_mask_region_area`` and the quality filters drop small masks.
- **offset** (``offset``): each object moved by up to this many pixels. Masks that include a building's shadow
  or facade (off-nadir views), or a prediction and imagery misregistered by a few pixels.
- **erosion** (``erosion``): every object shrunk by this many pixels. Masks stopping short of blurred edges, the
  low-resolution mask decoder rounding corners off.
- **garbage** (``garbage_rate``): extra masks of random blobs crossing class boundaries, as many as this share
  of the objects. Masks of shadows, texture patches and half-images, the low-IoU proposals a generator keeps.

:meth:`ObjectFaults.at_quality` sets all of them together along one axis from 0 (the objects as they are) to 1.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from rscommon.objects import decode_masks, encode_object

_KERNEL = np.ones((3, 3), np.uint8)


@dataclass(frozen=True)
class ObjectFaults:
    """How much of each fault to apply (see the module); every default is "none"."""

    merge_rate: float = 0.0
    """Share of objects that swallow touching objects of another true class."""
    merge_neighbours: int = 2
    """At most this many neighbours swallowed by one merging object."""
    split_rate: float = 0.0
    """Share of large objects cut into pieces."""
    split_pieces: int = 4
    split_min_share: float = 0.02
    """An object is large when it covers at least this share of the image."""
    miss_rate: float = 0.0
    """Share of small objects dropped."""
    small_share: float = 0.005
    """An object is small when it covers less than this share of the image."""
    offset: int = 0
    """Each object moved by up to this many pixels along each axis."""
    erosion: int = 0
    """Every object shrunk by this many pixels."""
    garbage_rate: float = 0.0
    """Extra random masks, as a share of the number of objects."""

    def __post_init__(self) -> None:
        for name in ("merge_rate", "split_rate", "miss_rate", "garbage_rate", "split_min_share", "small_share"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {value!r}")
        for name, least in (("merge_neighbours", 1), ("split_pieces", 2), ("offset", 0), ("erosion", 0)):
            value = getattr(self, name)
            if int(value) != value or value < least:
                raise ValueError(f"{name} must be a whole number of at least {least}, got {value!r}")

    @classmethod
    def at_quality(cls, badness: float) -> ObjectFaults:
        """Every fault together, from 0 (none) to 1 (objects about as bad as the weight-free regions on real tiles:
        an eighth of the objects merged with a neighbour, half the large ones split, most small ones missed, 2
        pixels of offset and of erosion, a tenth more masks of garbage)."""
        if not 0 <= badness <= 1:
            raise ValueError(f"badness must be in [0, 1], got {badness!r}")
        return cls(
            merge_rate=0.12 * badness,
            merge_neighbours=1,
            split_rate=0.5 * badness,
            miss_rate=0.7 * badness,
            offset=round(2 * badness),
            erosion=round(2 * badness),
            garbage_rate=0.1 * badness,
        )

    @property
    def is_identity(self) -> bool:
        """Whether no fault is switched on."""
        return not (
            self.merge_rate or self.split_rate or self.miss_rate or self.offset or self.erosion or self.garbage_rate
        )

    def describe(self) -> str:
        """The faults switched on, e.g. ``merge 0.35, offset 3`` (``none`` when none is)."""
        shown = {
            "merge": self.merge_rate,
            "split": self.split_rate,
            "miss": self.miss_rate,
            "offset": self.offset,
            "erosion": self.erosion,
            "garbage": self.garbage_rate,
        }
        return ", ".join(f"{name} {value:g}" for name, value in shown.items() if value) or "none"

    def only(self, name: str) -> ObjectFaults:
        """These faults with every other fault switched off (``name``: merge, split, miss, offset, erosion or
        garbage)."""
        fields = {
            "merge": ("merge_rate",),
            "split": ("split_rate",),
            "miss": ("miss_rate",),
            "offset": ("offset",),
            "erosion": ("erosion",),
            "garbage": ("garbage_rate",),
        }
        if name not in fields:
            raise ValueError(f"fault {name!r} is not one of {', '.join(fields)}")
        off = {field: 0 for other, kept in fields.items() if other != name for field in kept}
        return dataclasses.replace(self, **off)


FAULTS = ("merge", "split", "miss", "offset", "erosion", "garbage")


def degrade(rng: np.random.Generator, gt: np.ndarray, objects: Sequence[dict], faults: ObjectFaults) -> list[dict]:
    """``objects`` (records of an image whose true classes are ``gt``) with ``faults`` applied, in the module's
    order: merge, split, miss, offset, erosion, garbage. Every mask stays inside the image; empty ones are dropped.
    The objects are returned as they are when no fault is on."""
    if faults.is_identity:
        return list(objects)
    masks = list(decode_masks(list(objects), gt.shape).transpose(2, 0, 1)) if objects else []
    masks = _merge(rng, gt, masks, faults)
    masks = _split(rng, masks, faults)
    masks = _miss(rng, masks, faults)
    masks = [_shift(rng, mask, faults.offset) for mask in masks] if faults.offset else masks
    masks = [_erode(mask, faults.erosion) for mask in masks] if faults.erosion else masks
    masks += _garbage(rng, gt.shape, round(faults.garbage_rate * len(masks)))
    return [encode_object(mask) for mask in masks if mask.any()]


def plurality_classes(gt: np.ndarray, masks: Sequence[np.ndarray]) -> list[int]:
    """Each mask's most frequent true class."""
    return [int(np.bincount(gt[mask]).argmax()) if mask.any() else -1 for mask in masks]


def _merge(rng: np.random.Generator, gt: np.ndarray, masks: list[np.ndarray], faults: ObjectFaults) -> list[np.ndarray]:
    """Some objects swallow up to ``merge_neighbours`` touching objects of another plurality true class."""
    if not faults.merge_rate or len(masks) < 2:
        return masks
    classes = plurality_classes(gt, masks)
    gone: set[int] = set()
    merged = list(masks)
    for index in rng.permutation(len(masks)):
        if index in gone or rng.random() >= faults.merge_rate:
            continue
        ring = cv2.dilate(merged[index].view(np.uint8), _KERNEL, iterations=2).astype(bool)
        touching = [
            other
            for other in range(len(masks))
            if other != index and other not in gone and classes[other] != classes[index] and (ring & masks[other]).any()
        ]
        for other in rng.permutation(touching)[: faults.merge_neighbours]:
            merged[index] = merged[index] | merged[other]
            gone.add(int(other))
    return [mask for index, mask in enumerate(merged) if index not in gone]


def _split(rng: np.random.Generator, masks: list[np.ndarray], faults: ObjectFaults) -> list[np.ndarray]:
    """Some large objects cut into ``split_pieces`` pieces around random seeds (nearest seed wins)."""
    if not faults.split_rate:
        return masks
    result = []
    for mask in masks:
        if mask.mean() < faults.split_min_share or rng.random() >= faults.split_rate:
            result.append(mask)
            continue
        rows, cols = np.nonzero(mask)
        seeds = rng.choice(len(rows), size=min(faults.split_pieces, len(rows)), replace=False)
        distance = (rows[:, None] - rows[seeds]) ** 2 + (cols[:, None] - cols[seeds]) ** 2
        nearest = distance.argmin(axis=1)
        for piece in range(len(seeds)):
            part = np.zeros_like(mask)
            part[rows[nearest == piece], cols[nearest == piece]] = True
            result.append(part)
    return result


def _miss(rng: np.random.Generator, masks: list[np.ndarray], faults: ObjectFaults) -> list[np.ndarray]:
    """Small objects dropped with probability ``miss_rate``."""
    if not faults.miss_rate:
        return masks
    return [mask for mask in masks if mask.mean() >= faults.small_share or rng.random() >= faults.miss_rate]


def _shift(rng: np.random.Generator, mask: np.ndarray, reach: int) -> np.ndarray:
    """``mask`` moved by up to ``reach`` pixels along each axis; what leaves the image is cut off."""
    dy, dx = (int(v) for v in rng.integers(-reach, reach + 1, 2))
    moved = np.zeros_like(mask)
    height, width = mask.shape
    moved[max(dy, 0) : height + min(dy, 0), max(dx, 0) : width + min(dx, 0)] = mask[
        max(-dy, 0) : height + min(-dy, 0), max(-dx, 0) : width + min(-dx, 0)
    ]
    return moved


def _erode(mask: np.ndarray, pixels: int) -> np.ndarray:
    return cv2.erode(mask.view(np.uint8), _KERNEL, iterations=pixels).astype(bool)


def _garbage(rng: np.random.Generator, shape: tuple[int, int], count: int) -> list[np.ndarray]:
    """``count`` random ellipses, each up to a quarter of the image across."""
    blobs = []
    for _ in range(count):
        blob = np.zeros(shape, np.uint8)
        centre = (int(rng.integers(shape[1])), int(rng.integers(shape[0])))
        axes = tuple(int(v) for v in rng.integers(2, max(min(shape) // 8, 3), 2))
        cv2.ellipse(blob, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
        blobs.append(blob.astype(bool))
    return blobs
