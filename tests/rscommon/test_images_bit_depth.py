"""``rscommon.images.read_rgb`` on 16-bit and floating-point images, and the SAM stage run on them end to end.

A 16-bit or float image must be stretched per band between its 2nd and 98th percentiles (never cut to a byte or
saturated), bands in RGB order; the weight-free object source must then find as many objects as in the 8-bit tile.
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import pytest
from image_files import pixels
from PIL import Image

from rscommon.images import read_rgb, stretch_to_uint8
from sam_objects.cli import main

TILE = Path(__file__).resolve().parents[2] / "data/real_samples/potsdam/top_potsdam_2_10_crop0_0_512_512_RGB.png"


def _percentile_stretch(bands: np.ndarray) -> np.ndarray:
    """The documented stretch, written out independently: per band, 2nd..98th percentile to 0..255."""
    out = np.zeros(bands.shape, np.uint8)
    for band in range(bands.shape[2]):
        values = bands[..., band].astype(np.float64)
        low, high = np.percentile(values, [2, 98])
        out[..., band] = np.rint(np.clip((values - low) / (high - low), 0, 1) * 255)
    return out


@pytest.fixture(scope="module")
def rgb16() -> np.ndarray:
    """A 16-bit RGB image using the upper range (as sensors store it), with distinct bands."""
    tile = pixels(TILE, "RGB")[:96, :128].astype(np.uint16)
    return tile * np.array([180, 200, 220], np.uint16) + np.array([1000, 2000, 3000], np.uint16)


def _write_bgr(path: Path, rgb: np.ndarray) -> Path:
    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1]))
    return path


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_rgb_is_stretched_per_band_in_rgb_order(tmp_path: Path, rgb16: np.ndarray, suffix: str) -> None:
    image = read_rgb(_write_bgr(tmp_path / f"image{suffix}", rgb16))
    assert image.dtype == np.uint8 and image.shape == (96, 128, 3)
    assert np.array_equal(image, _percentile_stretch(rgb16))
    assert 0 < (image == 255).mean() < 0.05, "saturated, not stretched"


def test_16_bit_greyscale_png_is_stretched_to_grey_rgb(tmp_path: Path, rgb16: np.ndarray) -> None:
    grey = rgb16[..., 1]
    Image.fromarray(grey).save(tmp_path / "grey.png")  # PIL writes mode I;16
    image = read_rgb(tmp_path / "grey.png")
    expected = _percentile_stretch(grey[..., None])[..., 0]
    assert all(np.array_equal(image[..., band], expected) for band in range(3))


@pytest.mark.parametrize("scale", [1.0, 1000.0])
def test_float_rgb_tiff_is_stretched_not_thresholded(tmp_path: Path, rgb16: np.ndarray, scale: float) -> None:
    """Reflectances in 0..1 (and radiances in the thousands) alike: a float TIFF keeps its gradations."""
    bands = (rgb16 / 65535.0 * scale).astype(np.float32)
    image = read_rgb(_write_bgr(tmp_path / "float.tif", bands))
    assert np.abs(image.astype(int) - _percentile_stretch(bands).astype(int)).max() <= 1  # float32 rounding
    assert len(np.unique(image)) > 20


def test_float_greyscale_tiff_with_nan_is_read(tmp_path: Path, rgb16: np.ndarray) -> None:
    grey = (rgb16[..., 0] / 65535.0).astype(np.float32)
    grey[0, :10] = np.nan
    Image.fromarray(grey, mode="F").save(tmp_path / "grey.tif")
    image = read_rgb(tmp_path / "grey.tif")
    assert (image[0, :10] == 0).all()
    assert np.array_equal(image[..., 0], stretch_to_uint8(grey[..., None])[..., 0])
    assert len(np.unique(image)) > 20


def test_8_bit_images_are_read_unchanged(tmp_path: Path) -> None:
    tile = pixels(TILE, "RGB")
    Image.fromarray(tile).save(tmp_path / "tile.tif")
    assert np.array_equal(read_rgb(TILE), tile)
    assert np.array_equal(read_rgb(tmp_path / "tile.tif"), tile)


def test_sam_stage_finds_as_many_objects_in_16_bit_and_float_versions_of_a_tile(tmp_path: Path) -> None:
    """End to end through the SAM command line (weight-free regions): no more 'one object covering the image'
    for 16-bit nor 'two objects' for a float TIFF in 0..1."""
    tile = pixels(TILE, "RGB")
    folders = {"8bit": tmp_path / "8bit", "16bit": tmp_path / "16bit", "float": tmp_path / "float"}
    for folder in folders.values():
        folder.mkdir()
    Image.fromarray(tile).save(folders["8bit"] / "tile.png")
    _write_bgr(folders["16bit"] / "tile.png", tile.astype(np.uint16) * 257)
    _write_bgr(folders["float"] / "tile.tif", (tile / 255.0).astype(np.float32))

    counts = {}
    for name, folder in folders.items():
        out = tmp_path / f"json_{name}"
        assert main(["-i", str(folder), "-j", str(out), "--model", "regions"]) == 0
        counts[name] = len(json.loads((out / "tile.json").read_text()))
    assert counts["8bit"] > 20
    for name in ("16bit", "float"):
        assert 0.5 * counts["8bit"] <= counts[name] <= 2 * counts["8bit"], counts


def test_stretching_a_large_image_works_in_strips_and_ranks_integer_bands_as_they_are():
    """Whole-image float64 copies would take 8 bytes per value several times over (an 8192 x 8192 x 3 scene:
    about 5 GB); the stretch works strip by strip, and integer bands are ranked without a float64 copy."""
    rng = np.random.default_rng(4)
    bands = rng.gamma(2.0, 3000.0, size=(2048, 2048, 3)).astype(np.uint16)
    tracemalloc.start()
    stretched = stretch_to_uint8(bands)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2 * bands.nbytes, f"peak {peak / 2**20:.0f} MiB for a {bands.nbytes / 2**20:.0f} MiB image"
    low, high = np.percentile(bands[..., 1], [2, 98])
    expected = np.rint(np.clip((bands[..., 1] - low) / (high - low), 0, 1) * 255).astype(np.uint8)
    assert np.array_equal(stretched[..., 1], expected)
