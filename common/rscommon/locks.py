"""One run per output: a lock file naming the process, host and start time of the run that holds it.

A second run on the same output is refused in one line naming the holder. A lock whose process is provably gone
is taken over, and that is said: its host is this one and no process has its id, or the process with its id
started after the lock was taken (the id was reused). Any other lock is refused in one line that says what the
file holds (a run of another host, an empty or damaged file, a file of another program) and the exact command
that removes it once no run uses the output.
"""

from __future__ import annotations

import json
import os
import shlex
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


def process_started(pid: int) -> float | None:
    """When process ``pid`` of this host started (seconds since the epoch), where the system says (Linux's
    ``/proc``); ``None`` elsewhere or when it is not known."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(line for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime "))
        ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22, counted after the command name
        return int(boot.split()[1]) + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _holder(path: Path) -> dict | None:
    """The lock's record when it is one this module writes (a pid, a host, a start time); else None (a lock
    being written, or damaged, or another program's)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    pid, host, started = record.get("pid"), record.get("host"), record.get("started")
    valid = (
        isinstance(pid, int)
        and not isinstance(pid, bool)
        and pid > 0
        and isinstance(host, str)
        and isinstance(started, (int, float))
    )
    return record if valid else None


def _gone(holder: dict) -> bool:
    """Whether the holder's process is provably gone: on this host, no process has its id, or the one that has
    it started after the lock was taken (a second's slack for the clocks' rounding)."""
    if holder["host"] != socket.gethostname():
        return False
    if not process_alive(holder["pid"]):
        return True
    started = process_started(holder["pid"])
    return started is not None and started > holder["started"] + 1


def _contents(path: Path) -> str:
    """What an unusable lock file holds, for the refusal."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        return f"nothing readable ({error.strerror})"
    if not text.strip():
        return "nothing (an empty file)"
    shown = text.strip()[:80]
    return f"{shown!r}{'...' if len(text.strip()) > 80 else ''}, not a lock of this program's (damaged?)"


def _describe(record: dict) -> str:
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record["started"]))
    return f"process {record['pid']} on {record['host']} since {started}"


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
        if holder is None:
            time.sleep(0.2)  # being written by a run starting now: read it again
            holder = _holder(path)
        if holder is None:
            if not path.exists():
                continue  # released meanwhile
            raise InputError(
                f"{what}: the lock {path} holds {_contents(path)}; if no run is using this output, remove it: "
                f"rm {shlex.quote(str(path))}"
            )
        if _gone(holder):
            print(f"{path}: taking over the lock of {_describe(holder)}, which is no longer running", file=sys.stderr)
            path.unlink(missing_ok=True)
            continue
        raise InputError(
            f"{what}: in use by {_describe(holder)} (lock {path}); wait for that run to end, or if it is gone, "
            f"remove the lock: rm {shlex.quote(str(path))}"
        )
    raise InputError(
        f"{what}: the lock {path} was taken and released again three times while this run tried to take it; "
        "another run is starting on the same output: run again once it has started or ended"
    )


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
