"""Scenes for the SESSRS tests: the reference fixture scenes, and small random ones built to trigger every step."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

from rscommon.datasets import URBAN
from rscommon.labels import read_label_png, write_label_png
from rscommon.objects import encode_object, read_objects
from sessrs.prepared import PreparedImage, prepare_image

FIXTURES = Path(__file__).parent / "fixtures" / "sessrs_reference"
SCENES = FIXTURES / "scenes"


@cache
def fixture_scene(name: str) -> tuple[PreparedImage, np.ndarray]:
    """A fixture scene (shared: refinements never change a scene) and its ground truth."""
    pred = read_label_png(SCENES / "pred" / f"{name}.png")
    scene = prepare_image(pred, read_objects(SCENES / "sam" / f"{name}.json", pred.shape), URBAN.num_classes)
    return scene, read_label_png(SCENES / "gt" / f"{name}.png")


def random_case(seed: int, shape: tuple[int, int] = (40, 56), num_classes: int = 5) -> tuple[PreparedImage, np.ndarray]:
    """A random scene (see :func:`random_inputs`) and its ground truth."""
    pred, objects, gt = random_inputs(seed, shape, num_classes)
    return prepare_image(pred, objects, num_classes), gt


def random_inputs(
    seed: int, shape: tuple[int, int] = (40, 56), num_classes: int = 5
) -> tuple[np.ndarray, list[dict], np.ndarray]:
    """A random prediction of rectangles, objects that follow its regions (shifted, grown, merged, some big), and
    a ground truth that follows the objects more than the prediction, so that refinements change the scores."""
    rng = np.random.default_rng(seed)
    height, width = shape
    pred = np.zeros(shape, np.uint8)
    boxes = []
    for _ in range(int(rng.integers(6, 14))):
        top, left = int(rng.integers(0, height - 4)), int(rng.integers(0, width - 4))
        box = (top, left, int(rng.integers(3, height // 2)), int(rng.integers(3, width // 2)))
        pred[top : top + box[2], left : left + box[3]] = rng.integers(0, num_classes)
        boxes.append(box)
    gt = pred.copy()
    masks = []
    for _ in range(int(rng.integers(5, 16))):
        top, left, tall, wide = boxes[int(rng.integers(len(boxes)))]
        top, left = max(top + int(rng.integers(-2, 3)), 0), max(left + int(rng.integers(-2, 3)), 0)
        tall, wide = tall + int(rng.integers(-1, 4)), wide + int(rng.integers(-1, 4))
        mask = np.zeros(shape, bool)
        mask[top : top + tall, left : left + wide] = True
        if rng.random() < 0.2:
            mask |= np.roll(mask, int(rng.integers(3, 9)), axis=int(rng.integers(2)))
        if rng.random() < 0.1:
            mask[: height // 2 + 3] = True
        if mask.any():
            masks.append(mask)
            gt[mask] = np.bincount(pred[mask], minlength=num_classes).argmax()
    return pred, [encode_object(mask) for mask in masks], gt


def copy_fixture_scenes(root: Path, stems: Sequence[str]) -> Path:
    """The fixture scenes ``stems`` copied into ``root/pred``, ``root/sam`` and ``root/gt``; returns ``root``."""
    for kind, suffix in (("pred", "png"), ("sam", "json"), ("gt", "png")):
        (root / kind).mkdir(parents=True)
        for stem in stems:
            shutil.copy(SCENES / kind / f"{stem}.{suffix}", root / kind)
    return root


def write_random_scenes(root: Path, seeds: Sequence[int], shape: tuple[int, int] = (48, 64)) -> Path:
    """Random scenes (:func:`random_inputs`, Urban classes 0..4) written as ``root/pred/s<i>.png``,
    ``root/sam/s<i>.json`` and ``root/gt/s<i>.png`` for the i-th seed; returns ``root``."""
    for kind in ("pred", "sam", "gt"):
        (root / kind).mkdir(parents=True)
    for index, seed in enumerate(seeds):
        pred, objects, gt = random_inputs(seed, shape=shape)
        write_label_png(root / "pred" / f"s{index}.png", pred, URBAN)
        write_label_png(root / "gt" / f"s{index}.png", gt, URBAN)
        (root / "sam" / f"s{index}.json").write_text(json.dumps(objects))
    return root
