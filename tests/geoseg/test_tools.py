"""The data-preparation logic behind ``GeoSeg/tools/`` on small synthetic inputs: LoveDA mask conversion and the
Potsdam patch split, including the reference's training-mode padding against a small re-implementation of it."""

from __future__ import annotations

import numpy as np
import pytest
from image_files import pixels
from PIL import Image

from geoseg.prepare import potsdam_patches as potsdam_tool
from geoseg.prepare.loveda_masks import convert_masks
from geoseg.prepare.potsdam_patches import SplitSettings, find_tiles, split_tiles
from rscommon.files import InputError


def split(tmp_path, mode: str, size: int = 32, padding: str = "reference", split_list=None, eroded=True) -> int:
    tiles = find_tiles(tmp_path / "img", tmp_path / "lab", split_list, eroded)
    return split_tiles(
        tiles,
        tmp_path / "oi",
        tmp_path / "om",
        SplitSettings(mode, size, size, padding),
        [tmp_path / "img", tmp_path / "lab"],
        workers=1,
    )


def test_loveda_masks_are_converted_with_colour_renderings(tmp_path):
    raw = np.random.default_rng(0).integers(0, 8, (20, 30), dtype=np.uint8)
    (tmp_path / "in").mkdir()
    Image.fromarray(raw, mode="L").save(tmp_path / "in" / "1366.png")
    assert convert_masks(tmp_path / "in", tmp_path / "out", workers=1) == (1, tmp_path / "out_rgb")
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


def test_loveda_conversion_names_a_bad_mask(tmp_path):
    (tmp_path / "in").mkdir()
    Image.fromarray(np.full((4, 4), 9, dtype=np.uint8), mode="L").save(tmp_path / "in" / "bad.png")
    with pytest.raises(InputError, match="bad.png"):
        convert_masks(tmp_path / "in", tmp_path / "o", workers=1)
    with pytest.raises(InputError, match="differ"):
        convert_masks(tmp_path / "in", tmp_path / "in", workers=1)


def test_window_starts_shift_the_last_patch_to_the_border():
    assert potsdam_tool.window_starts(6000, 1024, 1024) == [0, 1024, 2048, 3072, 4096, 4976]
    assert potsdam_tool.window_starts(2048, 1024, 1024) == [0, 1024]
    assert potsdam_tool.window_starts(100, 32, 16) == [0, 16, 32, 48, 64, 68]
    with pytest.raises(ValueError):
        potsdam_tool.window_starts(20, 32, 32)


def make_tile(folder, prefix: str, classes: np.ndarray, label_suffix: str) -> np.ndarray:
    """Write ``<prefix>RGB.tif`` (random pixels) and its colour label; returns the image."""
    colours = {index: colour for colour, index in potsdam_tool.COLOUR_TO_CLASS.items()}
    image = np.random.default_rng(1).integers(0, 256, classes.shape + (3,), dtype=np.uint8)
    label = np.array([colours[c] for c in classes.ravel()], dtype=np.uint8).reshape(classes.shape + (3,))
    Image.fromarray(image).save(folder / "img" / f"{prefix}RGB.tif")
    Image.fromarray(label).save(folder / "lab" / f"{prefix}{label_suffix}")
    return image


@pytest.mark.parametrize("mode", ["val", "train"])
def test_potsdam_split_cuts_tiles_into_named_patches(tmp_path, mode):
    """Validation tiles, and training tiles with ``train_padding="none"``: windows shifted back at the border."""
    for folder in ("img", "lab"):
        (tmp_path / folder).mkdir()
    classes = np.random.default_rng(2).integers(0, 7, (70, 100)).astype(np.uint8)
    image = make_tile(tmp_path, "top_potsdam_2_10_", classes, "label_noBoundary.tif")
    (tmp_path / "split.txt").write_text("top_potsdam_2_10_label.tif\n")
    split(tmp_path, mode, padding="none", split_list=tmp_path / "split.txt")
    rows, cols = [0, 32, 38], [0, 32, 64, 68]
    flips = [(image, classes)]
    if mode == "train":
        flips += [(image[:, ::-1], classes[:, ::-1]), (image[::-1], classes[::-1])]
    assert len(list((tmp_path / "oi").glob("*.png"))) == len(flips) * len(rows) * len(cols)
    for m, (version, labels) in enumerate(flips):
        for k, (y, x) in enumerate((y, x) for y in rows for x in cols):
            name = f"top_potsdam_2_10_{m}_{k}.png"
            np.testing.assert_array_equal(pixels(tmp_path / "oi" / name), version[y : y + 32, x : x + 32])
            with Image.open(tmp_path / "om" / name) as mask:
                assert mask.mode == "P"
                np.testing.assert_array_equal(np.array(mask), labels[y : y + 32, x : x + 32])


def reference_train_patches(image: np.ndarray, labels: np.ndarray, size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The reference's training-mode cut, re-implemented on arrays: each flip padded to a multiple of ``size`` with
    the tile placed bottom-right (zeros on the top and left; zero label colour = class 6), then windows of ``size``
    every ``size`` pixels in row-major order."""
    patches = []
    for version_image, version_labels in (
        (image, labels),
        (image[:, ::-1], labels[:, ::-1]),
        (image[::-1], labels[::-1]),
    ):
        height, width = labels.shape
        top, left = (size - height % size) % size, (size - width % size) % size
        padded_image = np.zeros((height + top, width + left, 3), np.uint8)
        padded_image[top:, left:] = version_image
        padded_labels = np.full((height + top, width + left), 6, np.uint8)
        padded_labels[top:, left:] = version_labels
        for y in range(0, height + top, size):
            for x in range(0, width + left, size):
                patches.append((padded_image[y : y + size, x : x + size], padded_labels[y : y + size, x : x + size]))
    return patches


def test_potsdam_train_split_pads_top_left_like_the_reference(tmp_path):
    for folder in ("img", "lab"):
        (tmp_path / folder).mkdir()
    classes = np.random.default_rng(3).integers(0, 7, (70, 100)).astype(np.uint8)
    image = make_tile(tmp_path, "top_potsdam_2_11_", classes, "label_noBoundary.tif")
    expected = reference_train_patches(image, classes, 32)
    assert split(tmp_path, "train") == len(expected) == 3 * 3 * 4
    for index, (want_image, want_labels) in enumerate(expected):
        name = f"top_potsdam_2_11_{index // 12}_{index % 12}.png"
        np.testing.assert_array_equal(pixels(tmp_path / "oi" / name), want_image)
        np.testing.assert_array_equal(pixels(tmp_path / "om" / name), want_labels)
    first = pixels(tmp_path / "om" / "top_potsdam_2_11_0_0.png")
    assert (first[:26] == 6).all() and (first[:, :28] == 6).all()  # 96 - 70 rows and 128 - 100 columns of padding


def test_potsdam_unknown_label_colours_become_ignore(tmp_path):
    rgb = np.array([[[255, 255, 255], [0, 0, 255], [10, 20, 30]]], dtype=np.uint8)
    with pytest.warns(UserWarning, match="1 pixel"):
        labels = potsdam_tool.colours_to_classes(rgb, tmp_path / "label.tif")
    np.testing.assert_array_equal(labels, [[0, 1, 6]])


def test_potsdam_split_reports_missing_tiles(tmp_path):
    for folder in ("img", "lab"):
        (tmp_path / folder).mkdir()
    Image.new("RGB", (40, 40)).save(tmp_path / "img" / "top_potsdam_3_10_RGB.tif")
    with pytest.raises(FileNotFoundError, match="top_potsdam_3_10_label.tif"):
        find_tiles(tmp_path / "img", tmp_path / "lab", None, eroded=False)
