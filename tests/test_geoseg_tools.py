"""The data-preparation tools on small synthetic inputs: LoveDA mask conversion and the Potsdam patch split."""
from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest
from image_files import pixels
from PIL import Image

from geoseg.paths import GEOSEG_ROOT


def load_tool(name: str):
    spec = importlib.util.spec_from_file_location(f"geoseg_tool_{name}", GEOSEG_ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def loveda_tool():
    return load_tool("loveda_mask_convert")


@pytest.fixture(scope="module")
def potsdam_tool():
    return load_tool("potsdam_patch_split")


def test_loveda_masks_are_converted_with_colour_renderings(loveda_tool, tmp_path):
    raw = np.random.default_rng(0).integers(0, 8, (20, 30), dtype=np.uint8)
    (tmp_path / "in").mkdir()
    Image.fromarray(raw, mode="L").save(tmp_path / "in" / "1366.png")
    loveda_tool.main(["--mask-dir", str(tmp_path / "in"), "--output-mask-dir", str(tmp_path / "out"), "-n", "1"])
    with Image.open(tmp_path / "out" / "1366.png") as image:
        assert image.mode == "P"
        converted = np.array(image)
    expected = raw.astype(int) - 1
    expected[raw == 0] = 7
    np.testing.assert_array_equal(converted, expected)
    with Image.open(tmp_path / "out_rgb" / "1366.png") as image:
        rgb = np.array(image)
    assert tuple(rgb[raw == 2][0]) == (255, 0, 0) and tuple(rgb[raw == 0][0]) == (0, 0, 0)
    np.testing.assert_array_equal(pixels(tmp_path / "in" / "1366.png"), raw)  # input untouched


def test_loveda_conversion_names_a_bad_mask(loveda_tool, tmp_path):
    (tmp_path / "in").mkdir()
    Image.fromarray(np.full((4, 4), 9, dtype=np.uint8), mode="L").save(tmp_path / "in" / "bad.png")
    with pytest.raises(ValueError, match="bad.png"):
        loveda_tool.main(["--mask-dir", str(tmp_path / "in"), "--output-mask-dir", str(tmp_path / "o"), "-n", "1"])


def test_window_starts_shift_the_last_patch_to_the_border(potsdam_tool):
    assert potsdam_tool.window_starts(6000, 1024, 1024) == [0, 1024, 2048, 3072, 4096, 4976]
    assert potsdam_tool.window_starts(2048, 1024, 1024) == [0, 1024]
    assert potsdam_tool.window_starts(100, 32, 16) == [0, 16, 32, 48, 64, 68]
    with pytest.raises(ValueError):
        potsdam_tool.window_starts(20, 32, 32)


def make_tile(folder, prefix: str, classes: np.ndarray, label_suffix: str, tool) -> np.ndarray:
    """Write ``<prefix>RGB.tif`` (random pixels) and its colour label; returns the image."""
    colours = {index: colour for colour, index in tool.COLOUR_TO_CLASS.items()}
    image = np.random.default_rng(1).integers(0, 256, classes.shape + (3,), dtype=np.uint8)
    label = np.array([colours[c] for c in classes.ravel()], dtype=np.uint8).reshape(classes.shape + (3,))
    Image.fromarray(image).save(folder / "img" / f"{prefix}RGB.tif")
    Image.fromarray(label).save(folder / "lab" / f"{prefix}{label_suffix}")
    return image


@pytest.mark.parametrize("mode", ["val", "train"])
def test_potsdam_split_cuts_tiles_into_named_patches(potsdam_tool, tmp_path, mode):
    for folder in ("img", "lab"):
        (tmp_path / folder).mkdir()
    classes = np.random.default_rng(2).integers(0, 7, (70, 100)).astype(np.uint8)
    image = make_tile(tmp_path, "top_potsdam_2_10_", classes, "label_noBoundary.tif", potsdam_tool)
    (tmp_path / "split.txt").write_text("top_potsdam_2_10_label.tif\n")
    potsdam_tool.main([
        "--img-dir", str(tmp_path / "img"), "--mask-dir", str(tmp_path / "lab"), "--eroded",
        "--split-list", str(tmp_path / "split.txt"), "--output-img-dir", str(tmp_path / "oi"),
        "--output-mask-dir", str(tmp_path / "om"), "--mode", mode, "--split-size", "32", "--stride", "32", "-n", "1",
    ])
    rows, cols = [0, 32, 38], [0, 32, 64, 68]
    flips = [(image, classes)]
    if mode == "train":
        flips += [(image[:, ::-1], classes[:, ::-1]), (image[::-1], classes[::-1])]
    assert len(list((tmp_path / "oi").glob("*.png"))) == len(flips) * len(rows) * len(cols)
    for m, (version, labels) in enumerate(flips):
        for k, (y, x) in enumerate((y, x) for y in rows for x in cols):
            name = f"top_potsdam_2_10_{m}_{k}.png"
            np.testing.assert_array_equal(pixels(tmp_path / "oi" / name), version[y:y + 32, x:x + 32])
            with Image.open(tmp_path / "om" / name) as mask:
                assert mask.mode == "P"
                np.testing.assert_array_equal(np.array(mask), labels[y:y + 32, x:x + 32])


def test_potsdam_unknown_label_colours_become_ignore(potsdam_tool, tmp_path):
    rgb = np.array([[[255, 255, 255], [0, 0, 255], [10, 20, 30]]], dtype=np.uint8)
    with pytest.warns(UserWarning, match="1 pixel"):
        labels = potsdam_tool.colours_to_classes(rgb, tmp_path / "label.tif")
    np.testing.assert_array_equal(labels, [[0, 1, 6]])


def test_potsdam_split_reports_missing_tiles(potsdam_tool, tmp_path):
    for folder in ("img", "lab"):
        (tmp_path / folder).mkdir()
    Image.new("RGB", (40, 40)).save(tmp_path / "img" / "top_potsdam_3_10_RGB.tif")
    with pytest.raises(SystemExit, match="top_potsdam_3_10_label.tif"):
        potsdam_tool.main(["--img-dir", str(tmp_path / "img"), "--mask-dir", str(tmp_path / "lab"),
                           "--output-img-dir", str(tmp_path / "oi"), "--output-mask-dir", str(tmp_path / "om")])
