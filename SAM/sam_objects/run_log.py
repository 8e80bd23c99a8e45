"""What each output of a resumable run was made from, kept beside the outputs in a hidden JSON-lines file.

One JSON line per finished image, appended as the image finishes (the last line of an image wins):
``{"image": "<file name>", "made_from": {"version", "settings", "inputs"}, "outputs": {"<name>": identity}}``
with ``made_from`` shaped like :func:`rscommon.provenance.fingerprint` (each input by its size and SHA-256) and
``outputs`` the identities of the files written. A run killed while appending loses at most that line (its image
is made again); the log is rewritten compactly at the start of every run. The outputs themselves are unchanged.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rscommon.files import write_text_atomic
from rscommon.provenance import file_identity, what_changed


class RunLog:
    """The records of one output folder, read when opened, appended to as images finish."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a killed run: its image is simply made again
                if isinstance(entry, dict) and isinstance(entry.get("image"), str):
                    self.entries[entry["image"]] = entry

    def reason_to_redo(self, image_name: str, outputs: dict[str, Path], made_from: dict[str, Any]) -> str | None:
        """Why the ``outputs`` of ``image_name`` must be made (again), or None if made from ``made_from``."""
        if not all(path.is_file() for path in outputs.values()):
            return "new"
        entry = self.entries.get(image_name)
        if entry is None:
            return "no record of what made the output"
        changed = what_changed(entry.get("made_from") or {}, made_from)
        if changed:
            return ", ".join(changed) + " changed"
        if entry.get("outputs") != {name: file_identity(path) for name, path in outputs.items()}:
            return "output differs from the one written (truncated or edited)"
        return None

    def compact(self) -> None:
        """Rewrite the log with one line per image (drops superseded and cut-short lines)."""
        if self.path.exists():
            write_text_atomic(self.path, "".join(_line(entry) for entry in self.entries.values()))

    def append(self, image_name: str, made_from: dict[str, Any], outputs: dict[str, dict[str, Any]]) -> None:
        """Record that ``outputs`` (name -> identity) of ``image_name`` were made from ``made_from``."""
        entry = {"image": image_name, "made_from": made_from, "outputs": outputs}
        self.entries[image_name] = entry
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as stream:
            stream.write(_line(entry))
            stream.flush()
            os.fsync(stream.fileno())


def _line(entry: dict[str, Any]) -> str:
    return json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n"
