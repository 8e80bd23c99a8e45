"""The refinement reproduces every case of the reference fixtures pixel for pixel."""
import json
from pathlib import Path

import numpy as np
import pytest

from sessrs.datasets import URBAN
from sessrs.io import read_label_png, read_objects
from sessrs.refine import refine

FIXTURES = Path(__file__).parent / "fixtures" / "sessrs_reference"
CASES = json.loads((FIXTURES / "cases.json").read_text())


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_refine_matches_reference(case):
    pred = read_label_png(FIXTURES / "scenes" / "pred" / f"{case['scene']}.png")
    objects = read_objects(FIXTURES / "scenes" / "sam" / f"{case['scene']}.json", pred.shape)
    expected = read_label_png(FIXTURES / case["expected"])
    refined = refine(pred, objects, case["t1"], case["t2"], case["modify"], case["max_objects"], URBAN.num_classes)
    assert refined.shape == expected.shape
    mismatched = int(np.count_nonzero(refined != expected))
    assert mismatched == 0, f"{mismatched} pixels differ from the reference"
