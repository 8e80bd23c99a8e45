"""The weight-free object source (scikit-image regions, not SAM) on the real sample tiles."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from image_files import pixels

from rscommon.images import read_rgb
from rscommon.objects import decode_masks, read_objects
from sam_objects.regions_source import region_labels
from sam_objects.registry import build_object_source, settings_for
from sam_objects.runner import generate_object_jsons

SAMPLES = Path(__file__).resolve().parents[2] / "data/real_samples"
TILES = {  # image -> label map (raw codes; any coding serves for purity)
    "loveda/mmseg_0.png": "loveda/mmseg_0_mask.png",
    "loveda/mmseg_1.png": "loveda/mmseg_1_mask.png",
    "loveda/mmseg_2.png": "loveda/mmseg_2_mask.png",
    "potsdam/top_potsdam_2_10_crop0_0_512_512_RGB.png": "potsdam/top_potsdam_2_10_crop0_0_512_512_label_mmseg.png",
    "vaihingen/area1_0_0_512_512_IRRG.png": "vaihingen/area1_0_0_512_512_label_mmseg.png",
}


def _boundaries(labels: np.ndarray) -> np.ndarray:
    edge = np.zeros(labels.shape, dtype=bool)
    edge[:-1] |= labels[:-1] != labels[1:]
    edge[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    return edge


def _boundary_recall(partition: np.ndarray, labels: np.ndarray, tolerance: int = 2) -> float:
    """Share of ground-truth class boundary pixels within ``tolerance`` pixels of a region boundary."""
    kernel = np.ones((2 * tolerance + 1, 2 * tolerance + 1), np.uint8)
    near = cv2.dilate(_boundaries(partition).astype(np.uint8), kernel) > 0
    truth = _boundaries(labels)
    return float((near & truth).sum() / truth.sum())


def _purity(partition: np.ndarray, labels: np.ndarray) -> float:
    """Share of pixels whose label is the majority label of their region."""
    pairs = np.unique(partition.astype(np.int64) * 256 + labels, return_counts=True)
    region, counts = pairs[0] // 256, pairs[1]
    majority = np.zeros(region.max() + 1, dtype=np.int64)
    np.maximum.at(majority, region, counts)
    return float(majority.sum() / labels.size)


def _grid(shape: tuple[int, int], count: int) -> np.ndarray:
    """A partition into a regular grid of about ``count`` cells."""
    side = max(1, round(np.sqrt(count)))
    rows = np.arange(shape[0]) * side // shape[0]
    cols = np.arange(shape[1]) * side // shape[1]
    return rows[:, None] * side + cols[None, :]


def _object_partition(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """Region id per pixel from an object JSON (0 = no object)."""
    partition = np.zeros(shape, dtype=np.int64)
    for region_id, record in enumerate(read_objects(path, shape=shape), start=1):
        partition[decode_masks([record], shape)[:, :, 0] > 0] = region_id
    return partition


@pytest.fixture(scope="module")
def region_jsons(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("regions")
    source = build_object_source("regions")
    summary = generate_object_jsons([SAMPLES / name for name in TILES], out, source)
    assert not summary.failed and len(summary.written) == len(TILES)
    return out


@pytest.fixture(scope="module")
def partitions(region_jsons: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per tile: (region id per pixel, ground-truth label codes)."""
    result = {}
    for image_name, label_name in TILES.items():
        labels = pixels(SAMPLES / label_name)
        result[image_name] = (_object_partition(region_jsons / f"{Path(image_name).stem}.json", labels.shape), labels)
    return result


@pytest.mark.parametrize("image_name", list(TILES))
def test_regions_are_valid_disjoint_objects_sessrs_reads(region_jsons: Path, image_name: str) -> None:
    image = read_rgb(SAMPLES / image_name)
    path = region_jsons / f"{Path(image_name).stem}.json"
    objects = read_objects(path, shape=image.shape[:2])  # checks sizes and area == decoded pixel count
    masks = decode_masks(objects, image.shape[:2])
    assert 5 <= len(objects) <= 2000
    assert masks.sum(axis=2).max() == 1, "regions of a partition must not overlap"
    assert min(o["area"] for o in objects) >= settings_for("regions").min_mask_region_area
    assert max(o["area"] for o in objects) < 0.9 * image.shape[0] * image.shape[1]


@pytest.mark.parametrize("image_name", list(TILES))
def test_region_boundaries_follow_class_boundaries_far_better_than_a_grid(partitions: dict, image_name: str) -> None:
    regions, labels = partitions[image_name]
    grid = _grid(labels.shape, len(np.unique(regions)))
    assert _boundary_recall(regions, labels) > 2 * _boundary_recall(grid, labels)


def test_regions_are_purer_than_a_grid_of_as_many_cells(partitions: dict) -> None:
    region_purity, grid_purity = [], []
    for regions, labels in partitions.values():
        region_purity.append(_purity(regions, labels))
        grid_purity.append(_purity(_grid(labels.shape, len(np.unique(regions))), labels))
    assert np.mean(region_purity) > np.mean(grid_purity)


def test_slic_method_partitions_the_tile() -> None:
    image = read_rgb(SAMPLES / "potsdam/top_potsdam_2_10_crop0_0_512_512_RGB.png")
    labels = region_labels(image, settings_for("regions", method="slic", n_segments=100))
    assert labels.shape == image.shape[:2]
    assert 20 <= len(np.unique(labels)) <= 200
