"""Where the repository, the embedded samples and the checkpoints are: defined once for every stage."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
REAL_SAMPLES = REPO_ROOT / "data" / "real_samples"
WEIGHTS_ENV = "SESSRS_WEIGHTS"


class MissingWeightsError(FileNotFoundError):
    """A checkpoint is absent; the message names the file and where it is published."""


def source_checkout() -> bool:
    """Whether the packages run from the repository's source folders (its ``pyproject.toml`` beside the
    ``common/rscommon`` folder), not from an installed copy (where ``REPO_ROOT`` lies inside the environment)."""
    return (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "common" / "rscommon").is_dir()


def weights_dir() -> Path:
    """The folder searched for checkpoints: ``$SESSRS_WEIGHTS`` when set, else ``<repository>/weights`` in a
    source checkout, else ``weights/`` of the current folder (never inside an installed environment)."""
    if os.environ.get(WEIGHTS_ENV):
        return Path(os.environ[WEIGHTS_ENV])
    return REPO_ROOT / "weights" if source_checkout() else Path.cwd() / "weights"


def find_weights(file_name: str) -> Path | None:
    """``weights_dir() / file_name`` when that file exists, else ``None``."""
    path = weights_dir() / file_name
    return path if path.is_file() else None


def require_weights(file_name: str, source: str) -> Path:
    """``weights_dir() / file_name``, or :class:`MissingWeightsError` naming the file and where it is published."""
    path = find_weights(file_name)
    if path is None:
        raise MissingWeightsError(
            f"{weights_dir() / file_name} not found: download {file_name} from {source} into {weights_dir()}/ "
            f"(or point ${WEIGHTS_ENV} at the folder holding it)"
        )
    return path


def resolve_path(path: str | Path, base: str | Path) -> Path:
    """``path`` unchanged when absolute (``~`` expanded), else ``base / path``."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else Path(base) / path
