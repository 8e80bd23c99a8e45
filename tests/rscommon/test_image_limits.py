"""``rscommon.images.read_rgb`` (and ``rscommon.labels.read_label_png`` for label maps) reads the header first: a
small file that decodes to a huge image is refused in one line before anything is decoded, whichever reader would
decode it, and no library prints its own messages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from large_files import blank_png, blank_tiff
from PIL import Image

from rscommon.files import InputError
from rscommon.image_header import tiff_header
from rscommon.images import read_rgb
from rscommon.labels import read_label_png
from rscommon.limits import DEFAULT_MAX_IMAGE_PIXELS, MAX_IMAGE_PIXELS_ENV

# The reading runs in a child allowed 1.5 GB of address space; it prints its peak resident memory in MB (VmHWM:
# unlike ru_maxrss, not inherited from the process that started it).
READ_IN_A_SMALL_PROCESS = """
import re, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1536 << 20, 1536 << 20))
from rscommon.images import read_rgb
from rscommon.labels import read_label_png
try:
    read_rgb(sys.argv[1])
except Exception as error:
    print(f"{type(error).__name__}: {error}")
with open("/proc/self/status") as status:
    print(int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1)) // 1024)
"""
PEAK_MB = 200  # the reader itself takes about 50 MB; decoding the PNG took 641 MB before failing


def read_in_a_small_process(path: Path) -> tuple[str, int, str]:
    """What reading ``path`` raised, the reader's peak memory in MB, and what it wrote on stderr."""
    done = subprocess.run(
        [sys.executable, "-c", READ_IN_A_SMALL_PROCESS, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    *said, peak = done.stdout.splitlines()
    return "\n".join(said), int(peak), done.stderr


@pytest.mark.parametrize(
    "name, write",
    [
        ("float.tif", lambda path: blank_tiff(path, 20000, 20000)),  # OpenCV would ask for 4.8 GB
        ("bigtiff.tif", lambda path: blank_tiff(path, 20000, 20000, BIGTIFF="YES")),
        ("blank.png", lambda path: blank_png(path, 12000, 12000)),  # Pillow would warn, then take 3 GB
    ],
)
def test_a_huge_image_in_a_small_file_is_refused_before_decoding(tmp_path: Path, name: str, write) -> None:
    path = write(tmp_path / name)
    assert path.stat().st_size < 5 << 20
    said, peak, stderr = read_in_a_small_process(path)
    width = 20000 if name.endswith(".tif") else 12000
    assert said == (
        f"InputError: {path}: {width} x {width} = {width * width:,} pixels is more than one image may "
        f"have here ({DEFAULT_MAX_IMAGE_PIXELS:,} pixels; raise it with ${MAX_IMAGE_PIXELS_ENV}, or the SAM "
        f"scripts' --max-image-pixels); read large rasters tile by tile with pipeline/sessrs_scene.py"
    )
    assert stderr == "", "a library printed its own message"
    assert peak < PEAK_MB


def test_a_huge_label_map_in_a_small_file_is_refused_before_decoding(tmp_path: Path) -> None:
    path = blank_png(tmp_path / "labels.png", 12000, 12000, grey=True)  # decoded: 144 MB
    assert path.stat().st_size < 1 << 20
    with pytest.raises(InputError, match=f"^{path}: 12000 x 12000 = 144,000,000 pixels is more than one image may "):
        read_label_png(path)
    small = tmp_path / "small.png"
    Image.fromarray(np.ones((10, 12), np.uint8)).save(small)
    assert read_label_png(small).tolist() == np.ones((10, 12)).tolist()
    with pytest.raises(InputError, match=r"12 x 10 = 120 pixels is more than .* \(119 pixels;"):
        read_label_png(small, max_pixels=119)
    with pytest.raises(InputError, match="^.*huge.png: over 178,956,970 pixels is more than one image may have here "):
        read_label_png(blank_png(tmp_path / "huge.png", 14000, 14000, grey=True))


def test_an_image_over_pillows_own_hard_limit_gets_the_same_refusal(tmp_path: Path) -> None:
    path = blank_png(tmp_path / "huge.png", 14000, 14000)  # Pillow raises DecompressionBombError on opening it
    with pytest.raises(InputError, match=f"^{path}: over 178,956,970 pixels is more than one image may have here "):
        read_rgb(path)


def test_the_limit_is_an_argument_or_an_environment_variable(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "tile.png"
    Image.fromarray(np.full((100, 120, 3), 7, np.uint8)).save(path)
    with pytest.raises(InputError, match="120 x 100 = 12,000 pixels is more than one image may have here"):
        read_rgb(path, max_pixels=11_999)
    assert read_rgb(path, max_pixels=12_000).shape == (100, 120, 3)
    monkeypatch.setenv(MAX_IMAGE_PIXELS_ENV, "11999")
    with pytest.raises(InputError, match=r"\(11,999 pixels;"):
        read_rgb(path)
    monkeypatch.setenv(MAX_IMAGE_PIXELS_ENV, "lots")
    with pytest.raises(InputError, match=f"^\\${MAX_IMAGE_PIXELS_ENV}='lots' is not a whole number$"):
        read_rgb(path)


def test_a_raised_limit_lets_pillow_decode_past_its_own_limit(tmp_path: Path) -> None:
    """Pillow refuses images over twice its own limit (89 M pixels); a caller's higher limit raises it."""
    pixels = Image.MAX_IMAGE_PIXELS
    path = tmp_path / "strip.png"
    Image.fromarray(np.zeros((1, 400), np.uint8)).save(path)
    try:
        Image.MAX_IMAGE_PIXELS = 150  # the strip is over twice this: Pillow alone refuses to open it
        assert read_rgb(path, max_pixels=500).shape == (1, 400, 3)
        assert Image.MAX_IMAGE_PIXELS == 500
    finally:
        Image.MAX_IMAGE_PIXELS = pixels


@pytest.mark.parametrize("bands, dtype", [(2, "uint16"), (5, "float32")])
def test_bands_opencv_cannot_give_as_rgb_are_refused_quietly(tmp_path: Path, capfd, bands: int, dtype: str) -> None:
    """OpenCV reads a 2-band 16-bit TIFF as one 8-bit band (silently wrong) and logs a multi-line error for 5."""
    path = blank_tiff(tmp_path / "bands.tif", 8, 6, bands, dtype)
    capfd.readouterr()
    with pytest.raises(InputError, match=f"^{path}: {bands} bands; expected 1, 3 or 4"):
        read_rgb(path)
    assert capfd.readouterr().err == ""


def test_the_tiff_header_gives_what_the_file_holds(tmp_path: Path) -> None:
    for name, options in (("classic.tif", {}), ("big.tif", {"BIGTIFF": "YES"})):
        path = blank_tiff(tmp_path / name, 700, 300, bands=4, **options)
        header = tiff_header(path)
        assert (header.width, header.height, header.bands, header.eight_bit) == (700, 300, 4, False)
    assert cv2.imwrite(str(tmp_path / "opencv.tif"), np.zeros((30, 50, 3), np.float32))
    assert tiff_header(tmp_path / "opencv.tif").width == 50
    assert tiff_header(blank_png(tmp_path / "a.png", 4, 4)) is None


def test_a_tiff_cut_inside_its_header_is_one_line(tmp_path: Path) -> None:
    whole = blank_tiff(tmp_path / "whole.tif", 64, 64).read_bytes()
    first_directory = int.from_bytes(whole[4:8], "little")
    cut = tmp_path / "cut.tif"
    cut.write_bytes(whole[: first_directory + 1])
    with pytest.raises(InputError, match=f"^{cut}: a TIFF cut short in its header$"):
        read_rgb(cut)
