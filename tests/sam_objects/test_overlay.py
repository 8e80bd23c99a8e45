"""Overlay and blend pictures from object JSONs: deterministic colours, no uint8 wrap-around, the script."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from image_files import pixels

from rscommon.files import write_json_atomic
from rscommon.objects import encode_object
from rscommon.overlay import blend, object_colour, render_objects
from sam_objects.render_cli import main

TILE = Path(__file__).resolve().parents[2] / "data/real_samples/potsdam/top_potsdam_2_10_crop0_0_512_512_RGB.png"


def test_colours_are_fixed_per_rank_and_distinct() -> None:
    colours = [object_colour(rank) for rank in range(50)]
    assert colours == [object_colour(rank) for rank in range(50)]
    assert len(set(colours)) == 50
    assert all(0 <= channel <= 255 for colour in colours for channel in colour)


def test_overlapping_objects_take_one_colour_smaller_on_top() -> None:
    big = np.ones((6, 8), dtype=np.uint8)
    small = np.zeros((6, 8), dtype=np.uint8)
    small[1:3, 2:5] = 1
    overlay = render_objects(np.stack([small, big], axis=2))
    assert (overlay[small > 0] == object_colour(1)).all()  # the smaller object ranks second, painted last
    assert (overlay[(big > 0) & (small == 0)] == object_colour(0)).all()
    assert render_objects(np.zeros((4, 4, 0), dtype=np.uint8)).max() == 0


def test_blend_does_not_wrap_around_and_leaves_uncovered_pixels() -> None:
    image = np.full((2, 2, 3), 250, dtype=np.uint8)
    overlay = np.full((2, 2, 3), 240, dtype=np.uint8)
    covered = np.array([[True, False], [True, True]])
    blended = blend(image, overlay, covered, alpha=0.5)
    assert blended.dtype == np.uint8
    assert (blended[covered] == 245).all()
    assert (blended[~covered] == 250).all()
    with pytest.raises(ValueError):
        blend(image, overlay, covered, alpha=1.5)


def test_picture_script_writes_label_and_blend_and_resumes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    images, jsons, out = tmp_path / "images", tmp_path / "json", tmp_path / "pictures"
    images.mkdir()
    shutil.copy(TILE, images / "tile.png")
    mask = np.zeros((512, 512), dtype=bool)
    mask[100:300, 50:200] = True
    write_json_atomic(jsons / "tile.json", [encode_object(mask)])

    assert main(["-i", str(images), "-j", str(jsons), "-o", str(out)]) == 0
    label = pixels(out / "label/tile.png")
    blended = pixels(out / "blend/tile.png")
    original = pixels(TILE, "RGB")
    assert label.shape == blended.shape == original.shape
    assert (label[mask] == object_colour(0)).all() and label[~mask].max() == 0
    assert (blended[~mask] == original[~mask]).all() and not (blended[mask] == original[mask]).all()

    capsys.readouterr()
    assert main(["-i", str(images), "-j", str(jsons), "-o", str(out)]) == 0
    assert "0 written, 1 skipped" in capsys.readouterr().out

    # New objects, or another --alpha: the pictures are redrawn, never kept out of date.
    mask[:] = False
    mask[0:50, 0:60] = True
    write_json_atomic(jsons / "tile.json", [encode_object(mask)])
    assert main(["-i", str(images), "-j", str(jsons), "-o", str(out)]) == 0
    assert "1 redone: inputs.objects changed" in capsys.readouterr().out
    assert (pixels(out / "label/tile.png")[mask] == object_colour(0)).all()
    assert main(["-i", str(images), "-j", str(jsons), "-o", str(out), "--alpha", "0.8"]) == 0
    assert "1 redone: settings.alpha changed" in capsys.readouterr().out


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("area", ["NaN", "Infinity"])
def test_object_json_with_non_finite_area_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture, area: str, workers: str
) -> None:
    """One line per bad JSON naming it; the other image is still drawn; no pool traceback with -n 2."""
    images, jsons, out = tmp_path / "images", tmp_path / "json", tmp_path / "pictures"
    images.mkdir()
    shutil.copy(TILE, images / "good.png")
    shutil.copy(TILE, images / "bad.png")
    mask = np.zeros((512, 512), dtype=bool)
    mask[10:20, 10:20] = True
    write_json_atomic(jsons / "good.json", [encode_object(mask)])
    record = encode_object(mask)
    (jsons / "bad.json").write_text(f'[{{"rles": {json.dumps(record["rles"])}, "area": {area}}}]')

    code = main(["-i", str(images), "-j", str(jsons), "-o", str(out), "-n", workers])
    printed = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in printed.err and "Traceback" not in printed.out
    failures = [line for line in printed.err.splitlines() if line.startswith("FAILED")]
    assert len(failures) == 1 and str(jsons / "bad.json") in failures[0] and "area" in failures[0]
    assert "1 written, 0 skipped (already done), 1 failed" in printed.out
    assert (out / "label/good.png").exists() and not (out / "label/bad.png").exists()


def test_picture_folder_equal_to_an_input_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    images, jsons = tmp_path / "images", tmp_path / "json"
    images.mkdir()
    shutil.copy(TILE, images / "tile.png")
    write_json_atomic(jsons / "tile.json", [])
    for out in (images, jsons):
        before = sorted(p.name for p in out.iterdir())
        assert main(["-i", str(images), "-j", str(jsons), "-o", str(out)]) == 2
        err = capsys.readouterr().err
        assert (
            err.startswith("error: ")
            and ("is the image folder" in err or "is the object JSON folder" in err)
            and err.count("\n") == 1
        )
        assert sorted(p.name for p in out.iterdir()) == before
