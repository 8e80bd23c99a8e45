"""What a best.json and a sweep record is what their consumers use: the refinement's mode and object limit travel
with the thresholds (applied, or a conflicting setting refused in one line), and a held-out pick compares the
images by what they decode to, not by their bytes."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image
from sessrs_cases import SCENES, copy_fixture_scenes

import sessrs
import sessrs.sweep as sweep_module
from rscommon.cli import run_main
from rscommon.datasets import URBAN
from rscommon.files import InputError
from rscommon.labels import read_label_png, write_label_png
from rscommon.objects import read_objects
from sessrs.inputs import label_digest, objects_digest, pair_inputs
from sessrs.modes import FAITHFUL, IMPROVED
from sessrs.sweep import run_sweep
from sessrs.thresholds import Application, Thresholds

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "SESSRS"))
import get_best_t1_t2  # noqa: E402
import sessrs_t1_t2  # noqa: E402

STEMS = ["01000", "01002", "01008"]
PICKED = Thresholds(t1={1: 0.5, 2: 0.5}, t2={1: 0.55, 2: 0.55}, modify=(1, 2))


def run(module, *args) -> tuple[int, list[str]]:
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = run_main(module.main, [str(arg) for arg in args])
    return code, stderr.getvalue().strip().splitlines()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    copy_fixture_scenes(tmp_path, STEMS)
    (tmp_path / "split.json").write_text(json.dumps({"tune": ["01000", "01002"], "eval": ["01008"]}))
    return tmp_path


def improved_best(path: Path, max_objects: int = 5) -> Path:
    Thresholds(PICKED.t1, PICKED.t2, PICKED.modify, Application("Urban", IMPROVED, max_objects)).write(path)
    return path


def scene(stem: str) -> tuple[np.ndarray, list[dict]]:
    pred = read_label_png(SCENES / "pred" / f"{stem}.png")
    return pred, read_objects(SCENES / "sam" / f"{stem}.json", pred.shape)


def test_a_best_json_records_its_mode_and_the_library_applies_it(tmp_path: Path) -> None:
    best = Thresholds.read(improved_best(tmp_path / "best.json"))
    assert best.application == Application("Urban", IMPROVED, 5)
    assert json.loads((tmp_path / "best.json").read_text())["mode"] == "improved"
    pred, objects = scene("01000")
    improved = sessrs.refine(pred, objects, PICKED, options=IMPROVED, num_classes=8)
    assert not np.array_equal(improved, sessrs.refine(pred, objects, PICKED, num_classes=8))  # the modes differ here
    assert np.array_equal(sessrs.refine(pred, objects, best, num_classes=8), improved)
    with pytest.raises(InputError, match="tuned in improved mode, applied in faithful mode; leave --mode out"):
        sessrs.refine(pred, objects, best, options=FAITHFUL)
    with pytest.raises(InputError, match="tuned with max_objects 5, applied with 3"):
        sessrs.refine(pred, objects, best, max_objects=3)


def test_apply_only_takes_the_mode_from_the_best_json_or_refuses_another(data: Path) -> None:
    best = improved_best(data / "best.json")
    folders = ["--pred-dir", data / "pred", "--sam-dir", data / "sam", "--dataset", "Urban"]
    code, lines = run(get_best_t1_t2, "--thresholds", best, *folders, "--out", data / "wrong", "--mode", "faithful")
    assert code == 2 and len(lines) == 1 and "tuned in improved mode" in lines[0], lines
    assert not (data / "wrong").exists()
    code, lines = run(get_best_t1_t2, "--thresholds", best, *folders, "--out", data / "chosen", "-n", "1")
    assert code == 0, lines
    pred, objects = scene("01000")
    expected = sessrs.refine(pred, objects, PICKED, options=IMPROVED, num_classes=8)
    assert np.array_equal(read_label_png(data / "chosen" / "se_mask" / "01000.png"), expected)
    assert Thresholds.read(data / "chosen" / "best.json").application == Application("Urban", IMPROVED, 5)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"mode": "improved"}, "records the refinement mode but not dataset, options, max_objects"),
        ({**Application("Urban", FAITHFUL, 5).to_json(), "mode": "improved"}, "disagrees with its options"),
        ({**Application("Urban", FAITHFUL, 5).to_json(), "max_objects": 0}, "max_objects must be a whole number"),
        ({**Application("Urban", FAITHFUL, 5).to_json(), "options": {"x": 1}}, "unknown refinement options: x"),
    ],
)
def test_a_malformed_application_record_is_one_line(tmp_path: Path, change: dict, message: str) -> None:
    path = tmp_path / "best.json"
    path.write_text(json.dumps({**PICKED.to_json(), **change}))
    with pytest.raises(InputError, match=message):
        Thresholds.read(path)


def test_another_datasets_best_json_is_refused(tmp_path: Path, data: Path) -> None:
    best = improved_best(tmp_path / "best.json")
    with pytest.raises(InputError, match="tuned for Urban, not potsdam"):
        sessrs.apply_thresholds(Thresholds.read(best), data / "pred", data / "sam", tmp_path / "out", "potsdam")


def sweep_held_out(data: Path) -> Path:
    args = ["--pred-dir", data / "pred", "--sam-dir", data / "sam", "--gt-dir", data / "gt", "--dataset", "Urban"]
    grid = ["--classes", 1, "--t1-values", 0.5, "--t2-values", 0.6]
    code, lines = run(sessrs_t1_t2, *args, *grid, "--split", data / "split.json", "--out", data / "sweep")
    assert code == 0, lines
    return data / "sweep" / "sweep.json"


def pick_held_out(data: Path, sweep: Path) -> tuple[int, list[str]]:
    args = ["--pred-dir", data / "pred", "--sam-dir", data / "sam", "--gt-dir", data / "gt", "--dataset", "Urban"]
    return run(get_best_t1_t2, *args, "--sweep", sweep, "--split", data / "split.json", "--out", data / "pick")


def test_an_evaluation_image_copied_and_saved_again_is_still_a_tune_image(data: Path) -> None:
    sweep = sweep_held_out(data)
    for kind in ("pred", "gt"):  # the same pixels, other bytes
        copy = data / kind / "01008.png"
        Image.open(data / kind / "01000.png").save(copy, optimize=True, compress_level=1)
        assert copy.read_bytes() != (data / kind / "01000.png").read_bytes()
    objects = json.loads((data / "sam" / "01000.json").read_text())
    (data / "sam" / "01008.json").write_text(json.dumps(objects, indent=3))
    code, lines = pick_held_out(data, sweep)
    assert code == 2 and "evaluation image 01008 was tuned on (as 01000)" in lines[-1], lines
    assert not (data / "pick").exists()


def test_a_tune_image_saved_again_is_the_same_image(data: Path) -> None:
    sweep = sweep_held_out(data)
    Image.open(data / "gt" / "01002.png").save(data / "gt" / "01002.png", compress_level=1)
    objects = json.loads((data / "sam" / "01002.json").read_text())
    (data / "sam" / "01002.json").write_text(json.dumps(objects, indent=1))
    code, lines = pick_held_out(data, sweep)
    assert code == 0, lines


def test_a_sweep_keeps_the_part_of_an_image_saved_again_and_recomputes_a_changed_one(data: Path, monkeypatch) -> None:
    samples = pair_inputs(data / "pred", data / "sam", data / "gt")
    first = run_sweep(samples, URBAN, data / "sweep", classes=[1])
    Image.open(data / "pred" / "01000.png").save(data / "pred" / "01000.png", compress_level=1)
    objects = json.loads((data / "sam" / "01002.json").read_text())
    (data / "sam" / "01002.json").write_text(json.dumps(objects, indent=2))
    gt = read_label_png(data / "gt" / "01008.png")
    write_label_png(data / "gt" / "01008.png", np.where(gt == 1, 2, gt).astype(np.uint8), URBAN)
    computed, original = [], sweep_module._sweep_sample
    monkeypatch.setattr(sweep_module, "_sweep_sample", lambda job: (computed.append(job[0].stem), original(job))[1])
    again = run_sweep(samples, URBAN, data / "sweep", classes=[1])
    assert computed == ["01008"]
    assert again == run_sweep(samples, URBAN, data / "clean", classes=[1]) != first


@settings(max_examples=25, deadline=None)
@given(
    labels=arrays(np.uint8, st.tuples(st.integers(1, 24), st.integers(1, 24)), elements=st.integers(0, 7)),
    level=st.integers(0, 9),
    indent=st.one_of(st.none(), st.integers(0, 4)),
    flip=st.tuples(st.integers(0, 23), st.integers(0, 23)),
)
def test_digests_follow_the_decoded_content_not_the_bytes(tmp_path_factory, labels, level, indent, flip) -> None:
    folder = tmp_path_factory.mktemp("digest")
    write_label_png(folder / "a.png", labels, URBAN)
    Image.open(folder / "a.png").save(folder / "b.png", compress_level=level)
    assert label_digest(folder / "a.png", URBAN) == label_digest(folder / "b.png", URBAN)
    objects = sessrs.objects_from_masks([labels == c for c in range(8)])
    (folder / "a.json").write_text(json.dumps(objects))
    (folder / "b.json").write_text(json.dumps(objects, indent=indent))
    assert objects_digest(folder / "a.json") == objects_digest(folder / "b.json")
    row, col = flip[0] % labels.shape[0], flip[1] % labels.shape[1]
    changed = labels.copy()
    changed[row, col] = (changed[row, col] + 1) % 8
    write_label_png(folder / "c.png", changed, URBAN)
    assert label_digest(folder / "c.png", URBAN) != label_digest(folder / "a.png", URBAN)
    one_pixel = np.zeros(labels.shape, bool)
    one_pixel[row, col] = True
    (folder / "c.json").write_text(json.dumps(objects + sessrs.objects_from_masks([one_pixel])))
    assert objects_digest(folder / "c.json") != objects_digest(folder / "a.json")
