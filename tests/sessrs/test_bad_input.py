"""Bad input gets a clear error naming the file and the problem, and nothing is lost."""

import contextlib
import importlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_utils
import pytest
from image_files import opened
from PIL import Image

from rscommon.cli import run_main
from rscommon.datasets import POTSDAM, URBAN
from rscommon.files import InputError
from rscommon.labels import read_label_png, write_label_png
from rscommon.objects import read_objects
from sessrs.application import apply_to_samples
from sessrs.inputs import load_prepared, pair_inputs
from sessrs.steps import thresholds
from sessrs.sweep import run_sweep
from sessrs.thresholds import Thresholds

REPO = Path(__file__).resolve().parents[2]
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
        load_prepared(sample, URBAN)


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
        [
            sys.executable,
            REPO / "SESSRS" / "sessrs_t1_t2.py",
            "--pred-dir",
            workspace / "pred",
            "--sam-dir",
            workspace / "sam",
            "--gt-dir",
            workspace / "gt",
            "--dataset",
            "Urban",
            "--out",
            workspace / "out",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "01001.json" in result.stderr and "Traceback" not in result.stderr


def test_label_pngs_round_trip_every_index(tmp_path):
    labels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    write_label_png(tmp_path / "labels.png", labels, URBAN)
    assert np.array_equal(read_label_png(tmp_path / "labels.png"), labels)
    assert opened(tmp_path / "labels.png").getpalette()[:24] == [v for rgb in URBAN.palette for v in rgb]


# ------------------------------------------------------------------ the scripts: refusals in one line, nothing written

SWEEP_SCRIPT = REPO / "SESSRS" / "sessrs_t1_t2.py"
PICK_SCRIPT = REPO / "SESSRS" / "get_best_t1_t2.py"


def script(path: Path, *args, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run a script's ``main`` as its ``__main__`` does (through ``run_main``), in this process (no start-up)."""
    sys.path.insert(0, str(path.parent))
    try:
        module = importlib.import_module(path.stem)
    finally:
        sys.path.remove(str(path.parent))
    stderr = io.StringIO()
    with (
        contextlib.chdir(cwd or Path.cwd()),
        contextlib.redirect_stderr(stderr),
        contextlib.redirect_stdout(io.StringIO()),
    ):
        code = run_main(module.main, [str(arg) for arg in args])
    return subprocess.CompletedProcess([path, *args], code, "", stderr.getvalue())


def assert_refused(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit 2 and one ``error:`` line holding every fragment, no traceback."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def folder_state(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def image_inputs(workspace: Path) -> list:
    """The image folders of ``workspace`` and the dataset, as both scripts take them, on one process."""
    folders = [(f"--{kind}-dir", workspace / kind) for kind in ("pred", "sam", "gt")]
    return [*(part for pair in folders for part in pair), "--dataset", "Urban", "-n", "1"]


def sweep_inputs(workspace: Path) -> list:
    return [*image_inputs(workspace), "--classes", "1"]


def a_sweep(rows: list[tuple[float, float, float]], baseline: float = 40.0) -> dict:
    """A small sweep.json of class 1 with the fields the pick reads."""
    return {
        "scenes": ["01000", "01001"],
        "classes": list(URBAN.classes),
        "scored_classes": list(URBAN.scored),
        "baseline": {"mIoU": baseline},
        "sweeps": {"1": [{"t1": a, "t2": b, "mIoU": m} for a, b, m in rows]},
    }


def pick_inputs(workspace: Path, sweep: dict) -> list:
    (workspace / "sweep.json").write_text(json.dumps(sweep))
    return ["--sweep", workspace / "sweep.json", *image_inputs(workspace)]


GOOD_ROWS = [(0.5, 0.55, 40.5), (0.7, 0.6, 41.0)]


@pytest.mark.parametrize(
    ("tamper", "fragment"),
    [
        (lambda s: s.update(classes=list(POTSDAM.classes)), "are not Urban's"),
        (lambda s: s["sweeps"]["1"][1].update(t1=-1), "sweeps['1'][1].t1: -1.0 is not in (0, 1]"),
        (lambda s: s["sweeps"]["1"][0].update(t2=7), "sweeps['1'][0].t2: 7.0 is not in (0, 1]"),
        (lambda s: s["sweeps"]["1"][0].update(mIoU=float("inf")), "sweeps['1'][0].mIoU: inf is not a finite number"),
        (lambda s: s["baseline"].update(mIoU=None), "baseline.mIoU: null (NaN) is not a finite number"),
        (lambda s: s.pop("baseline"), "missing key 'baseline'"),
        (lambda s: s["sweeps"].update(x=s["sweeps"]["1"]), "sweeps: 'x' is not a class id of Urban"),
        (lambda s: s.update(sweeps=[s["sweeps"]["1"]]), "sweeps must map class ids to rows, found list"),
        (lambda s: s["sweeps"]["1"][0].pop("mIoU"), "sweeps['1'][0]: missing key 'mIoU'"),
    ],
)
def test_a_tampered_sweep_is_refused_before_anything_is_written(workspace, tamper, fragment):
    sweep = a_sweep(GOOD_ROWS)
    tamper(sweep)
    result = script(PICK_SCRIPT, *pick_inputs(workspace, sweep), "--out", workspace / "pick")
    assert_refused(result, "sweep.json: ", fragment)
    assert not (workspace / "pick").exists()


def test_a_pick_into_a_folder_holding_another_pick_is_refused_before_best_json(workspace):
    inputs = pick_inputs(workspace, a_sweep(GOOD_ROWS))
    assert script(PICK_SCRIPT, *inputs, "--out", workspace / "pick", "-t", "all").returncode == 0
    before = folder_state(workspace / "pick")
    assert json.loads(before["best.json"])["modify"] == [1]
    result = script(PICK_SCRIPT, *inputs, "--out", workspace / "pick", "-t", "0.5")
    assert_refused(result, "best.json: holds another pick")
    assert folder_state(workspace / "pick") == before


@pytest.mark.parametrize("form", ["sweep", "pick"])
def test_an_output_that_is_a_file_or_an_input_folder_is_refused(workspace, form):
    command = (
        [SWEEP_SCRIPT, *sweep_inputs(workspace)]
        if form == "sweep"
        else [PICK_SCRIPT, *pick_inputs(workspace, a_sweep(GOOD_ROWS))]
    )
    (workspace / "taken").write_text("a file")
    assert_refused(script(*command, "--out", workspace / "taken"), "taken: --out exists and is not a folder")
    for folder, name in (("pred", "prediction"), ("gt", "ground-truth"), ("sam", "objects")):
        before = folder_state(workspace / folder)
        assert_refused(script(*command, "--out", workspace / folder), f"--out is the {name} folder")
        assert folder_state(workspace / folder) == before


def read_only(folder: Path) -> None:
    """Make ``folder`` unwritable, even for root (immutable attribute), or skip the test."""
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):
        if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", folder]).returncode != 0:
            folder.chmod(0o755)
            pytest.skip("cannot make a folder read-only here")


def writable(folder: Path) -> None:
    if shutil.which("chattr"):
        subprocess.run(["chattr", "-i", folder], capture_output=True)
    folder.chmod(0o755)


@pytest.mark.parametrize("form", ["sweep", "pick"])
def test_a_read_only_output_folder_is_one_line(workspace, form):
    command = (
        [SWEEP_SCRIPT, *sweep_inputs(workspace)]
        if form == "sweep"
        else [PICK_SCRIPT, *pick_inputs(workspace, a_sweep(GOOD_ROWS))]
    )
    (workspace / "locked").mkdir()
    read_only(workspace / "locked")
    try:
        assert_refused(script(*command, "--out", workspace / "locked" / "out"), "is not writable")
        assert_refused(script(*command, "--out", workspace / "locked"), "is not writable")
    finally:
        writable(workspace / "locked")
    assert list((workspace / "locked").iterdir()) == []


@pytest.mark.parametrize("empty", ["tune", "eval"])
def test_a_split_with_an_empty_list_is_refused_before_anything_is_written(workspace, empty):
    split = {"tune": ["01000"], "eval": ["01001"], empty: []}
    (workspace / "split.json").write_text(json.dumps(split))
    sweep = script(
        SWEEP_SCRIPT, *sweep_inputs(workspace), "--split", workspace / "split.json", "--out", workspace / "o"
    )
    assert_refused(sweep, "split.json: the", f"{empty} list is empty")
    pick = script(
        PICK_SCRIPT,
        *pick_inputs(workspace, a_sweep(GOOD_ROWS)),
        "--split",
        workspace / "split.json",
        "--out",
        workspace / "p",
    )
    assert_refused(pick, f"{empty} list is empty")
    assert not (workspace / "o").exists() and not (workspace / "p").exists()


def test_ground_truth_entirely_outside_the_classes_is_refused(workspace):
    for path in (workspace / "gt").glob("*.png"):
        write_label_png(path, np.full(read_label_png(path).shape, URBAN.ignore_index, np.uint8), URBAN)
    result = script(SWEEP_SCRIPT, *sweep_inputs(workspace), "--out", workspace / "out")
    assert_refused(result, "no ground-truth pixel of a scored Urban class", "values found: [8]")
    assert not (workspace / "out").exists()


def test_bad_options_are_one_line(workspace, tmp_path):
    assert_refused(
        script(PICK_SCRIPT, *pick_inputs(workspace, a_sweep(GOOD_ROWS)), "--out", workspace / "p", "-t", "foo"),
        "threshold mode 'foo'",
    )
    unknown = script(SWEEP_SCRIPT, "-f", tmp_path / "GeoSeg" / "fig_results" / "Mars" / "unetformer")
    assert_refused(unknown, "unknown dataset 'Mars'")
    debug = subprocess.run(
        [sys.executable, SWEEP_SCRIPT, "-f", tmp_path / "GeoSeg" / "fig_results" / "Mars" / "x", "--debug"],
        capture_output=True,
        text=True,
    )
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_relative_paths_of_the_explicit_form_are_taken_from_the_current_folder(workspace):
    inputs = [
        "--pred-dir",
        "pred",
        "--sam-dir",
        "sam",
        "--gt-dir",
        "gt",
        "--dataset",
        "Urban",
        "-n",
        "1",
        "--classes",
        "1",
    ]
    assert script(SWEEP_SCRIPT, *inputs, "--out", "sweep", cwd=workspace).returncode == 0
    assert (workspace / "sweep" / "sweep.json").is_file()
    pick = script(PICK_SCRIPT, *inputs[:-2], "--sweep", "sweep/sweep.json", "--out", "pick", cwd=workspace)
    assert pick.returncode == 0, pick.stderr
    assert sorted(p.name for p in (workspace / "pick" / "se_mask").glob("*.png")) == ["01000.png", "01001.png"]


def test_temporary_files_are_removed_when_writing_fails(workspace, monkeypatch):
    import matplotlib.figure

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", fail)
    samples = pair_inputs(workspace / "pred", workspace / "sam", workspace / "gt")
    with pytest.raises(OSError, match="No space left"):
        run_sweep(samples, URBAN, workspace / "out", classes=[1])
    assert [p.name for p in (workspace / "out").rglob("*") if "tmp" in p.name] == []
