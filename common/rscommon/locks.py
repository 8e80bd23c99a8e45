"""One run per output: a lock file naming the process, host and start time of the run that holds it.

A second run on the same output is refused in one line naming the holder. A lock left by a process that is no
longer running on this host is taken over, and that is said. (A lock held from another host cannot be checked
from here: it is refused, and the message says which file to remove if that run is gone.)
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .files import InputError

LOCK_NAME = ".sessrs.lock"


def process_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this host (one of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder(path: Path) -> dict | None:
    """The lock's record, or None when it is unreadable (a lock being written, or damaged)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _describe(record: dict | None) -> str:
    if record is None:
        return "an unknown run"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.get("started", 0)))
    return f"process {record.get('pid')} on {record.get('host')} since {started}"


def _try_create(path: Path, record: dict) -> bool:
    try:
        handle = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump(record, stream)
    return True


def acquire(path: str | Path, what: str) -> dict:
    """Create the lock file ``path`` for this process, taking over a dead process's lock; returns its record.

    ``what`` names the output in the refusal (e.g. ``"--out sweeps/a"``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
    for _ in range(3):
        if _try_create(path, record):
            return record
        holder = _holder(path)
        if (
            holder is not None
            and holder.get("host") == record["host"]
            and not process_alive(int(holder.get("pid", -1)))
        ):
            print(f"{path}: taking over the lock of {_describe(holder)}, which is no longer running", file=sys.stderr)
            path.unlink(missing_ok=True)
            continue
        if holder is None:
            time.sleep(0.2)  # being written by a run starting now: read it again
            holder = _holder(path)
            if holder is None:
                continue
        raise InputError(
            f"{what}: in use by {_describe(holder)} (lock {path}); wait for that run to end, "
            "or remove the lock if it is gone"
        )
    raise InputError(f"{what}: could not take the lock {path}")


def release(path: str | Path, record: dict) -> None:
    """Remove the lock file ``path`` if it is still the one ``record`` describes."""
    path = Path(path)
    if _holder(path) == record:
        path.unlink(missing_ok=True)


@contextmanager
def locked(path: str | Path, what: str) -> Iterator[None]:
    """Hold the lock file ``path`` for the duration of the block (see :func:`acquire`)."""
    record = acquire(path, what)
    try:
        yield
    finally:
        release(path, record)


def folder_lock(folder: str | Path) -> Path:
    """The lock file of an output folder (inside it)."""
    return Path(folder) / LOCK_NAME


def file_lock(output: str | Path) -> Path:
    """The lock file of an output file (beside it: ``.NAME.sessrs.lock``)."""
    output = Path(output)
    return output.with_name(f".{output.name}{LOCK_NAME}")


@contextmanager
def folder_locked(folder: str | Path, what: str) -> Iterator[None]:
    """Hold the lock of the output ``folder`` for the block (see :func:`acquire`); a folder made for the lock and
    left empty (a run refused once it held the folder) is removed again."""
    folder = Path(folder)
    made = not folder.exists()
    try:
        with locked(folder_lock(folder), what):
            yield
    finally:
        if made and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
