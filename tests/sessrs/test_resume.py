"""Resumed sweeps and applications never return stale results: each saved result is keyed on the content of its
inputs and on the settings, a corrupt one is named and computed again, and a run killed with SIGKILL, then re-run
after an input changed, ends exactly as a clean run on the changed inputs."""

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sessrs_cases import copy_fixture_scenes

import sessrs.application as application_module
import sessrs.sweep as sweep_module
from rscommon.datasets import URBAN
from rscommon.files import InputError
from rscommon.labels import read_label_png, write_label_png
from sessrs.application import apply_to_samples
from sessrs.choose import ChoiceSettings, choose_and_apply
from sessrs.folders import ChoiceFolder
from sessrs.inputs import load_prepared, pair_inputs
from sessrs.steps import refine_prepared
from sessrs.sweep import run_sweep
from sessrs.thresholds import Thresholds

REPO = Path(__file__).resolve().parents[2]
SCENES = REPO / "tests" / "fixtures" / "sessrs_reference" / "scenes"
SWEEP_SCRIPT = REPO / "SESSRS" / "sessrs_t1_t2.py"
PICK_SCRIPT = REPO / "SESSRS" / "get_best_t1_t2.py"
CLASSES = [1, 6]
BEST = Thresholds(t1={1: 0.5, 6: 0.6}, t2={1: 0.55, 6: 0.7}, modify=[1, 6])


@pytest.fixture
def workspace(tmp_path):
    return copy_fixture_scenes(tmp_path / "data", ["01000", "01003", "01005"])


def change_input(folder: Path, kind: str, stem: str) -> None:
    """Change one input file of ``stem`` in place (same path, other content)."""
    if kind == "sam":
        path = folder / "sam" / f"{stem}.json"
        objects = json.loads(path.read_text())
        path.write_text(json.dumps(objects[len(objects) // 3 :]))
        return
    path = folder / kind / f"{stem}.png"
    labels = read_label_png(path)
    labels[100:400, 200:500] = 1
    write_label_png(path, labels, URBAN)


def recording(monkeypatch, module, name: str) -> list[str]:
    """Record the images a module's per-image function computes (run in this process with one worker)."""
    computed, original = [], getattr(module, name)

    def record(job):
        computed.append(job[0].stem)
        return original(job)

    monkeypatch.setattr(module, name, record)
    return computed


@pytest.mark.parametrize("kind", ["pred", "sam", "gt"])
def test_sweep_rerun_recomputes_exactly_the_changed_image(workspace, tmp_path, kind, monkeypatch, capsys):
    samples = pair_inputs(workspace / "pred", workspace / "sam", workspace / "gt")
    first = run_sweep(samples, URBAN, tmp_path / "out", classes=CLASSES)
    change_input(workspace, kind, "01003")
    computed = recording(monkeypatch, sweep_module, "_sweep_sample")
    rerun = run_sweep(samples, URBAN, tmp_path / "out", classes=CLASSES)
    assert computed == ["01003"]
    assert f"01003: inputs.{kind} changed" in capsys.readouterr().err
    assert rerun != first
    assert rerun == run_sweep(samples, URBAN, tmp_path / "clean", classes=CLASSES)


@pytest.mark.parametrize("damage", ["truncated", "not a zip", "wrong shapes"])
def test_a_corrupt_part_is_named_and_computed_again(workspace, tmp_path, damage, monkeypatch, capsys):
    samples = pair_inputs(workspace / "pred", workspace / "sam", workspace / "gt")
    first = run_sweep(samples, URBAN, tmp_path / "out", classes=CLASSES)
    part = tmp_path / "out" / "parts" / "01005.npz"
    if damage == "truncated":
        part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    elif damage == "not a zip":
        part.write_text("garbage")
    else:
        np.savez(part, baseline=np.zeros((3, 3), np.int64), made_from=np.array("{}"), class_1=np.zeros(2), class_6=0)
    computed = recording(monkeypatch, sweep_module, "_sweep_sample")
    assert run_sweep(samples, URBAN, tmp_path / "out", classes=CLASSES) == first
    assert computed == ["01005"]
    assert f"{part}: " in capsys.readouterr().err


def test_settings_of_the_parts_are_part_of_their_key(workspace, tmp_path, monkeypatch):
    """A part made with another object limit is never reused, even if the run record is changed by hand."""
    samples = pair_inputs(workspace / "pred", workspace / "sam", workspace / "gt")
    run_sweep(samples, URBAN, tmp_path / "out", classes=CLASSES, max_objects=4)
    run_file = tmp_path / "out" / "run.json"
    run_file.write_text(run_file.read_text().replace('"max_objects": 4', '"max_objects": 10'))
    computed = recording(monkeypatch, sweep_module, "_sweep_sample")
    rerun = run_sweep(samples, URBAN, tmp_path / "out", classes=CLASSES)
    assert sorted(computed) == ["01000", "01003", "01005"]
    assert rerun == run_sweep(samples, URBAN, tmp_path / "clean", classes=CLASSES)


@pytest.mark.parametrize(("content", "message"), [("[1, 2]", "not the record of a sweep"), ("{", "malformed JSON")])
def test_a_malformed_run_record_is_one_line(workspace, tmp_path, content, message):
    samples = pair_inputs(workspace / "pred", workspace / "sam", workspace / "gt")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "run.json").write_text(content)
    with pytest.raises(InputError, match=message) as error:
        run_sweep(samples, URBAN, tmp_path / "out", classes=CLASSES)
    assert str(error.value).startswith(str(tmp_path / "out" / "run.json")) and "\n" not in str(error.value)


@pytest.mark.parametrize("kind", ["pred", "sam"])
def test_application_rerun_refines_again_exactly_the_changed_image(workspace, tmp_path, kind, monkeypatch, capsys):
    samples = pair_inputs(workspace / "pred", workspace / "sam", workspace / "gt")
    first = apply_to_samples(samples, URBAN, BEST, tmp_path / "se_mask")
    change_input(workspace, kind, "01000")
    computed = recording(monkeypatch, application_module, "_refine_one")
    rerun = apply_to_samples(samples, URBAN, BEST, tmp_path / "se_mask")
    assert computed == ["01000"]
    assert f"01000: inputs.{kind} changed" in capsys.readouterr().err
    scene = load_prepared(samples[0], URBAN)
    expected = refine_prepared(scene, BEST.t1_array(8), BEST.t2_array(8), BEST.modify, max_objects=5)
    assert np.array_equal(read_label_png(tmp_path / "se_mask" / "01000.png"), expected)
    assert rerun != first
    assert rerun == apply_to_samples(samples, URBAN, BEST, tmp_path / "clean")


# ------------------------------------------------------------------------------------------- kill -9 and re-run


def kill_when(condition, command: list, log: Path, timeout: float = 300) -> None:
    """Start ``command``, SIGKILL it as soon as ``condition()`` holds; fail if it ends first (nothing to test)."""
    deadline = time.monotonic() + timeout
    with (
        open(log, "w") as stderr,
        subprocess.Popen([sys.executable, *map(str, command)], stdout=subprocess.DEVNULL, stderr=stderr) as process,
    ):
        while not condition():
            assert process.poll() is None, f"the run ended before it could be killed: {log.read_text()}"
            assert time.monotonic() < deadline, "the run made no progress"
            time.sleep(0.01)
        process.kill()


def script(path: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, path, *map(str, args)], capture_output=True, text=True)


FAULT_SCENES = ["01000", "01001", "01003", "01005", "01009"]


def kill_change_and_rerun(data: Path, script_path: Path, inputs: list, out: Path, progress: str, final: str) -> None:
    """Kill the run once two images are done (``progress``: their files under ``out``), change the prediction of one
    of them, and run the same command again: it must name that image and finish."""
    kill_when(lambda: len(list(out.glob(progress))) >= 2, [script_path, *inputs, "--out", out], out.parent / "kill.log")
    assert not (out / final).exists()
    done = sorted(path.stem for path in out.glob(progress))
    change_input(data, "pred", done[0])
    rerun = script(script_path, *inputs, "--out", out)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{done[0]}: inputs.pred changed" in rerun.stderr


def test_sweep_killed_then_rerun_after_an_input_changed_equals_a_clean_run(tmp_path):
    data = copy_fixture_scenes(tmp_path / "data", FAULT_SCENES)
    inputs = [
        "--pred-dir",
        data / "pred",
        "--sam-dir",
        data / "sam",
        "--gt-dir",
        data / "gt",
        "--dataset",
        "Urban",
        "--classes",
        *CLASSES,
        "-n",
        "1",
    ]
    kill_change_and_rerun(data, SWEEP_SCRIPT, inputs, tmp_path / "out", "parts/*.npz", "sweep.json")
    clean = run_sweep(pair_inputs(data / "pred", data / "sam", data / "gt"), URBAN, tmp_path / "clean", classes=CLASSES)
    assert json.loads((tmp_path / "out" / "sweep.json").read_text()) == clean


def test_pick_killed_then_rerun_after_an_input_changed_equals_a_clean_run(tmp_path):
    data = copy_fixture_scenes(tmp_path / "data", FAULT_SCENES)
    samples = pair_inputs(data / "pred", data / "sam", data / "gt")
    run_sweep(samples, URBAN, tmp_path / "sweep", classes=CLASSES)
    inputs = [
        "--sweep",
        tmp_path / "sweep" / "sweep.json",
        "--pred-dir",
        data / "pred",
        "--sam-dir",
        data / "sam",
        "--gt-dir",
        data / "gt",
        "--dataset",
        "Urban",
        "-t",
        "all",
        "-n",
        "1",
    ]
    out, clean = tmp_path / "pick", tmp_path / "clean"
    kill_change_and_rerun(data, PICK_SCRIPT, inputs, out, "se_mask/*.png", "metrics.json")
    choose_and_apply(
        tmp_path / "sweep" / "sweep.json",
        samples,
        samples,
        URBAN,
        ChoiceFolder(clean),
        settings=ChoiceSettings(threshold_mode="all"),
    )
    for name in ("best.json", "metrics.json"):
        assert json.loads((out / name).read_text()) == json.loads((clean / name).read_text())
    for stem in FAULT_SCENES:
        assert np.array_equal(
            read_label_png(out / "se_mask" / f"{stem}.png"), read_label_png(clean / "se_mask" / f"{stem}.png")
        )
