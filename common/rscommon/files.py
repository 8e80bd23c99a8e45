"""Files written atomically (a temporary name beside the target, then a rename) and JSON read with clear errors."""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image


class InputError(ValueError):
    """An input file is missing, malformed or inconsistent; the message names the file."""


def _atomic_target(path: Path) -> tuple[int, str]:
    """A temporary file beside ``path`` (readable like a normally created file) to rename into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.chmod(temporary, 0o644)
    return handle, temporary


def save_png_atomic(path: str | Path, image: Image.Image) -> None:
    """Save ``image`` as a PNG under a temporary name beside ``path``, then rename it into place."""
    path = Path(path)
    handle, temporary = _atomic_target(path)
    try:
        with os.fdopen(handle, "wb") as stream:
            image.save(stream, format="PNG")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write text to a temporary file beside ``path`` and rename it into place."""
    path = Path(path)
    handle, temporary = _atomic_target(path)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Write JSON atomically (indent 1, keys in insertion order); NaN, which JSON lacks, becomes null."""
    write_text_atomic(path, json_text(data) + "\n")


def json_text(data: Any) -> str:
    """``data`` as indented JSON text, NaN as null (valid JSON, like the files)."""
    return json.dumps(_json_ready(data), indent=1, allow_nan=False)


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(item) for item in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def read_json(path: str | Path, object_hook: Callable[[dict], Any] | None = None) -> Any:
    """Parse a JSON file, naming the file and the position on a syntax error, and the file when it is nested too
    deeply to parse. ``object_hook`` is given each JSON object as it is parsed (as :func:`json.loads` does)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"), object_hook=object_hook)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: malformed JSON ({error})") from error
    except RecursionError:
        raise InputError(
            f"{path}: JSON nested too deeply to read (lists or objects about "
            f"{sys.getrecursionlimit()} levels inside one another)"
        ) from None
