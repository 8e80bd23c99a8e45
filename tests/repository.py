"""Where the repository's code lives, for tests that start other Python processes (scripts, cluster workers)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE_FOLDERS = ("common", "GeoSeg", "SAM", "SESSRS", "pipeline")
"""The folders holding the packages (rscommon, geoseg, sam_objects, sessrs, rspipeline) and the stages' scripts."""


def python_path(*extra: Path) -> str:
    """A PYTHONPATH that imports this tree's packages first (so a test folder named after a package never
    shadows it), then ``extra`` folders, then the inherited PYTHONPATH."""
    folders = [str(REPO / name) for name in SOURCE_FOLDERS] + [str(path) for path in extra]
    return os.pathsep.join(filter(None, [*folders, os.environ.get("PYTHONPATH")]))
