"""generate_img_sam.py draws object by object into one canvas: the pictures of the mask stack it replaced, in the
memory of one image whatever the number of objects; more objects than the limit fail their image in one line."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from image_files import pixels
from large_files import one_pixel_objects
from PIL import Image

from rscommon.files import write_json_atomic
from rscommon.limits import DEFAULT_MAX_OBJECTS
from rscommon.objects import decode_masks, encode_object, read_objects
from rscommon.overlay import NOT_COVERED, colour_ranks, rank_records, render_objects
from sam_objects.render_cli import main

SHAPE = (30, 40)


def test_pictures_from_the_records_are_those_of_the_decoded_masks(tmp_path: Path) -> None:
    """Overlapping objects of many sizes, ties among them: the same colour per pixel as the mask stack gave."""
    generator = np.random.default_rng(4)
    masks = []
    for _ in range(60):
        top, left = generator.integers(0, SHAPE[0] - 3), generator.integers(0, SHAPE[1] - 3)
        height, width = generator.integers(1, 12, size=2)
        mask = np.zeros(SHAPE, bool)
        mask[top : top + height, left : left + width] = True
        masks.append(mask)
    write_json_atomic(tmp_path / "objects.json", [encode_object(mask) for mask in masks])
    objects = read_objects(tmp_path / "objects.json", SHAPE)
    stack = decode_masks(objects, SHAPE)
    ranks = rank_records(objects, SHAPE)
    assert np.array_equal(colour_ranks(ranks), render_objects(stack))
    assert np.array_equal(ranks != NOT_COVERED, stack.any(axis=2))
    assert len(np.unique(ranks)) > 20


def test_drawing_many_objects_takes_the_memory_of_one_image(tmp_path: Path) -> None:
    """2,000 objects on a 400 x 500 image: the mask stack took 400 MB, the canvas takes under 1 MB."""
    images, jsons, out = tmp_path / "images", tmp_path / "json", tmp_path / "pictures"
    images.mkdir()
    jsons.mkdir()
    Image.fromarray(np.full((400, 500, 3), 90, np.uint8)).save(images / "tile.png")
    one_pixel_objects(jsons / "tile.json", 2000, shape=(400, 500))
    tracemalloc.start()
    try:
        assert main(["-i", str(images), "-j", str(jsons), "-o", str(out)]) == 0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 40 << 20, f"{peak / 2**20:.0f} MiB"
    assert (pixels(out / "label/tile.png").any(axis=2)).sum() == 1


def test_more_objects_than_the_limit_fail_their_image_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    images, jsons, out = tmp_path / "images", tmp_path / "json", tmp_path / "pictures"
    images.mkdir()
    jsons.mkdir()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(images / "tile.png")
    path = one_pixel_objects(jsons / "tile.json", DEFAULT_MAX_OBJECTS + 1, shape=(4, 4))
    assert main(["-i", str(images), "-j", str(jsons), "-o", str(out)]) == 1
    failures = [line for line in capsys.readouterr().err.splitlines() if "FAILED" in line]
    assert failures == [
        f"FAILED tile.png: InputError: {path}: more than {DEFAULT_MAX_OBJECTS:,} objects in one "
        "image (raise the limit with $SESSRS_MAX_OBJECTS_PER_IMAGE if they are real)"
    ]
