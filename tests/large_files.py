"""Small files that decode to huge images or object lists, written without ever holding the decoded data: the inputs
of the size checks' tests."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

from rscommon.objects import encode_object


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def blank_png(path: Path, width: int, height: int, grey: bool = False) -> Path:
    """A black 8-bit RGB (or ``grey``) PNG of ``width`` x ``height``, compressed row by row (12000 x 12000 RGB:
    about 400 KB)."""
    compressor = zlib.compressobj(1)
    row = b"\0" * (1 + (1 if grey else 3) * width)  # filter byte, then the pixels
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0 if grey else 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b""))
    return path


def blank_tiff(path: Path, width: int, height: int, bands: int = 3, dtype: str = "float32", **options) -> Path:
    """A GeoTIFF of ``bands`` x ``height`` x ``width`` whose tiles are all left unwritten (sparse, a few KB: the
    header says the full size). ``options`` go to rasterio (e.g. ``BIGTIFF="YES"``)."""
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=bands,
        dtype=dtype,
        tiled=True,
        blockxsize=512,
        blockysize=512,
        compress="deflate",
        sparse_ok=True,
        transform=Affine(0.5, 0, 0, 0, -0.5, 0),
        **options,
    ):
        pass
    return path


def one_pixel_objects(path: Path, count: int, shape: tuple[int, int] = (1000, 1000), tail: str = "") -> Path:
    """A JSON list of ``count`` one-pixel objects of ``shape`` (the same record repeated), ``tail`` appended."""
    mask = np.zeros(shape, bool)
    mask[0, 0] = True
    record = json.dumps(encode_object(mask))
    path.write_text("[" + ",".join([record] * count) + "]" + tail)
    return path
