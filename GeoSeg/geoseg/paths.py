"""Where the GeoSeg stage lives, and how relative paths in configs and scripts are resolved."""
from __future__ import annotations

from pathlib import Path

GEOSEG_ROOT = Path(__file__).resolve().parents[1]
REPO_ROOT = GEOSEG_ROOT.parent
REAL_SAMPLES = REPO_ROOT / "data" / "real_samples"


def resolve_path(path: str | Path, base: str | Path = GEOSEG_ROOT) -> Path:
    """Return ``path`` unchanged when absolute, else ``base / path`` (configs are relative to ``GeoSeg/``)."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else Path(base) / path
