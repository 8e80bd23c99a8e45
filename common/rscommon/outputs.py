"""Output folders checked before anything is written: not a file, not an input folder, writable."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from .files import InputError


def check_output_folder(out: str | Path, inputs: Mapping[str, str | Path | None], option: str = "--out") -> Path:
    """Refuse an output folder that is a file, one of the ``inputs`` folders (name -> folder) or not writable.

    ``option`` names the folder in the message (the command-line option that gave it). Nothing is created:
    writability is judged on the folder, or on its nearest existing parent. Returns ``out`` as a path.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: {option} exists and is not a folder")
    resolved = out.resolve()
    for name, folder in inputs.items():
        if folder is not None and Path(folder).resolve() == resolved:
            raise InputError(f"{out}: {option} is the {name} folder; choose a folder of its own for the outputs")
    existing = resolved
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"{out}: {option} lies under {existing}, which is a file")
    if not _writable(existing):
        raise InputError(f"{out}: {option} is not writable ({existing} is read-only)")
    return out


def _writable(folder: Path) -> bool:
    """Whether a file can be created in ``folder`` (tried, since permission bits do not bind root)."""
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    probe = folder / f".write-probe-{os.getpid()}"
    try:
        probe.mkdir()
    except OSError:
        return False
    probe.rmdir()
    return True
