"""Bad input gets a clear error naming the file and the problem, and nothing is lost."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_utils
import pytest
from image_files import opened
from PIL import Image

from rscommon.datasets import URBAN
from rscommon.files import InputError
from rscommon.labels import read_label_png, write_label_png
from rscommon.objects import read_objects
from sessrs.inputs import load_scene, pair_inputs
from sessrs.pick import apply_to_samples
from sessrs.refine import thresholds
from sessrs.sweep import run_sweep
from sessrs.thresholds import Thresholds

REPO = Path(__file__).resolve().parents[1]
SCENES = REPO / "tests" / "fixtures" / "sessrs_reference" / "scenes"


def encoded(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"rles": {"size": list(rle["size"]), "counts": rle["counts"].decode()}, "area": int(mask.sum())}


@pytest.fixture
def workspace(tmp_path):
    """Two fixture scenes copied into folders the tests may damage."""
    for kind, suffix in (("pred", "png"), ("sam", "json"), ("gt", "png")):
        (tmp_path / kind).mkdir()
        for scene in ("01000", "01001"):
            shutil.copy(SCENES / kind / f"{scene}.{suffix}", tmp_path / kind)
    return tmp_path


def test_missing_partners_are_all_listed(workspace):
    (workspace / "sam" / "01000.json").unlink()
    (workspace / "gt" / "01001.png").unlink()
    with pytest.raises(InputError) as error:
        pair_inputs(workspace / "pred", workspace / "sam", workspace / "gt")
    assert "01000.json" in str(error.value) and "01001.png" in str(error.value)


def test_extra_files_in_object_and_truth_folders_are_ignored(workspace):
    shutil.copy(SCENES / "sam" / "01002.json", workspace / "sam")
    assert [s.stem for s in pair_inputs(workspace / "pred", workspace / "sam", workspace / "gt")] == ["01000", "01001"]


def test_malformed_json_names_the_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('[{"rles": ')
    with pytest.raises(InputError, match="broken.json: malformed JSON"):
        read_objects(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda o: o["rles"].update(size=[64, 32]), "differs from the prediction"),
        (lambda o: o["rles"].update(counts="0" + o["rles"]["counts"][1:] + "7"), "malformed RLE"),
        (lambda o: o["rles"].update(counts="\u00e9t\u00e9"), "malformed RLE"),
        (lambda o: o.update(area=o["area"] + 5), "differs from the decoded pixel count"),
        (lambda o: o.update(area=0), "differs from the decoded pixel count"),
        (lambda o: o.pop("rles"), "expected"),
        (lambda o: o.update(area="12"), "not a non-negative integer"),
    ],
)
def test_bad_objects_are_refused(tmp_path, change, message):
    mask = np.zeros((32, 32), bool)
    mask[4:20, 6:15] = True
    good = encoded(mask)
    change(good)
    path = tmp_path / "objects.json"
    path.write_text(json.dumps([encoded(mask), good]))
    with pytest.raises(InputError, match=message) as error:
        read_objects(path, (32, 32))
    assert "objects.json: object 1" in str(error.value)


def test_empty_objects_are_dropped_and_change_nothing(tmp_path):
    pred = read_label_png(SCENES / "pred" / "01003.png")
    objects = read_objects(SCENES / "sam" / "01003.json", pred.shape)
    empty = encoded(np.zeros(pred.shape, bool))
    path = tmp_path / "with_empty.json"
    path.write_text(json.dumps([empty, *objects, empty]))
    assert read_objects(path, pred.shape) == objects


def test_class_values_outside_the_dataset_are_refused(workspace):
    pred = read_label_png(workspace / "pred" / "01000.png")
    pred[0, 0] = 9
    write_label_png(workspace / "pred" / "01000.png", pred, URBAN)
    sample = pair_inputs(workspace / "pred", workspace / "sam", workspace / "gt")[0]
    with pytest.raises(InputError, match=r"01000.png: class values \[9\]"):
        load_scene(sample, URBAN)


def test_rgb_predictions_are_mapped_through_the_palette(workspace):
    pred = read_label_png(workspace / "pred" / "01000.png")
    colours = np.array(URBAN.palette, np.uint8)[pred]
    Image.fromarray(colours, mode="RGB").save(workspace / "pred" / "01000.png")
    assert np.array_equal(read_label_png(workspace / "pred" / "01000.png", URBAN), pred)
    colours[5, 7] = (1, 2, 3)
    Image.fromarray(colours, mode="RGB").save(workspace / "pred" / "01000.png")
    with pytest.raises(InputError, match=r"01000.png: RGB colour \(1, 2, 3\) at \(row 5, col 7\)"):
        read_label_png(workspace / "pred" / "01000.png", URBAN)


def test_truth_of_another_size_is_refused(workspace):
    write_label_png(workspace / "gt" / "01001.png", np.zeros((16, 16), np.uint8), URBAN)
    samples = pair_inputs(workspace / "pred", workspace / "sam", workspace / "gt")
    with pytest.raises(InputError, match="01001.png: size"):
        run_sweep(samples, URBAN, workspace / "out", classes=[1])


def test_a_folder_with_another_sweep_is_refused(workspace):
    samples = pair_inputs(workspace / "pred", workspace / "sam", workspace / "gt")
    run_sweep(samples, URBAN, workspace / "out", classes=[1])
    with pytest.raises(InputError, match="different sweep"):
        run_sweep(samples, URBAN, workspace / "out", classes=[2])


def test_refining_into_the_prediction_folder_is_refused_and_inputs_survive(workspace):
    before = {p.name: p.read_bytes() for p in (workspace / "pred").iterdir()}
    samples = pair_inputs(workspace / "pred", workspace / "sam", workspace / "gt")
    best = Thresholds(t1={1: 0.5}, t2={1: 0.55}, modify=[1])
    with pytest.raises(InputError, match="prediction folder"):
        apply_to_samples(samples, URBAN, best, workspace / "pred")
    assert {p.name: p.read_bytes() for p in (workspace / "pred").iterdir()} == before


def test_unknown_threshold_class_is_refused():
    with pytest.raises(ValueError, match="class '9'"):
        thresholds({"9": 0.5}, URBAN.num_classes)


def test_command_line_reports_missing_files_and_exits_nonzero(workspace):
    (workspace / "sam" / "01001.json").unlink()
    result = subprocess.run(
        [sys.executable, REPO / "SESSRS" / "sessrs_t1_t2.py", "--pred-dir", workspace / "pred", "--sam-dir",
         workspace / "sam", "--gt-dir", workspace / "gt", "--dataset", "Urban", "--out", workspace / "out"],
        capture_output=True, text=True,
    )
    assert result.returncode == 2
    assert "01001.json" in result.stderr and "Traceback" not in result.stderr


def test_label_pngs_round_trip_every_index(tmp_path):
    labels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    write_label_png(tmp_path / "labels.png", labels, URBAN)
    assert np.array_equal(read_label_png(tmp_path / "labels.png"), labels)
    assert opened(tmp_path / "labels.png").getpalette()[:24] == [v for rgb in URBAN.palette for v in rgb]
