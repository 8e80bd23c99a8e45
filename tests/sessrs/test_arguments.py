"""Arguments are checked up front: duplicate or unknown classes, a refined class without thresholds, object limits
and worker counts below 1, class ids beyond the class count (before anything is allocated), and misused API
arguments each give one error naming the argument; valid NumPy integers and tuples in object records are taken."""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

import numpy as np
import pytest

import sessrs
from rscommon.cli import run_main
from rscommon.files import InputError
from rscommon.objects import encode_object, validate_objects
from sessrs.thresholds import Thresholds

REPO = Path(__file__).resolve().parents[2]
SCENES = REPO / "tests" / "fixtures" / "sessrs_reference" / "scenes"
sys.path.insert(0, str(REPO / "SESSRS"))
import get_best_t1_t2  # noqa: E402
import sessrs_t1_t2  # noqa: E402

PRED = np.zeros((16, 16), np.uint8)
PRED[4:10, 4:10] = 1
MASK = np.zeros((16, 16), bool)
MASK[3:11, 3:11] = True
OBJECTS = [encode_object(MASK)]
BUILDING = Thresholds(t1={1: 0.5}, t2={1: 0.55}, modify=[1])


def run(module, *args) -> tuple[int, list[str]]:
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = run_main(module.main, [str(arg) for arg in args])
    return code, stderr.getvalue().strip().splitlines()


INPUTS = ["--pred-dir", SCENES / "pred", "--sam-dir", SCENES / "sam", "--gt-dir", SCENES / "gt", "--dataset", "Urban"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--classes", 1, 1], "classes [1] given twice"),
        (["--classes", 1, "--max-objects", 0], "max_objects must be a whole number of at least 1, got 0"),
        (["--classes", 1, "-n", 0], "workers must be a whole number of at least 1, got 0"),
    ],
)
def test_the_sweep_refuses_bad_arguments_before_writing(tmp_path, args, message):
    code, lines = run(sessrs_t1_t2, *INPUTS, "--out", tmp_path / "out", *args)
    assert code == 2 and len(lines) == 1 and lines[0].startswith(f"error: {message}")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--max-objects", 0], "max_objects must be a whole number of at least 1, got 0"),
        (["-n", 0], "workers must be a whole number of at least 1, got 0"),
    ],
)
def test_the_pick_refuses_bad_arguments(tmp_path, args, message):
    code, lines = run(get_best_t1_t2, *INPUTS, "--sweep", tmp_path / "sweep.json", "--out", tmp_path / "out", *args)
    assert code == 2 and lines == [f"error: {message}"]


def test_a_refined_class_without_thresholds_is_refused():
    with pytest.raises(InputError, match=r"modify names classes \[2\] without a t1"):
        Thresholds(t1={1: 0.5}, t2={1: 0.5, 2: 0.5}, modify=[1, 2])
    with pytest.raises(InputError, match=r"best.json: modify names classes \[2\] without a t2"):
        Thresholds.from_json({"t1": {"2": 0.5}, "t2": {}, "modify": [2]}, "best.json")


def test_a_class_beyond_the_class_count_is_refused_before_anything_is_allocated():
    huge = Thresholds(t1={10**9: 0.5}, t2={10**9: 0.5}, modify=[10**9])
    with pytest.raises(InputError, match=r"outside 0..254"):
        sessrs.refine(PRED, OBJECTS, huge)
    with pytest.raises(InputError, match=r"outside 0..7"):
        sessrs.refine(PRED, OBJECTS, Thresholds(t1={9: 0.5}, t2={9: 0.5}, modify=[9]), num_classes=8)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: sessrs.refine(PRED, None, BUILDING), "objects: expected a list of object records"),
        (lambda: sessrs.refine(PRED, {"a": 1}, BUILDING), "objects: expected a list of object records"),
        (lambda: sessrs.refine(PRED, OBJECTS, BUILDING.to_json()), "thresholds: expected a sessrs.Thresholds"),
        (
            lambda: sessrs.refine(PRED, OBJECTS, BUILDING, options="improved"),
            "options: expected a sessrs.RefineOptions",
        ),
        (lambda: sessrs.objects_from_masks(None), "masks: expected an H x W x N boolean array"),
        (lambda: sessrs.sweep_arrays([PRED], [OBJECTS], [PRED], "Urban", options="improved"), "options: expected"),
        (lambda: sessrs.sweep_arrays(PRED, {"0": OBJECTS}, [PRED], "Urban"), "objects: expected a list with one entry"),
        (lambda: sessrs.sweep_folder("p", "s", "g", "out", 7), "dataset: expected a dataset name"),
        (
            lambda: sessrs.apply_thresholds({"t1": {}}, "p", "s", "out", "Urban"),
            "thresholds: expected a sessrs.Thresholds",
        ),
        (
            lambda: sessrs.choose_folder("sweep.json", "p", "s", "out", "Urban", settings="joint"),
            "settings: expected a sessrs.ChoiceSettings",
        ),
        (
            lambda: sessrs.choose_folder("sweep.json", "p", "s", "out", "Urban", execution=2),
            "execution: expected a sessrs.Execution",
        ),
    ],
)
def test_api_misuse_names_the_argument(call, message):
    with pytest.raises(TypeError, match=message):
        call()


def test_numpy_integers_and_tuples_in_object_records_are_taken():
    record = OBJECTS[0]
    numpy_record = {
        "rles": {"size": (np.int64(16), np.int64(16)), "counts": record["rles"]["counts"]},
        "area": np.int64(record["area"]),
    }
    assert validate_objects([numpy_record], "objects") == OBJECTS
    assert np.array_equal(sessrs.refine(PRED, [numpy_record], BUILDING), sessrs.refine(PRED, OBJECTS, BUILDING))
