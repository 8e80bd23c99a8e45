"""The generate_json_*.py scripts end bad input in exit 2 and one line naming the file, and an internal bug in
exit 1 with its type (traceback with --debug)."""

from __future__ import annotations

import shutil
from pathlib import Path

from exit_codes import assert_bad_input, assert_bug

from rscommon.paths import REAL_SAMPLES
from sam_objects import cli, registry


def main(argv: list[str]) -> int:
    return cli.run(argv, "regions")


def test_a_missing_image_folder_is_bad_input(tmp_path: Path) -> None:
    missing = tmp_path / "no-images"
    assert_bad_input(main, ["-i", missing, "-j", tmp_path / "json"], str(missing))


def test_a_failure_inside_the_source_is_a_bug(tmp_path: Path, monkeypatch) -> None:
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(next((REAL_SAMPLES / "potsdam").glob("*_RGB.png")), images)

    def broken(recipe):
        return 1 / 0

    monkeypatch.setattr(registry, "build_source", broken)
    assert_bug(main, ["-i", images, "-j", tmp_path / "json"], ZeroDivisionError, "division by zero")
