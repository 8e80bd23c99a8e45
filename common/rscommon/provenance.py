"""What a result was made from: the identity of its input files, its settings and the algorithm's version.

A resumable run stores the :func:`fingerprint` of each result beside it; a re-run recomputes a result whose
fingerprint differs (or refuses, naming :func:`what_changed`), so it never returns a result made from other
inputs or settings. A file's identity is its bytes (:func:`file_identity`) or, where files that decode to the
same arrays must count as the same (a PNG saved again, a JSON indented otherwise), the digest of what it decodes
to (:func:`array_digest`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

_CHUNK = 1 << 20


def file_identity(path: str | Path) -> dict[str, Any]:
    """``{"size", "sha256"}`` of a file's content (its name and modification time do not matter)."""
    path = Path(path)
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return {"size": path.stat().st_size, "sha256": digest.hexdigest()}


def array_digest(arrays: Iterable[np.ndarray]) -> str:
    """SHA-256 of the arrays' dtypes, shapes and values, in order: the same for every file that decodes to them."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape};".encode())
        digest.update(array.data)
    return digest.hexdigest()


def fingerprint(
    inputs: Mapping[str, str | Path | Mapping | None], settings: Mapping[str, Any], version: str
) -> dict[str, Any]:
    """The JSON-ready record of one result: each named input file's identity, the settings, the version.

    An input given as ``None`` (an optional file not used) is recorded as ``None``; one given as a mapping is an
    identity already made (a file's with those of the files it reads, say) and is recorded as it is.
    """
    return {
        "version": version,
        "settings": json.loads(json.dumps(dict(settings), sort_keys=True, default=str)),
        "inputs": {name: _identity(source) for name, source in inputs.items()},
    }


def _identity(source: str | Path | Mapping | None) -> dict[str, Any] | None:
    if source is None or isinstance(source, Mapping):
        return None if source is None else json.loads(json.dumps(dict(source), sort_keys=True, default=str))
    return file_identity(source)


def digest(record: Any) -> str:
    """A short stable hash of a JSON-ready record (keys sorted)."""
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def what_changed(previous: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """Names of what differs between two fingerprints: ``version``, ``settings.<key>``, ``inputs.<name>``."""
    changed = []
    if previous.get("version") != current.get("version"):
        changed.append("version")
    for section in ("settings", "inputs"):
        before, after = previous.get(section) or {}, current.get(section) or {}
        changed += [f"{section}.{key}" for key in sorted(set(before) | set(after)) if before.get(key) != after.get(key)]
    return changed
