"""Generated images for benchmarks and tests: a ground truth, a prediction and SAM objects, in the sweep's layout.

An image is made in three layers, each drawn from a :class:`Population`'s statistics:

- the ground truth: blocky regions (a coarse grid of land-cover cells, each cell one class) with buildings
  (small rectangles) and roads (long strips) drawn over it;
- the prediction: the ground truth seen through a smooth random displacement with per-pixel jitter, so region
  boundaries come out fragmented and noisy (many small instances along them), with some whole regions given a
  confusable class and some speckle of wrong classes;
- the objects: most ground-truth regions as one object each (the kind of mask SAM finds), with errors: some
  grown or shrunk by a few pixels, some merged with a neighbouring region, some cut in two, and a few small
  objects nested inside larger ones.

Refinement helps on such images: objects that follow the true regions replace the noisy predicted instances.
Image ``i`` of a seed is the same whatever the count, so a smaller benchmark is a prefix of a larger one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import pycocotools.mask as mask_utils
from tqdm import tqdm

from rscommon.datasets import get_dataset
from rscommon.labels import write_label_png
from rscommon.objects import object_record
from rscommon.parallel import LOCAL, Execution, progress_map


@dataclass(frozen=True)
class Population:
    """The statistics images are drawn from (sizes in pixels of a 1024 x 1024 image; scaled with the size)."""

    class_weights: tuple[float, ...] = (0.45, 0.0, 0.0, 0.08, 0.07, 0.18, 0.22)
    """How often a land-cover cell takes each class (buildings and roads come as shapes instead)."""
    cell: int = 128
    buildings: int = 25
    building_size: tuple[int, int] = (12, 48)
    building_class: int = 1
    roads: int = 4
    road_width: tuple[int, int] = (6, 14)
    road_class: int = 2
    displacement: float = 2.0
    """Amplitude of the smooth displacement that moves predicted boundaries."""
    jitter: float = 0.002
    """Share of pixels moved by a further two or three pixels: the fragments along boundaries."""
    confusions: dict[int, int] | None = None
    """Class -> the class a confused region takes (default: farmland <-> barren, forest -> farmland)."""
    confusion_rate: float = 0.08
    speckles: int = 30
    object_rate: float = 0.85
    """Share of ground-truth regions that become objects."""
    grow_rate: float = 0.15
    merge_rate: float = 0.08
    split_rate: float = 0.08
    nested_rate: float = 0.1
    min_region: int = 150

    def at_density(self, objects_per_image: float) -> Population:
        """This population with about ``objects_per_image`` objects per 1024 x 1024 image (median; a SAM grid of
        points finds 80 to 150 on a busy aerial tile): more buildings and smaller land-cover cells, both scaled by
        one factor fitted on generated images (the object count grows as that factor to the power 0.85, from
        :data:`BASE_OBJECTS` at factor 1). Measure the count of the images made: this only aims at it."""
        if objects_per_image <= 0:
            raise ValueError(f"objects per image {objects_per_image}: give a positive number")
        factor = (objects_per_image / BASE_OBJECTS) ** (1 / 0.85)
        return replace(self, buildings=round(self.buildings * factor), cell=max(round(self.cell / factor**0.5), 8))


BASE_OBJECTS = 71
"""The median object count of a 1024 x 1024 image of :data:`URBAN_LIKE`."""


URBAN_LIKE = Population()
RURAL_LIKE = Population(
    class_weights=(0.25, 0.0, 0.0, 0.1, 0.12, 0.23, 0.3),
    cell=192,
    buildings=20,
    roads=2,
    displacement=4.5,
    jitter=0.025,
    confusion_rate=0.15,
    object_rate=0.75,
    merge_rate=0.15,
)
POPULATIONS = {"urban": URBAN_LIKE, "rural": RURAL_LIKE}


def generate_images(
    folder: str | Path,
    count: int,
    seed: int,
    size: int = 1024,
    dataset: str = "Urban",
    population: Population = URBAN_LIKE,
    execution: Execution = LOCAL,
) -> list[str]:
    """Write ``count`` images as ``folder/pred/<stem>.png``, ``folder/sam/<stem>.json`` and ``folder/gt/<stem>.png``.

    Returns the stems (``g00000``, ...). Image ``i`` is drawn from ``seed`` and ``i`` only. ``dataset`` names the
    palette the PNGs are written with; its classes must include the population's.
    """
    folder = Path(folder)
    for kind in ("pred", "sam", "gt"):
        (folder / kind).mkdir(parents=True, exist_ok=True)
    jobs = [(folder, f"g{index:05d}", (seed, index), size, dataset, population) for index in range(count)]
    return progress_map(_write_image, jobs, execution, desc="generate images", unit="image")


def _write_image(job: tuple[Path, str, tuple[int, int], int, str, Population]) -> str:
    folder, stem, seed, size, dataset, population = job
    spec = get_dataset(dataset)
    gt, pred, objects = make_image(np.random.default_rng(seed), size, population)
    write_label_png(folder / "gt" / f"{stem}.png", gt, spec)
    write_label_png(folder / "pred" / f"{stem}.png", pred, spec)
    (folder / "sam" / f"{stem}.json").write_text(json.dumps(objects))
    return stem


def make_image(
    rng: np.random.Generator, size: int, population: Population
) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """One image: ground truth, prediction (both size x size class maps) and object records."""
    scale = size / 1024
    gt = ground_truth(rng, size, population, scale)
    regions = Regions.of(gt)
    return gt, prediction(rng, gt, regions, population, scale), objects_of(rng, gt, regions, population, scale)


def ground_truth(rng: np.random.Generator, size: int, population: Population, scale: float) -> np.ndarray:
    """Land-cover cells with buildings and roads drawn over them."""
    weights = np.array(population.class_weights) / sum(population.class_weights)
    cells = -(-size // max(int(population.cell * scale), 4))
    grid = rng.choice(len(weights), size=(cells, cells), p=weights).astype(np.uint8)
    gt = cv2.resize(grid, (size, size), interpolation=cv2.INTER_NEAREST)
    low, high = _scaled(population.building_size, scale)
    for _ in range(int(population.buildings * scale * scale)):
        top, left = rng.integers(0, size, 2)
        gt[top : top + rng.integers(low, high), left : left + rng.integers(low, high)] = population.building_class
    low, high = _scaled(population.road_width, scale)
    for _ in range(population.roads):
        at, width = int(rng.integers(0, size)), int(rng.integers(low, high))
        if rng.random() < 0.5:
            gt[at : at + width] = population.road_class
        else:
            gt[:, at : at + width] = population.road_class
    return gt


def _scaled(bounds: tuple[int, int], scale: float) -> tuple[int, int]:
    """Size bounds scaled to the image, at least 2 pixels and one value wide."""
    low = max(int(bounds[0] * scale), 2)
    return low, max(int(bounds[1] * scale), low + 1)


def prediction(
    rng: np.random.Generator, gt: np.ndarray, regions: Regions, population: Population, scale: float
) -> np.ndarray:
    """The ground truth with displaced, jittered boundaries, some regions confused and some speckle."""
    size = gt.shape[0]
    confusions = population.confusions or {6: 4, 4: 6, 5: 6, 0: 1}
    taken = np.full(len(regions.classes) + 1, -1, np.int64)
    for number, cls in enumerate(regions.classes, start=1):
        if cls in confusions and rng.random() < population.confusion_rate:
            taken[number] = confusions[cls]
    taken = taken[regions.numbers]
    truth = np.where(taken >= 0, taken, gt).astype(np.uint8)
    shift = [
        cv2.resize(
            rng.normal(0, population.displacement * max(scale, 0.25), (9, 9)).astype(np.float32),
            (size, size),
            interpolation=cv2.INTER_CUBIC,
        )
        for _ in range(2)
    ]
    rows, cols = np.indices(gt.shape, dtype=np.float32)
    for axis in shift:
        moved = rng.random(gt.shape) < population.jitter
        axis[moved] += rng.choice(np.array([-3.0, -2.0, 2.0, 3.0], np.float32), int(moved.sum()))
    pred = cv2.remap(truth, cols + shift[1], rows + shift[0], cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT)
    classes = len(population.class_weights)
    for _ in range(population.speckles):
        top, left = rng.integers(0, size, 2)
        radius = max(int(rng.integers(2, 9) * scale), 1)
        cv2.circle(pred, (int(left), int(top)), radius, int(rng.integers(classes)), -1)
    return pred


def objects_of(
    rng: np.random.Generator, gt: np.ndarray, regions: Regions, population: Population, scale: float
) -> list[dict]:
    """Object records that mostly follow the ground-truth regions, with errors."""
    numbers, boxes = regions.numbers, regions.stats
    pad = 6
    masks = []
    for number in range(1, len(regions.classes) + 1):
        left, top, wide, tall, area = boxes[number]
        if area < population.min_region * scale * scale or rng.random() > population.object_rate:
            continue
        window = (slice(max(top - pad, 0), top + tall + pad), slice(max(left - pad, 0), left + wide + pad))
        crop = numbers[window] == number
        draw = rng.random()
        if draw < population.grow_rate:
            operation = cv2.dilate if rng.random() < 0.5 else cv2.erode
            crop = operation(crop.view(np.uint8), _KERNEL, iterations=int(rng.integers(1, 5))).astype(bool)
        elif draw < population.grow_rate + population.merge_rate:
            around = cv2.dilate(crop.view(np.uint8), _KERNEL, iterations=2).astype(bool) & ~crop
            neighbours = np.unique(numbers[window][around])
            neighbours = neighbours[neighbours != number]
            if len(neighbours):
                other = int(rng.choice(neighbours))
                merged = np.concatenate(
                    [
                        _pixels(crop, window, gt.shape),
                        _pixels(_crop(numbers, other, boxes[other]), _box(boxes[other]), gt.shape),
                    ]
                )
                merged.sort()
                masks.append(merged[np.r_[True, np.diff(merged) > 0]])
                continue
        elif draw < population.grow_rate + population.merge_rate + population.split_rate:
            rows, cols = np.nonzero(crop)
            axis = rows if rng.random() < 0.5 else cols
            half = np.zeros_like(crop)
            chosen = axis <= np.median(axis)
            half[rows[chosen], cols[chosen]] = True
            masks.append(_pixels(crop & ~half, window, gt.shape))
            crop = half
        if rng.random() < population.nested_rate and crop.any():
            masks.append(_pixels(_nested(rng, crop), window, gt.shape))
        masks.append(_pixels(crop, window, gt.shape))
    return [_record(pixels, gt.shape) for pixels in masks if len(pixels)]


_KERNEL = np.ones((3, 3), np.uint8)


def _box(stats: np.ndarray) -> tuple[slice, slice]:
    left, top, wide, tall = (int(v) for v in stats[:4])
    return slice(top, top + tall), slice(left, left + wide)


def _crop(numbers: np.ndarray, number: int, stats: np.ndarray) -> np.ndarray:
    return numbers[_box(stats)] == number


def _pixels(crop: np.ndarray, window: tuple[slice, slice], shape: tuple[int, int]) -> np.ndarray:
    """Sorted flat column-major indices of the pixels of ``crop`` placed at ``window``."""
    cols, rows = np.nonzero(crop.T)
    return (cols + window[1].start).astype(np.int64) * shape[0] + rows + window[0].start


def _record(pixels: np.ndarray, shape: tuple[int, int]) -> dict:
    """The object record of a pixel set (sorted flat column-major indices)."""
    breaks = np.flatnonzero(np.diff(pixels) != 1) + 1
    starts, ends = pixels[np.r_[0, breaks]], pixels[np.r_[breaks - 1, len(pixels) - 1]] + 1
    runs = np.empty(2 * len(starts) + 1, np.int64)
    runs[0], runs[1::2], runs[2::2] = starts[0], ends - starts, np.r_[starts[1:], shape[0] * shape[1]] - ends
    counts = [int(v) for v in runs[:-1]] if runs[-1] == 0 else [int(v) for v in runs]
    return object_record(mask_utils.frPyObjects({"counts": counts, "size": list(shape)}, *shape))


def _nested(rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
    """A rectangle inside the bounding box of ``mask``, cut to the mask: a part SAM also finds."""
    rows, cols = np.nonzero(mask)
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    tall, wide = max((bottom - top) // 2, 1), max((right - left) // 2, 1)
    y, x = int(rng.integers(top, bottom - tall + 1)), int(rng.integers(left, right - wide + 1))
    part = np.zeros_like(mask)
    part[y : y + tall, x : x + wide] = True
    return part & mask


@dataclass(frozen=True)
class Regions:
    """The 8-connected regions of every class of a label map: their classes, a map of region numbers (1..n) and
    per number its OpenCV stats (left, top, width, height, area; row 0 unused)."""

    classes: list[int]
    numbers: np.ndarray
    stats: np.ndarray

    @classmethod
    def of(cls, labels: np.ndarray) -> Regions:
        numbers = np.zeros(labels.shape, np.int32)
        classes: list[int] = []
        stats = [np.zeros((1, 5), np.int32)]
        for value in np.flatnonzero(np.bincount(labels.ravel(), minlength=256)):
            count, parts, found, _ = cv2.connectedComponentsWithStats((labels == value).view(np.uint8), connectivity=8)
            inside = parts > 0
            numbers[inside] = parts[inside] + len(classes)
            classes += [int(value)] * (count - 1)
            stats.append(found[1:])
        return cls(classes, numbers, np.concatenate(stats))


def main(argv: list[str] | None = None) -> int:
    """``python -m sessrs.synthetic FOLDER COUNT [--seed S] [--size N] [--population urban|rural] [-n W]``."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder")
    parser.add_argument("count", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--population", choices=POPULATIONS, default="urban")
    parser.add_argument("-n", "--workers", type=int, default=1)
    args = parser.parse_args(argv)
    stems = generate_images(
        args.folder,
        args.count,
        args.seed,
        args.size,
        population=POPULATIONS[args.population],
        execution=Execution(args.workers),
    )
    tqdm.write(f"{len(stems)} images in {args.folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
