"""Expanding COCO RLE runs to pixel indices agrees with pycocotools' dense decoding."""

import json
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_utils
import pytest

from rscommon.rle import RLEError, rle_counts, rle_pixels

SAM = Path(__file__).resolve().parents[1] / "fixtures" / "sessrs_reference" / "scenes" / "sam"


def dense_pixels(rle: dict) -> np.ndarray:
    decoded = mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode()})
    return np.flatnonzero(decoded.ravel(order="F"))


def test_every_fixture_object_decodes_like_pycocotools():
    checked = 0
    for path in sorted(SAM.glob("*.json")):
        for item in json.loads(path.read_text()):
            rle = item["rles"]
            assert np.array_equal(rle_pixels(rle["counts"], rle["size"]), dense_pixels(rle)), path.name
            checked += 1
    assert checked > 500


@pytest.mark.parametrize("seed", range(5))
def test_random_masks_round_trip_through_pycocotools(seed):
    rng = np.random.default_rng(seed)
    for _ in range(60):
        height, width = rng.integers(1, 70, 2)
        mask = (rng.random((height, width)) < rng.random()).astype(np.uint8)
        encoded = mask_utils.encode(np.asfortranarray(mask))
        pixels = rle_pixels(encoded["counts"].decode(), (int(height), int(width)))
        assert np.array_equal(pixels, np.flatnonzero(mask.ravel(order="F")))


@pytest.mark.parametrize(
    ("counts", "message"),
    [("", "empty"), ("5\x7f", "alphabet"), ("0`", "ends inside"), ("52", "cover 7 pixels"), ("O", "negative")],
)
def test_invalid_counts_are_refused(counts, message):
    with pytest.raises(RLEError, match=message):
        rle_counts(counts, (4, 4))
