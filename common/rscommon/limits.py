"""How much one input file may ask of a reader, checked before anything is decoded: pixels per image and objects
per image.

The defaults are sized for the stages that hold a whole image in memory (the SAM stage, its pictures, the
refinement), where a small file must not turn into gigabytes: 8192 x 8192 pixels (a decoded image then takes at
most 8192 x 8192 x 4 bands x 8 bytes = 2 GiB, 192 MiB as 8-bit RGB) and 10,000 objects (SAM finds hundreds).
Larger rasters are for the scene command (pipeline/sessrs_scene.py), which reads them tile by tile. Each limit is
raised by an environment variable, or by the option of a script that has one (its value is carried to cluster
workers with the tasks; an environment variable counts where it is set).
"""

from __future__ import annotations

import os
from pathlib import Path

from .files import InputError

MAX_IMAGE_PIXELS_ENV = "SESSRS_MAX_IMAGE_PIXELS"
MAX_OBJECTS_ENV = "SESSRS_MAX_OBJECTS_PER_IMAGE"
DEFAULT_MAX_IMAGE_PIXELS = 8192 * 8192
DEFAULT_MAX_OBJECTS = 10_000
SCENE_COMMAND = "pipeline/sessrs_scene.py"


def _limit(given: int | None, variable: str, default: int) -> int:
    if given is None:
        text = os.environ.get(variable, "").strip()
        if not text:
            return default
        try:
            given = int(text)
        except ValueError:
            raise InputError(f"${variable}={text!r} is not a whole number") from None
    if isinstance(given, bool) or not isinstance(given, int) or given < 1:
        raise InputError(f"a limit must be a whole number of at least 1, got {given!r} (see ${variable})")
    return given


def max_image_pixels(given: int | None = None) -> int:
    """``given``, else ``$SESSRS_MAX_IMAGE_PIXELS``, else 8192 x 8192: the pixels one image may have."""
    return _limit(given, MAX_IMAGE_PIXELS_ENV, DEFAULT_MAX_IMAGE_PIXELS)


def max_objects_per_image(given: int | None = None) -> int:
    """``given``, else ``$SESSRS_MAX_OBJECTS_PER_IMAGE``, else 10,000: the objects one image's list may hold."""
    return _limit(given, MAX_OBJECTS_ENV, DEFAULT_MAX_OBJECTS)


def image_too_large(path: str | Path, size: str, limit: int) -> InputError:
    """The refusal of an image of ``size`` (e.g. ``"20000 x 20000 pixels"``) over ``limit`` pixels."""
    return InputError(
        f"{path}: {size} is more than one image may have here ({limit:,} pixels; raise it with "
        f"${MAX_IMAGE_PIXELS_ENV}, or the SAM scripts' --max-image-pixels); read large rasters tile by tile with "
        f"{SCENE_COMMAND}"
    )


def check_image_pixels(path: str | Path, width: int, height: int, limit: int) -> None:
    """Refuse an image of ``width`` x ``height`` over ``limit`` pixels (before it is decoded)."""
    if width * height > limit:
        raise image_too_large(path, f"{width} x {height} = {width * height:,} pixels", limit)
