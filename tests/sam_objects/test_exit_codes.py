"""The generate_json_*.py scripts end bad input in exit 2 and one line naming the file, and an internal bug in
exit 1 with its type (traceback with --debug)."""

from __future__ import annotations

import shutil
from pathlib import Path

from exit_codes import assert_bad_input, assert_bug, error_lines

from rscommon.cli import EXIT_FAILED
from rscommon.paths import REAL_SAMPLES
from sam_objects import cli, registry, runner


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


def _two_images(tmp_path: Path) -> Path:
    images = tmp_path / "images"
    images.mkdir()
    for name, tile in zip(("a.png", "b.png"), sorted((REAL_SAMPLES / "potsdam").glob("*_RGB.png")) * 2):
        shutil.copy(tile, images / name)
    return images


def test_a_failure_inside_one_images_task_is_a_bug_once_the_others_are_saved(tmp_path: Path, monkeypatch) -> None:
    images, out = _two_images(tmp_path), tmp_path / "json"
    generate = runner.WriteObjects.__call__

    def broken_on_b(self, image_path: Path):
        if image_path.name == "b.png":
            raise RuntimeError("fault in the source")
        return generate(self, image_path)

    monkeypatch.setattr(runner.WriteObjects, "__call__", broken_on_b)
    assert_bug(main, ["-i", images, "-j", out], RuntimeError, "fault in the source")
    assert (out / "a.json").is_file() and not (out / "b.json").exists()


def test_a_broken_image_fails_alone_and_is_no_bug(tmp_path: Path) -> None:
    images, out = _two_images(tmp_path), tmp_path / "json"
    (images / "b.png").write_bytes(b"not a png")
    code, errors, text = error_lines(main, ["-i", images, "-j", out])
    assert code == EXIT_FAILED and not errors and "FAILED b.png" in text, text
    assert (out / "a.json").is_file()
