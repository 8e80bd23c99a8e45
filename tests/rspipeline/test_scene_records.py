"""The scene command applies a best.json as it records it (mode, object limit, dataset) and refuses, before any
tile, a recorded figure it cannot use or a setting that conflicts with the record."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from scene_files import BEST, read_band, scene_args

from rscommon.cli import run_main
from rscommon.datasets import URBAN
from rspipeline.scene_cli import main
from rspipeline.scene_report import report_path
from sessrs.modes import IMPROVED
from sessrs.thresholds import Application, Thresholds


def run(args: list[str]) -> tuple[int, list[str]]:
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = run_main(main, args)
    return code, [line for line in stderr.getvalue().splitlines() if line.startswith("error:")]


@pytest.fixture(scope="module")
def improved(scene) -> str:
    thresholds = Thresholds.from_json(BEST)
    Thresholds(thresholds.t1, thresholds.t2, thresholds.modify, Application("potsdam", IMPROVED, 5)).write(
        scene["folder"] / "improved.json"
    )
    return "improved.json"


def test_the_recorded_mode_is_applied_and_a_conflicting_one_refused(scene, improved, tmp_path: Path) -> None:
    assert run(scene_args(scene, tmp_path / "recorded.tif", improved))[0] == 0
    assert run(scene_args(scene, tmp_path / "given.tif", improved, "--mode", "improved"))[0] == 0
    assert run(scene_args(scene, tmp_path / "faithful.tif", "best.json"))[0] == 0
    report = json.loads(report_path(tmp_path / "recorded.tif").read_text())
    assert (report["mode"], report["options"], report["max_objects"]) == ("improved", IMPROVED.to_json(), 5)
    recorded = read_band(tmp_path / "recorded.tif")
    assert np.array_equal(recorded, read_band(tmp_path / "given.tif"))
    assert not np.array_equal(recorded, read_band(tmp_path / "faithful.tif"))  # the modes differ on this scene
    code, errors = run(scene_args(scene, tmp_path / "wrong.tif", improved, "--mode", "faithful"))
    assert code == 2 and len(errors) == 1 and "tuned in improved mode, applied in faithful mode" in errors[0]
    assert not (tmp_path / "wrong.tif").exists() and not (tmp_path / "wrong.tif.parts").exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"Clutter": {"to": "x", "from": 0.1}}, "tuned_changes['Clutter'].to: 'x' is not a share in [0, 1]"),
        ({"Car": [0.1, 0.2]}, "tuned_changes['Car'].to: None is not a share in [0, 1]"),
        ([0.1], "tuned_changes must map class names to shares, found list"),
        ({name: {"to": 0.0, "from": 0.0} for name in URBAN.classes}, "names classes ['agricultural', 'background'"),
    ],
)
def test_unusable_tuned_changes_are_refused_before_any_tile(scene, tmp_path: Path, changes, message) -> None:
    (scene["folder"] / "bad.json").write_text(json.dumps({**BEST, "tuned_changes": changes}))
    code, errors = run(scene_args(scene, tmp_path / "out.tif", "bad.json"))
    assert code == 2 and len(errors) == 1 and message in errors[0] and "bad.json" in errors[0], errors
    assert not (tmp_path / "out.tif").exists() and not (tmp_path / "out.tif.parts").exists()


@pytest.mark.parametrize("area", ["infpx", "nanm2", "-1e400px"])
def test_a_minimum_area_that_is_not_a_finite_size_is_refused(scene, tmp_path: Path, area: str) -> None:
    args = scene_args(scene, tmp_path / "out.tif", "best.json", "--vector", str(tmp_path / "out.gpkg"))
    code, errors = run([*args, f"--min-area={area}"])
    assert code == 2 and errors == [
        f"error: --min-area {area}: give a finite number of pixels or square metres with its unit, e.g. 4px or 0.5m2"
    ]
