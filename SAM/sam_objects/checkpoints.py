"""Published checkpoints: where each one is downloaded from, and the error that names a missing one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rscommon.paths import weights_dir


@dataclass(frozen=True)
class CheckpointInfo:
    """A published checkpoint: the standard file name and where it is officially downloaded from."""

    file_name: str
    url: str


def published(base_url: str, *file_names: str) -> tuple[CheckpointInfo, ...]:
    """The checkpoints ``file_names`` published under ``base_url``."""
    return tuple(CheckpointInfo(name, base_url + name) for name in file_names)


class MissingCheckpointError(FileNotFoundError):
    """The checkpoint file is absent; the message names the file and where it is published."""


def require_file(path: str | Path, info: CheckpointInfo, wanted_by: str) -> Path:
    """Return ``path`` if it is a file, else raise :class:`MissingCheckpointError` naming the official source.

    ``wanted_by`` names the choice that needs it, e.g. ``--model samhq --model-type vit_h``.
    """
    path = Path(path)
    if path.is_file():
        return path
    raise MissingCheckpointError(
        f"{path}: checkpoint for {wanted_by} not found; the official file {info.file_name} is published at "
        f"{info.url}: download it into {weights_dir()}/ or pass --checkpoint PATH"
    )
