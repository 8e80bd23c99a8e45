"""Held out means held out: a sweep records the images it was tuned on (names and content) and its split; a pick
with --split (the per-class pick and the joint search alike) refuses a sweep tuned on other images, on changed
images or on an evaluation image; split lists and image names are never ambiguous."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from sessrs_cases import copy_fixture_scenes

from rscommon.cli import run_main
from rscommon.datasets import URBAN
from rscommon.files import InputError
from rscommon.provenance import file_identity
from sessrs.api import sweep_arrays
from sessrs.inputs import label_digest, pair_inputs, read_split, select

REPO = Path(__file__).resolve().parents[2]
SCENES = REPO / "tests" / "fixtures" / "sessrs_reference" / "scenes"
STEMS = ["01000", "01002", "01008"]
sys.path.insert(0, str(REPO / "SESSRS"))
import get_best_t1_t2  # noqa: E402
import sessrs_t1_t2  # noqa: E402


@pytest.fixture
def data(tmp_path: Path) -> Path:
    copy_fixture_scenes(tmp_path, STEMS)
    (tmp_path / "split.json").write_text(json.dumps({"tune": ["01000", "01002"], "eval": ["01008"]}))
    return tmp_path


def run(module, *args) -> tuple[int, list[str]]:
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = run_main(module.main, [str(arg) for arg in args])
    return code, stderr.getvalue().strip().splitlines()


def inputs(data: Path) -> list:
    return ["--pred-dir", data / "pred", "--sam-dir", data / "sam", "--gt-dir", data / "gt", "--dataset", "Urban"]


def sweep(data: Path, out: str, *extra) -> Path:
    code, lines = run(
        sessrs_t1_t2, *inputs(data), "--classes", 1, "--t1-values", 0.5, "--t2-values", 0.6, "--out", data / out, *extra
    )
    assert code == 0, lines
    return data / out / "sweep.json"


def pick(data: Path, sweep_file: Path, out: str, *extra) -> tuple[int, list[str]]:
    return run(
        get_best_t1_t2,
        *inputs(data),
        "--sweep",
        sweep_file,
        "--split",
        data / "split.json",
        "-t",
        "all",
        "--out",
        data / out,
        *extra,
    )


def test_the_sweep_records_its_images_and_split_and_the_held_out_pick_checks_them(data):
    held_out = sweep(data, "tuned", "--split", data / "split.json")
    record = json.loads(held_out.read_text())
    assert [image["name"] for image in record["tuned_on"]] == ["01000", "01002"]
    assert record["tuned_on"][0]["gt"] == label_digest(data / "gt" / "01000.png", URBAN)
    assert record["split"] == {"file": file_identity(data / "split.json"), "tune": ["01000", "01002"]}
    code, lines = pick(data, held_out, "chosen")
    assert code == 0, lines
    everything = sweep(data, "all")
    assert json.loads(everything.read_text())["split"] is None
    for search in ("pick", "joint"):
        code, lines = pick(data, everything, f"wrong_{search}", "--search", search)
        assert (
            code == 2
            and len(lines) == 1
            and "tuned on other images than the split's tune list (swept, not in it: 01008" in lines[0]
        ), lines
        assert not (data / f"wrong_{search}").exists()


def test_a_changed_tune_image_or_an_evaluation_image_tuned_on_is_refused(data):
    held_out = sweep(data, "tuned", "--split", data / "split.json")
    gt = data / "gt" / "01002.png"
    original = gt.read_bytes()
    shutil.copy(data / "gt" / "01000.png", gt)
    code, lines = pick(data, held_out, "changed")
    assert code == 2 and "tune image 01002: its gt changed since the sweep" in lines[-1], lines
    gt.write_bytes(original)
    for kind, suffix in (("pred", "png"), ("sam", "json"), ("gt", "png")):
        shutil.copy(data / kind / f"01000.{suffix}", data / kind / f"01008.{suffix}")
    code, lines = pick(data, held_out, "copied")
    assert code == 2 and "evaluation image 01008 was tuned on (as 01000)" in lines[-1], lines


def test_a_sweep_without_image_contents_cannot_be_picked_held_out(data):
    held_out = sweep(data, "tuned", "--split", data / "split.json")
    record = json.loads(held_out.read_text())
    record["tuned_on"] = [{"name": image["name"]} for image in record["tuned_on"]]
    held_out.write_text(json.dumps(record))
    code, lines = pick(data, held_out, "chosen")
    assert code == 2 and "does not record the content of the images it was tuned on" in lines[-1], lines


@pytest.mark.parametrize(
    "split, message",
    [
        ({"tune": ["01000", "01000"], "eval": ["01008"]}, "the tune list names images twice: 01000"),
        ({"tune": ["01000"], "eval": ["01008", "01008"]}, "the eval list names images twice: 01008"),
    ],
)
def test_a_split_naming_an_image_twice_is_refused(tmp_path, split, message):
    path = tmp_path / "split.json"
    path.write_text(json.dumps(split))
    with pytest.raises(InputError, match=message):
        read_split(path)


def test_selecting_an_image_twice_or_an_unknown_image_is_refused(data):
    samples = pair_inputs(data / "pred", data / "sam", data / "gt")
    with pytest.raises(InputError, match="names images twice: 01000"):
        select(samples, ["01000", "01000"], "images")
    with pytest.raises(InputError, match="names images without a prediction: 09999"):
        select(samples, ["09999"], "images")


@pytest.mark.parametrize("names", [["a"], ["a", "a"], ["a", "b", "c"]])
def test_sweep_arrays_refuses_names_that_do_not_name_each_image_once(names):
    pred = np.zeros((8, 8), np.uint8)
    gt = np.ones((8, 8), np.uint8)
    with pytest.raises(InputError, match="names: .* for 2 images"):
        sweep_arrays([pred, pred], [[], []], [gt, gt], "Urban", names=names)
