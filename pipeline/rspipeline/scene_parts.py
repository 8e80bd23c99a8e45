"""The finished tiles of a scene run: one ``.npy`` array per tile and stage, each beside the SHA-256 of its bytes.

A part's digest (``NAME.npy.sha256``) is written first, then the part, each under a temporary name renamed into
place; a part is reused only when its bytes still have the recorded digest, so a truncated, damaged or edited part
(or one left from before its digest, as after a kill between the two renames) is named and computed again. So
every part a run wrote has its digest beside it: the digests are the record of the run's parts, and only the
parts they record (with their temporaries) are ever deleted, never another file under the folder (a user's own
arrays there survive ``--restart`` and the end of a run).
The parts folder holds a fingerprint of the inputs and settings that made its parts (:data:`FINGERPRINT_FILE`):
parts made otherwise are refused, and ``--restart`` discards the recorded parts.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rscommon.files import InputError, read_json, write_json_atomic, write_text_atomic
from rscommon.provenance import what_changed

FINGERPRINT_FILE = "fingerprint.json"
DIGEST_SUFFIX = ".sha256"


def open_parts_folder(folder: Path, record: dict, restart: bool) -> None:
    """Make ``folder`` hold parts of ``record``'s run: keep its parts when they are of the same run (unless
    ``restart``), refuse parts of another run (``restart`` discards them), then record ``record``."""
    marker = folder / FINGERPRINT_FILE
    parts = recorded_parts(folder)
    if marker.is_file():
        changed = what_changed(read_json(marker), record)
        if changed and not restart:
            raise InputError(
                f"{folder}: holds tiles made from other inputs or settings ({', '.join(changed)}); "
                f"pass --restart to discard them"
            )
    elif parts and not restart:
        raise InputError(
            f"{folder}: holds tiles without {FINGERPRINT_FILE}; choose another --parts-dir or pass --restart"
        )
    if restart:
        for path in parts:
            path.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomic(marker, record)


def recorded_parts(folder: Path) -> list[Path]:
    """The files of the parts recorded under ``folder``: each digest, its part and the part's temporary."""
    found = []
    for recorded in folder.rglob(f"*.npy{DIGEST_SUFFIX}") if folder.is_dir() else []:
        part = recorded.with_name(recorded.name.removesuffix(DIGEST_SUFFIX))
        found += [recorded, part, _temporary(part)]
    return [path for path in found if path.is_file()]


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp")


def remove_parts_folder(folder: Path) -> None:
    """Delete the recorded parts, their digests and the fingerprint, and every folder left empty."""
    for path in [*recorded_parts(folder), folder / FINGERPRINT_FILE]:
        path.unlink(missing_ok=True)
    for path in sorted((p for p in folder.rglob("*") if p.is_dir()), reverse=True):
        if not any(path.iterdir()):
            path.rmdir()
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class PartStore:
    """The parts of one stage of a scene run (a subfolder of the parts folder), one per tile name."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        return self.folder / f"{name}.npy"

    def _digest_path(self, name: str) -> Path:
        return self.folder / f"{name}.npy{DIGEST_SUFFIX}"

    def save(self, name: str, array: np.ndarray) -> None:
        """Write the digest of the part ``name`` and then the part, each atomically."""
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        data = buffer.getvalue()
        path = self.path(name)
        write_text_atomic(self._digest_path(name), digest(data) + "\n")
        temporary = _temporary(path)
        temporary.write_bytes(data)
        os.replace(temporary, path)

    def intact(self, name: str) -> bool:
        """Whether the part exists with the digest recorded when it was saved."""
        path, recorded = self.path(name), self._digest_path(name)
        if not path.is_file() or not recorded.is_file():
            return False
        return recorded.read_text(encoding="ascii").strip() == digest(path.read_bytes())

    def reusable(self, names: list[str]) -> set[str]:
        """The names whose parts are intact; a part that is there but not intact is named and deleted."""
        kept = set()
        for name in tqdm(names, desc=f"check {self.folder.name}", unit="part", leave=False, disable=None):
            if self.intact(name):
                kept.add(name)
            elif self.path(name).exists():
                print(
                    f"{self.path(name)}: changed or damaged since it was saved (its SHA-256 differs from the "
                    f"recorded one); computing it again",
                    file=sys.stderr,
                )
                self.path(name).unlink()
        return kept

    def load(self, name: str, mmap: bool = False) -> np.ndarray:
        """The part ``name`` (memory-mapped when ``mmap``: only what is sliced is read)."""
        path = self.path(name)
        try:
            return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise InputError(f"{path}: unreadable part ({error}); run the command again to recompute it") from None
