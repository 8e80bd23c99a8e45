"""``import sessrs``: the refinement, sweep, pick and application on arrays and folders, and typed thresholds."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sessrs
from rscommon.datasets import URBAN
from rscommon.files import InputError
from rscommon.labels import read_label_png
from rscommon.objects import decode_masks, encode_object, read_objects
from sessrs.sweep import T1_VALUES, T2_VALUES

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "sessrs_reference"
SCENES = FIXTURES / "scenes"
CASES = {case["id"]: case for case in json.loads((FIXTURES / "cases.json").read_text())}


def fixture_case(case_id: str) -> tuple[np.ndarray, list[dict], sessrs.Thresholds, dict]:
    case = CASES[case_id]
    pred = read_label_png(SCENES / "pred" / f"{case['scene']}.png")
    return (
        pred,
        read_objects(SCENES / "sam" / f"{case['scene']}.json", pred.shape),
        sessrs.Thresholds.from_json(case),
        case,
    )


def test_import_needs_only_the_core_dependencies():
    probe = (
        "import sys, sessrs; heavy = ('torch', 'geoseg', 'sam_objects', 'rspipeline', 'dask', 'rasterio'); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
    assert {
        "refine",
        "Thresholds",
        "sweep_folder",
        "sweep_arrays",
        "pick_thresholds",
        "apply_thresholds",
        "read_objects",
        "objects_from_masks",
    } <= set(sessrs.__all__)


@pytest.mark.parametrize("case_id", ["01000_m0", "01004_m1", "01007_s2"])
def test_refine_with_the_users_own_masks_matches_the_reference(case_id):
    """Object records turned into dense masks (H x W x N, and a list) and given back reproduce the fixture."""
    pred, objects, thresholds, case = fixture_case(case_id)
    masks = decode_masks(objects, pred.shape)
    expected = read_label_png(FIXTURES / case["expected"])
    refined = sessrs.refine(
        pred.astype(np.int64), masks, thresholds, max_objects=case["max_objects"], num_classes=URBAN.num_classes
    )
    assert refined.dtype == np.uint8 and np.array_equal(refined, expected)
    listed = [masks[:, :, i] for i in range(masks.shape[2])]
    assert np.array_equal(sessrs.refine(pred, listed, thresholds, max_objects=case["max_objects"]), expected)
    assert np.array_equal(sessrs.refine(pred, objects, thresholds, max_objects=case["max_objects"]), expected)


def test_objects_from_masks_encodes_each_mask_and_drops_empty_ones():
    masks = np.zeros((20, 30, 3), bool)
    masks[2:9, 4:12, 0] = True
    masks[10:19, 1:29, 2] = True
    records = sessrs.objects_from_masks(masks)
    assert records == [encode_object(masks[:, :, 0]), encode_object(masks[:, :, 2])]
    assert [r["area"] for r in records] == [56, 252]
    assert sessrs.objects_from_masks(np.zeros((20, 30, 0), bool)) == []
    with pytest.raises(ValueError, match="mask 0 must be boolean"):
        sessrs.objects_from_masks([np.full((4, 4), 3)])


@pytest.mark.parametrize(
    ("pred", "masks", "message"),
    [
        (np.zeros((8, 8), np.float32), np.ones((8, 8, 1), bool), "integer array"),
        (np.zeros((8, 8, 3), np.uint8), np.ones((8, 8, 1), bool), "integer array"),
        (np.full((8, 8), -1), np.ones((8, 8, 1), bool), "outside"),
        (np.zeros((8, 8), np.uint8), np.ones((8, 9, 1), bool), "differs from the prediction"),
    ],
)
def test_refine_refuses_arrays_it_cannot_use(pred, masks, message):
    with pytest.raises(ValueError, match=message):
        sessrs.refine(pred, masks, sessrs.Thresholds(t1={1: 0.5}, t2={1: 0.6}, modify=[1]))


def test_thresholds_round_trip_best_json_with_string_keys(tmp_path):
    thresholds = sessrs.Thresholds(t1={3: 0.7, 1: 0.5}, t2={1: 0.55, 3: 0.9}, modify=[3, 1])
    thresholds.write(tmp_path / "best.json")
    written = json.loads((tmp_path / "best.json").read_text())
    assert written == {"t1": {"1": 0.5, "3": 0.7}, "t2": {"1": 0.55, "3": 0.9}, "modify": [3, 1]}
    assert sessrs.Thresholds.read(tmp_path / "best.json", URBAN) == thresholds
    assert thresholds.t1_array(URBAN.num_classes).tolist() == [1, 0.5, 1, 0.7, 1, 1, 1, 1]
    assert thresholds.by_class_name(URBAN) == {
        "modify": ["water", "building"],
        "t1": {"building": 0.5, "water": 0.7},
        "t2": {"building": 0.55, "water": 0.9},
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"t1": {"1": -1}, "t2": {}, "modify": [1]}, r"t1\['1'\]: -1.0 is not in \(0, 1\]"),
        ({"t1": {}, "t2": {"1": 7}, "modify": []}, r"t2\['1'\]: 7.0 is not in \(0, 1\]"),
        ({"t1": {"1": "0.5"}, "t2": {}, "modify": []}, r"t1\['1'\]: '0.5' is not a number"),
        ({"t1": {"1": None}, "t2": {}, "modify": []}, r"t1\['1'\]: None is not a number"),
        ({"t1": {"one": 0.5}, "t2": {}, "modify": []}, "t1: class 'one' is not a class id"),
        ({"t1": {}, "t2": {}}, "expected"),
        ({"t1": {}, "t2": {}, "modify": "1"}, "modify must be a list"),
        ({"t1": {}, "t2": {}, "modify": [1, 1]}, "modify names a class twice"),
    ],
)
def test_malformed_best_json_is_refused_naming_the_field(tmp_path, data, message):
    (tmp_path / "best.json").write_text(json.dumps(data))
    with pytest.raises(InputError, match=message) as error:
        sessrs.Thresholds.read(tmp_path / "best.json")
    assert str(error.value).startswith(str(tmp_path / "best.json"))


def test_thresholds_of_classes_outside_the_dataset_are_refused(tmp_path):
    (tmp_path / "best.json").write_text(json.dumps({"t1": {"9": 0.5}, "t2": {"9": 0.5}, "modify": [9]}))
    with pytest.raises(InputError, match=r"t1 names classes \[9\], outside 0..7"):
        sessrs.Thresholds.read(tmp_path / "best.json", URBAN)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    for kind, suffix in (("pred", "png"), ("sam", "json"), ("gt", "png")):
        (root / kind).mkdir()
        for scene in ("01000", "01003", "01005"):
            shutil.copy(SCENES / kind / f"{scene}.{suffix}", root / kind)
    return root


def test_sweep_on_arrays_equals_the_sweep_of_the_folder(folders):
    swept = sessrs.sweep_folder(
        folders / "pred", folders / "sam", folders / "gt", folders / "sweep", "Urban", classes=[1, 6]
    )
    stems = ["01000", "01003", "01005"]
    preds = [read_label_png(folders / "pred" / f"{s}.png") for s in stems]
    objects = [read_objects(folders / "sam" / f"{s}.json") for s in stems]
    objects[1] = decode_masks(objects[1], preds[1].shape)  # masks and records may be mixed image by image
    gts = [read_label_png(folders / "gt" / f"{s}.png") for s in stems]
    in_memory = sessrs.sweep_arrays(preds, objects, gts, URBAN, classes=[1, 6], names=stems)
    assert in_memory.pop("tuned_on") == [{"name": stem} for stem in stems]  # arrays have no file content to record
    assert [image["name"] for image in swept.pop("tuned_on")] == stems
    assert in_memory == swept
    assert [len(rows) for rows in swept["sweeps"].values()] == [len(T1_VALUES) * len(T2_VALUES)] * 2


def test_pick_then_apply_on_folders_equals_refine_on_arrays(folders, tmp_path):
    sweep_file = folders / "sweep" / "sweep.json"
    if not sweep_file.exists():
        sessrs.sweep_folder(
            folders / "pred", folders / "sam", folders / "gt", folders / "sweep", "Urban", classes=[1, 6]
        )
    best = sessrs.pick_thresholds(sweep_file, "Urban", "all")
    assert best == sessrs.pick_thresholds(sessrs.read_sweep(sweep_file, URBAN), URBAN, "all")
    assert best.modify, "the fixture's sweep refines something"
    report = sessrs.apply_thresholds(
        best, folders / "pred", folders / "sam", tmp_path / "refined", "Urban", gt_dir=folders / "gt"
    )
    for stem in ("01000", "01003", "01005"):
        pred = read_label_png(folders / "pred" / f"{stem}.png")
        expected = sessrs.refine(
            pred, sessrs.read_objects(folders / "sam" / f"{stem}.json"), best, num_classes=URBAN.num_classes
        )
        assert np.array_equal(read_label_png(tmp_path / "refined" / f"{stem}.png"), expected)
    assert report["thresholds"] == best.to_json()
    assert sessrs.apply_thresholds(best, folders / "pred", folders / "sam", tmp_path / "plain", "Urban") is None


def test_script_defaults_are_the_one_definition_of_each_object_limit():
    sys.path.insert(0, str(REPO / "SESSRS"))
    try:
        import get_best_t1_t2
        import sessrs_t1_t2
    finally:
        sys.path.remove(str(REPO / "SESSRS"))
    sweep_args = sessrs_t1_t2.parse_args(["-f", "x"])
    pick_args = get_best_t1_t2.parse_args(["-d", "Urban"])
    assert (sweep_args.max_objects, pick_args.choice.max_objects) == (
        sessrs.SWEEP_MAX_OBJECTS,
        sessrs.APPLY_MAX_OBJECTS,
    )
    assert (sessrs.SWEEP_MAX_OBJECTS, sessrs.APPLY_MAX_OBJECTS) == (10, 5)  # the reference's values
