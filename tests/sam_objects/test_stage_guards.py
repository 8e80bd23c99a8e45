"""The SAM stage's scripts refuse what they cannot do well, each in one line: a second run on the same output folder,
and an image too large to read whole (the others are still made; --max-image-pixels sets the limit)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from large_files import blank_tiff

from rscommon.locks import acquire, folder_lock, release
from sam_objects import render_cli
from sam_objects.cli import main

TILE = Path(__file__).resolve().parents[2] / "data/real_samples/potsdam/top_potsdam_2_10_crop0_0_512_512_RGB.png"


@pytest.fixture
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    shutil.copy(TILE, folder / "tile.png")
    return folder


@pytest.mark.parametrize("script, option", [("json", "-j"), ("pictures", "-o")])
def test_a_second_run_on_the_same_output_folder_is_refused_in_one_line(
    images: Path, tmp_path: Path, script: str, option: str, capsys: pytest.CaptureFixture
) -> None:
    jsons, out = tmp_path / "json", tmp_path / "pictures"
    assert main(["-i", str(images), "-j", str(jsons), "--model", "regions"]) == 0
    run = {
        "json": lambda: main(["-i", str(images), "-j", str(jsons), "--model", "regions", "--overwrite"]),
        "pictures": lambda: render_cli.main(["-i", str(images), "-j", str(jsons), "-o", str(out)]),
    }[script]
    held = jsons if script == "json" else out
    capsys.readouterr()
    record = acquire(folder_lock(held), "the other run")  # as a run in progress holds it
    try:
        assert run() == 2
    finally:
        release(folder_lock(held), record)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {option} {held}: in use by process {os.getpid()} on ")
    assert run() == 0


def test_a_huge_image_fails_alone_and_undecoded(images: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    big = blank_tiff(images / "big.tif", 20000, 20000)
    jsons = tmp_path / "json"
    assert main(["-i", str(images), "-j", str(jsons), "--model", "regions"]) == 1
    printed = capsys.readouterr()
    failures = [line for line in printed.err.splitlines() if "FAILED" in line]
    assert failures == [
        f"FAILED big.tif: InputError: {big}: 20000 x 20000 = 400,000,000 pixels is more than one "
        "image may have here (67,108,864 pixels; raise it with $SESSRS_MAX_IMAGE_PIXELS, or the SAM scripts' "
        "--max-image-pixels); read large rasters tile by tile with pipeline/sessrs_scene.py"
    ]
    assert "1 written, 0 skipped (already done), 1 failed" in printed.out
    assert sorted(path.name for path in jsons.glob("*.json")) == ["tile.json"]


@pytest.mark.parametrize("script", ["json", "pictures"])
def test_max_image_pixels_sets_the_limit(
    images: Path, tmp_path: Path, script: str, capsys: pytest.CaptureFixture
) -> None:
    jsons = tmp_path / "json"
    limit = ["--max-image-pixels", str(512 * 512 - 1)]
    if script == "json":
        code = main(["-i", str(images), "-j", str(jsons), "--model", "regions", *limit])
    else:
        assert main(["-i", str(images), "-j", str(jsons), "--model", "regions"]) == 0
        code = render_cli.main(["-i", str(images), "-j", str(jsons), "-o", str(tmp_path / "pictures"), *limit])
    assert code == 1
    assert "FAILED tile.png: InputError: " in capsys.readouterr().err
    assert (
        main(["-i", str(images), "-j", str(tmp_path / "other"), "--model", "regions", "--max-image-pixels", "0"]) == 2
    )
    assert capsys.readouterr().err == (
        "error: a limit must be a whole number of at least 1, got 0 (see $SESSRS_MAX_IMAGE_PIXELS)\n"
    )
