"""The refinement reproduces every case of the reference fixtures pixel for pixel."""

import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from rscommon.datasets import URBAN
from rscommon.labels import read_label_png
from rscommon.objects import read_objects
from sessrs.prepared import PreparedImage, prepare_image
from sessrs.steps import refine_prepared, refine_with_mappings, thresholds

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sessrs_reference"
CASES = json.loads((FIXTURES / "cases.json").read_text())


def inputs(scene: str) -> tuple[np.ndarray, list[dict]]:
    pred = read_label_png(FIXTURES / "scenes" / "pred" / f"{scene}.png")
    return pred, read_objects(FIXTURES / "scenes" / "sam" / f"{scene}.json", pred.shape)


@cache
def scene_of(scene: str) -> PreparedImage:
    """One precomputed scene per fixture scene, shared by its cases (refinements never change a scene)."""
    return prepare_image(*inputs(scene), URBAN.num_classes)


def assert_matches(refined: np.ndarray, case: dict) -> None:
    expected = read_label_png(FIXTURES / case["expected"])
    assert refined.shape == expected.shape
    mismatched = int(np.count_nonzero(refined != expected))
    assert mismatched == 0, f"{mismatched} pixels differ from the reference"


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_refine_matches_reference(case):
    t1, t2 = thresholds(case["t1"], URBAN.num_classes), thresholds(case["t2"], URBAN.num_classes)
    assert_matches(
        refine_prepared(scene_of(case["scene"]), t1, t2, case["modify"], max_objects=case["max_objects"]), case
    )


@pytest.mark.parametrize("case", [c for c in CASES if c["id"].endswith("_m0")][:3], ids=lambda c: c["id"])
def test_public_refine_from_arrays_and_string_keyed_thresholds(case):
    pred, objects = inputs(case["scene"])
    assert_matches(
        refine_with_mappings(pred, objects, case["t1"], case["t2"], case["modify"], max_objects=case["max_objects"]),
        case,
    )
