"""Run one of the project's commands as its own process group: its output line by line, its progress bars as
fractions, and a cancel that ends the command and every worker it started.

Plain Python (no QGIS): the algorithms pass their feedback in as three callables.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

from .environment import Environment

POLL_SECONDS = 0.1
INTERRUPT_GRACE = 10.0
"""Seconds a cancelled command has to stop after its interrupt (it then says what it kept) before it is killed."""
# A tqdm bar: "tiles:  40%|####      | 4/10 [00:01<00:02, 2.3tile/s]" (the description is optional).
_BAR = re.compile(r"^\s*(?:(?P<stage>[^|]*?):\s*)?(?P<percent>\d{1,3})%\|")


@dataclass(frozen=True)
class Progress:
    """One progress bar's state: its stage (tqdm's description, may be empty) and how far it is, 0 to 100."""

    stage: str
    percent: int


@dataclass(frozen=True)
class Outcome:
    """How a run ended: its exit status and whether it was cancelled; ``error`` is its last ``error:`` line or, on
    failure without one, its last line."""

    returncode: int
    canceled: bool
    error: str


def parse_progress(text: str) -> Progress | None:
    """The progress a line of output shows, when it is a tqdm bar."""
    match = _BAR.match(text)
    if match is None:
        return None
    return Progress(stage=(match["stage"] or "").strip(), percent=min(int(match["percent"]), 100))


def segments(chunks: Iterator[bytes]) -> Iterator[tuple[str, bool]]:
    """The output cut at line ends and carriage returns: ``(text, kept)``, ``kept`` when the text ended a line
    (a bar redrawn in place ends with a carriage return and is not kept)."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        parts = re.split(rb"(\r\n|\r|\n)", pending)
        pending = parts.pop()
        for text, end in zip(parts[::2], parts[1::2]):
            yield text.decode("utf-8", "replace"), end != b"\r"
    if pending:
        yield pending.decode("utf-8", "replace"), True


def _start(command: list[str], environment: Environment) -> subprocess.Popen:
    """The command started in a new process group (a new session on POSIX), output and errors on one pipe."""
    group = (
        {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
        if sys.platform == "win32"
        else {"start_new_session": True}
    )
    return subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=environment.home,
        env=environment.variables(),
        **group,
    )


def _signal_group(process: subprocess.Popen, interrupt: bool) -> None:
    """An interrupt (the command keeps its finished work and says so) or a kill to the command's whole group."""
    if sys.platform == "win32":
        if interrupt:
            process.send_signal(signal.CTRL_BREAK_EVENT)
        else:
            subprocess.run(["taskkill", "/F", "/T", "/PID", str(process.pid)], capture_output=True, check=False)
        return
    try:
        os.killpg(process.pid, signal.SIGINT if interrupt else signal.SIGKILL)
    except ProcessLookupError:
        pass  # the group is gone already


def _reader(stream: IO[bytes], lines: queue.Queue) -> None:
    """Put the output's segments on ``lines``, then ``None``."""
    for item in segments(iter(lambda: os.read(stream.fileno(), 65536), b"")):
        lines.put(item)
    lines.put(None)


def run_command(
    command: list[str],
    environment: Environment,
    on_line: Callable[[str], None],
    on_progress: Callable[[Progress], None],
    canceled: Callable[[], bool],
    on_start: Callable[[int], None] = lambda pid: None,
) -> Outcome:
    """Run ``command``; ``on_line`` gets each finished line, ``on_progress`` each bar's state, ``on_start`` the
    process (and group) id. When ``canceled()`` turns true the group is interrupted, and killed if it has not ended
    within :data:`INTERRUPT_GRACE` seconds; whatever the end, no process of the group is left running."""
    process = _start(command, environment)
    on_start(process.pid)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_reader, args=(process.stdout, lines), daemon=True).start()
    error, last, interrupted_at, killed = "", "", None, False
    try:
        while True:
            if interrupted_at is None and canceled():
                _signal_group(process, interrupt=True)
                interrupted_at = time.monotonic()
            if interrupted_at is not None and not killed and time.monotonic() - interrupted_at > INTERRUPT_GRACE:
                _signal_group(process, interrupt=False)
                killed = True
            try:
                item = lines.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            if item is None:
                break
            text, kept = item
            progress = parse_progress(text)
            if progress is not None:
                on_progress(progress)
            if kept and text.strip():
                on_line(text)
                last = text.strip()
                if last.startswith("error:"):
                    error = last.removeprefix("error:").strip()
        returncode = process.wait()
    finally:
        _signal_group(process, interrupt=False)  # workers the command left behind, or all of it on an exception
        process.wait()
        process.stdout.close()
    return Outcome(returncode, interrupted_at is not None, error or (last if returncode else ""))
