"""The QGIS Processing provider (qgis_plugin/sessrs_processing) in QGIS's own Python, headless: it registers with
the choices the commands allow; each algorithm run through ``processing.run`` on the embedded Potsdam tile as a
georeferenced scene gives what the command line gives; the outputs load with their style; a cancel ends the
command and its workers; a missing environment is one clear message.

All QGIS work runs in one subprocess (tests/qgis_plugin/qgis_driver.py, one QGIS session for every job, started
once per module); the command lines run here, in this tree's packages, and the results are compared.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely
from rasterio.features import shapes
from rasterio.windows import Window
from repository import REPO
from scene_files import (
    CRS,
    OVERLAP,
    POTSDAM_TILE,
    TRANSFORM,
    coarse_prediction,
    make_scene,
    read_band,
    scene_args,
    tune_args,
)

from rscommon.cli import run_main
from rscommon.labels import read_label_png
from rspipeline import scene_cli, tune_cli
from rspipeline.tune_labels import window_grid

QGIS_PYTHON = "/usr/bin/python3"
DRIVER = Path(__file__).with_name("qgis_driver.py")
PRESET = "reference-urban-unetformer-sam"
RECTANGLES = [(40, 40, 150, 170), (300, 260, 420, 400)]  # top, left, bottom, right: the labelled areas
CONTEXT = 24
# A stand-in for the scene command that ignores interrupts, as a stuck run would, with a worker that does too.
STUBBORN_COMMAND = """import signal, subprocess, sys, time
if "--help" in sys.argv:
    print("usage: sessrs_scene.py --objects {regions} --dataset {Urban,potsdam}")
    sys.exit(0)
signal.signal(signal.SIGINT, signal.SIG_IGN)
worker = [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(600)"]
subprocess.Popen(worker)
time.sleep(1)
print("refine:  50%|#####     | 1/2", flush=True)
time.sleep(600)
"""


@cache
def qgis_missing() -> str:
    """Why QGIS's Python cannot be used here ('' when it can)."""
    if not Path(QGIS_PYTHON).is_file():
        return f"{QGIS_PYTHON} is absent"
    done = subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True, text=True)
    return f"{QGIS_PYTHON} cannot import qgis.core (apt-get install python3-qgis)" if done.returncode else ""


pytestmark = [pytest.mark.skipif(bool(qgis_missing()), reason=qgis_missing()), pytest.mark.slow]


def labelled_polygons(pred_classes: np.ndarray) -> tuple[list[str], list[str]]:
    """Polygons of the Potsdam tile's ground truth inside the rectangles, as WKT, with their class ids as text."""
    wkt, classes = [], []
    for top, left, bottom, right in RECTANGLES:
        window = Window(left, top, right - left, bottom - top)
        grid = window_grid(window, TRANSFORM)
        for geometry, value in shapes(pred_classes[top:bottom, left:right], transform=grid):
            wkt.append(shapely.geometry.shape(geometry).wkt)
            classes.append(str(int(value)))
    return wkt, classes


def write_polygons(path: Path, wkt: list[str], classes: list[str]) -> Path:
    """The polygons as a GeoPackage with a text field ``class``, for the command line."""
    geometries = shapely.to_wkb(shapely.from_wkt(np.array(wkt, dtype=object)))
    fields = [np.array(classes, dtype=object)]
    pyogrio.raw.write(path, geometries, fields, ["class"], driver="GPKG", geometry_type="Polygon", crs=CRS)
    return path


def group_members(group: int) -> list[int]:
    """Processes of process group ``group`` still alive (zombies aside)."""
    members = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split() if stat else []
        if fields and int(fields[2]) == group and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def run_driver(jobs: dict, folder: Path) -> dict:
    """Every job in one headless QGIS session (QGIS settings in ``folder``, not the user's); outcomes by name."""
    job_file, result_file = folder / "jobs.json", folder / "results.json"
    job_file.write_text(json.dumps({"plugin": str(REPO / "qgis_plugin"), "jobs": jobs}))
    home = folder / "home"
    home.mkdir(mode=0o700)
    variables = {
        **os.environ,
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(home),
        "QT_QPA_PLATFORM": "offscreen",
        "SESSRS_PYTHON": sys.executable,
        "SESSRS_HOME": str(REPO),
    }
    done = subprocess.run(
        [QGIS_PYTHON, str(DRIVER), str(job_file), str(result_file)], capture_output=True, text=True, env=variables
    )
    assert done.returncode == 0 and result_file.is_file(), done.stderr[-3000:]
    return json.loads(result_file.read_text())


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The scene and every QGIS job's outcome."""
    folder = tmp_path_factory.mktemp("qgis")
    scene = make_scene(folder)
    classes = coarse_prediction(read_label_png(f"{POTSDAM_TILE}label_mmseg.png"), factor=1)
    wkt, values = labelled_polygons(classes)
    qgis = folder / "qgis"
    qgis.mkdir()
    inputs = {"IMAGE": str(scene["image"]), "PRED": str(scene["pred_tif"]), "OBJECTS": "regions"}
    tiling = {"TILE": 256, "OVERLAP": OVERLAP}
    refine = {"DATASET": "potsdam", "THRESHOLDS": str(folder / "best.json"), **inputs, **tiling}
    jobs = {
        "describe": {"action": "describe"},
        "refine": {
            "action": "run",
            "algorithm": "sessrs:refinescene",
            "parameters": {**refine, "OUTPUT": str(qgis / "out.tif"), "VECTOR": str(qgis / "out.gpkg")},
            "load": True,
            "style_beside": str(qgis / "out.qml"),
        },
        "preset": {
            "action": "run",
            "algorithm": "sessrs:applypreset",
            "parameters": {**inputs, **tiling, "PRESET": PRESET, "OUTPUT": str(qgis / "preset.tif")},
        },
        "tune": {
            "action": "run",
            "algorithm": "sessrs:tunethresholds",
            "parameters": {
                **inputs,
                "DATASET": "potsdam",
                "LABELS": {"wkt": wkt, "classes": values, "crs": CRS},
                "CLASS_FIELD": "class",
                "CONTEXT": CONTEXT,
                "OUTPUT": str(qgis / "tuned"),
            },
        },
        "cancel": {
            "action": "run",
            "algorithm": "sessrs:refinescene",
            "parameters": {**refine, "TILE": 128, "WORKERS": 2, "OUTPUT": str(qgis / "canceled.tif")},
            "cancel_at": "refine",
        },
        "stored_style": {"action": "stored_style", "gpkg": str(write_polygons(folder / "styled.gpkg", wkt, values))},
        "missing": {
            "action": "run",
            "algorithm": "sessrs:refinescene",
            "parameters": {**refine, "OUTPUT": str(qgis / "missing.tif")},
            "environ": {"SESSRS_PYTHON": str(folder / "no-python")},
        },
    }
    stubborn = folder / "stubborn"
    (stubborn / "pipeline").mkdir(parents=True)
    (stubborn / "pipeline" / "sessrs_scene.py").write_text(STUBBORN_COMMAND)
    jobs["stubborn"] = {**jobs["cancel"], "environ": {"SESSRS_HOME": str(stubborn)}}
    jobs["stubborn"]["parameters"] = {**refine, "OUTPUT": str(qgis / "stubborn.tif")}
    outcomes = run_driver(jobs, folder)
    return {"folder": folder, "scene": scene, "qgis": qgis, "wkt": wkt, "values": values, **outcomes}


def test_the_provider_registers_with_the_commands_choices(runs: dict) -> None:
    algorithms = runs["describe"]["algorithms"]
    assert sorted(algorithms) == ["sessrs:applypreset", "sessrs:refinescene", "sessrs:tunethresholds"]
    assert "regions" in algorithms["sessrs:refinescene"]["enums"]["OBJECTS"]
    assert algorithms["sessrs:refinescene"]["enums"]["DATASET"] == ["Urban", "potsdam"]
    assert algorithms["sessrs:tunethresholds"]["enums"]["SEARCH"] == ["pick", "joint"]
    assert [label.split(":")[0] for label in algorithms["sessrs:applypreset"]["enums"]["PRESET"]] == [PRESET]
    assert "DATASET" not in algorithms["sessrs:applypreset"]["parameters"]  # the preset's


def test_refine_scene_equals_the_command_line(runs: dict, tmp_path: Path) -> None:
    refine, qgis = runs["refine"], runs["qgis"]
    assert "error" not in refine, refine
    out = tmp_path / "out.tif"
    assert (
        run_main(scene_cli.main, scene_args(runs["scene"], out, "best.json", "--vector", str(tmp_path / "out.gpkg")))
        == 0
    )
    np.testing.assert_array_equal(read_band(qgis / "out.tif"), read_band(out))
    made, expected = (pyogrio.read_info(path / "out.gpkg", layer="classes") for path in (qgis, tmp_path))
    assert len(made["fields"]) == len(expected["fields"])
    assert made["features"] == expected["features"]
    assert json.loads((qgis / "out.tif.report.json").read_text()) == json.loads(Path(f"{out}.report.json").read_text())
    assert refine["results"]["REPORT"] == f"{qgis / 'out.tif'}.report.json"
    # QGIS's progress bar followed the command's bars, stage by stage (then Processing loaded the outputs)
    assert refine["stages"][:2] == ["refine", "write"] and 100 in refine["progress"]
    tiles = refine["progress"][: refine["progress"].index(100) + 1]
    assert tiles == sorted(tiles) and len(tiles) >= 3


def test_outputs_load_with_the_style_stored_beside_them(runs: dict) -> None:
    """The class raster loads with the .qml beside it (here a grey one, written before the run); without it QGIS
    would show the raster's palette."""
    loaded = runs["refine"]["loaded"]
    assert loaded[str(runs["qgis"] / "out.tif")] == "singlebandgray"
    assert str(runs["qgis"] / "out.gpkg") in {source.split("|")[0] for source in loaded}


def test_polygons_load_with_the_style_stored_in_their_geopackage(runs: dict) -> None:
    assert runs["stored_style"]["renderers"] == ["singleSymbol", "categorizedSymbol"]


def test_apply_preset_equals_the_command_line(runs: dict, tmp_path: Path) -> None:
    preset = runs["preset"]
    assert "error" not in preset, preset
    out = tmp_path / "preset.tif"
    args = scene_args(runs["scene"], out)
    args[args.index("--thresholds") + 1] = f"preset:{PRESET}"
    args[args.index("--dataset") + 1] = "Urban"
    assert run_main(scene_cli.main, args) == 0
    np.testing.assert_array_equal(read_band(runs["qgis"] / "preset.tif"), read_band(out))
    assert any(line.startswith(f"preset {PRESET}: thresholds tuned for") for line in preset["log"])


def test_tune_from_a_scratch_layer_equals_the_command_line(runs: dict, tmp_path: Path, capsys) -> None:
    tune = runs["tune"]
    assert "error" not in tune, tune
    labels = write_polygons(tmp_path / "labels.gpkg", runs["wkt"], runs["values"])
    scene = runs["scene"]
    args = tune_args(scene, tmp_path / "t", labels, scene["pred_tif"], context=CONTEXT)
    capsys.readouterr()
    assert run_main(tune_cli.main, args) == 0
    printed = capsys.readouterr().out
    best = json.loads((runs["qgis"] / "tuned" / "best.json").read_text())
    assert best == json.loads((tmp_path / "t" / "best.json").read_text())
    before, after = tune["results"]["MIOU_BEFORE"], tune["results"]["MIOU_AFTER"]
    assert f"on the areas: mIoU {before:.2f} -> {after:.2f}" in printed
    assert tune["results"]["BEST"] == str(runs["qgis"] / "tuned" / "best.json")


def test_cancel_ends_the_command_and_its_workers(runs: dict) -> None:
    cancel = runs["cancel"]
    assert cancel["error"].startswith("Canceled"), cancel
    assert len(cancel["group_at_cancel"]) >= 3  # the command and its two workers were running
    assert group_members(cancel["group"]) == []
    assert not (runs["qgis"] / "canceled.tif").exists()
    assert cancel["progress"][-1] < 100


def test_cancel_kills_a_command_that_ignores_the_interrupt(runs: dict) -> None:
    """A command still running 10 s after the interrupt is killed with its workers (the runner's grace)."""
    stubborn = runs["stubborn"]
    assert stubborn["error"].startswith("Canceled"), stubborn
    assert len(stubborn["group_at_cancel"]) == 2  # the command and its worker
    assert group_members(stubborn["group"]) == []


def test_a_missing_python_is_one_clear_message(runs: dict) -> None:
    error = runs["missing"]["error"]
    assert "SESSRS's Python not found" in error and "no-python" in error and "SESSRS_PYTHON" in error
    assert not (runs["qgis"] / "missing.tif").exists()
