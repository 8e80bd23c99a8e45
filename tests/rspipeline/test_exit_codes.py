"""sessrs_scene.py and sessrs_tune.py end bad input in exit 2 and one line naming the file, and an internal bug in
exit 1 with its type (traceback with --debug)."""

from __future__ import annotations

from pathlib import Path

from exit_codes import assert_bad_input, assert_bug
from scene_files import scene_args
from tune_scene import make_tune_scene, tune_args

from rspipeline import scene as scene_module
from rspipeline import scene_cli, tune, tune_cli


def broken(*args, **kwargs):
    return 1 / 0


def test_the_scene_command_ends_bad_input_and_bugs_apart(scene, tmp_path: Path, monkeypatch) -> None:
    missing = tmp_path / "missing.tif"
    assert_bad_input(scene_cli.main, scene_args(scene, tmp_path / "a.tif", image=missing), str(missing))
    monkeypatch.setattr(scene_module, "scan_scene", broken)
    assert_bug(scene_cli.main, scene_args(scene, tmp_path / "b.tif"), ZeroDivisionError, "division by zero")


def test_the_tuning_command_ends_bad_input_and_bugs_apart(tmp_path: Path, monkeypatch) -> None:
    scene = make_tune_scene(tmp_path)
    missing = tmp_path / "missing.gpkg"
    assert_bad_input(tune_cli.main, tune_args(scene, tmp_path / "a", labels=missing), str(missing))
    monkeypatch.setattr(tune, "read_labels", broken)
    assert_bug(tune_cli.main, tune_args(scene, tmp_path / "b"), ZeroDivisionError, "division by zero")
