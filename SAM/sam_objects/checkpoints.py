"""Published checkpoints: where each one is downloaded from, and the error that names a missing one."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from rscommon.files import InputError
from rscommon.paths import weights_dir

PICKLE_PROTOCOL_2 = b"\x80\x02"
"""How a checkpoint in PyTorch's legacy format starts (the newer format is a zip archive)."""


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


def check_loadable(path: Path, info: CheckpointInfo, wanted_by: str) -> None:
    """Refuse, before any model is built, a checkpoint that is not a PyTorch file: neither a zip archive (what
    ``torch.save`` writes) nor a legacy pickle (an empty, truncated or foreign file)."""
    with open(path, "rb") as stream:
        start = stream.read(2)
    if start != PICKLE_PROTOCOL_2 and not zipfile.is_zipfile(path):
        raise InputError(
            f"{path}: not a PyTorch checkpoint (neither a zip archive nor a pickle), so {wanted_by} cannot load it; "
            f"download {info.file_name} again from {info.url}"
        )
