"""Where the GeoSeg stage lives: configs and scripts resolve relative paths against ``GeoSeg/``."""

from __future__ import annotations

from pathlib import Path

from rscommon.paths import REPO_ROOT, resolve_path

GEOSEG_ROOT = REPO_ROOT / "GeoSeg"


def resolve_geoseg_path(path: str | Path) -> Path:
    """``path`` unchanged when absolute, else ``GeoSeg/path`` (configs are relative to ``GeoSeg/``)."""
    return resolve_path(path, GEOSEG_ROOT)
