"""The demo's terminal: one line per stage with its time, progress bars, and the closing summary.

Everything else a stage prints (its scripts' output, Lightning's banners, warnings, the inner progress bars) goes
to ``OUT/logs/<stage>.log``, and a failed stage is told in one line naming that file. With ``verbose`` all of it
goes to the terminal instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO, TypeVar

from tqdm import tqdm

from rscommon.cli import describe
from rscommon.paths import REPO_ROOT

Item = TypeVar("Item")
TITLE_WIDTH = 60
TIMER_REFRESH_S = 0.5


class StageError(RuntimeError):
    """A stage failed; the message names the stage and the log holding its output."""


class ScriptFailed(RuntimeError):
    """A stage's script exited with an error; its own output, in the stage's log, says why."""


class Console:
    """Stage lines and progress bars on the ``terminal``; each stage's own output in its log file.

    ``terminal`` defaults to a duplicate of this process's stderr, so that it stays on the screen while a stage's
    file descriptors point at its log. Use as a context manager (it closes that duplicate)."""

    def __init__(self, logs: Path, verbose: bool = False, terminal: TextIO | None = None) -> None:
        self.logs = logs
        self.verbose = verbose
        self._owns_terminal = terminal is None
        self.terminal = _duplicate_stderr() if terminal is None else terminal
        self.start = time.monotonic()
        self.timings: dict[str, float] = {}
        self._title = ""
        self._log: TextIO | None = None

    def __enter__(self) -> Console:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._owns_terminal:
            self.terminal.close()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def say(self, line: str = "") -> None:
        """A line on the terminal."""
        print(line, file=self.terminal, flush=True)

    @contextmanager
    def stage(self, key: str, title: str) -> Iterator[None]:
        """Run the body as one stage: its output goes to ``logs/<key>.log``, then one line tells its time.

        Any failure becomes a :class:`StageError` naming the stage and its log."""
        log_path = self.logs / f"{key}.log"
        began = time.monotonic()
        self._title = title
        try:
            with self._output_to(log_path, title):
                yield
        except Exception as error:
            reason = str(error) if isinstance(error, ScriptFailed) else describe(error)
            where = "see the output above" if self.verbose else f"its output is in {log_path}"
            raise StageError(f"{title} failed ({reason}); {where}") from error
        finally:
            self._title = ""
        seconds = time.monotonic() - began
        self.timings[title] = round(seconds, 1)
        self.say(f"{title:<{TITLE_WIDTH}} {seconds:5.0f} s")

    def progress(self, items: Iterable[Item], total: int | None = None, unit: str = "tile") -> Iterator[Item]:
        """A progress bar for the current stage, on the terminal; it clears itself when done."""
        return iter(tqdm(items, total=total, desc=self._title, unit=unit, file=self.terminal, leave=False))

    def run_script(self, script: Path, *args: str) -> None:
        """Run a stage's script with this interpreter, its output into the stage's log; a failure raises."""
        command = [sys.executable, str(script), *args]
        if self._log is None:
            self.say("$ " + " ".join(command))
        else:
            self._log.write("$ " + " ".join(command) + "\n")
            self._log.flush()
        log = self._log
        with (
            subprocess.Popen(
                command, cwd=REPO_ROOT, stdout=log, stderr=None if log is None else subprocess.STDOUT
            ) as process,
            self._timer() as timer,
        ):
            while process.poll() is None:
                timer.refresh()
                time.sleep(TIMER_REFRESH_S)
        if process.returncode != 0:
            raise ScriptFailed(f"{script.name} exited with status {process.returncode}")

    def _timer(self) -> tqdm:
        """The stage's elapsed time, to redraw in place while a script runs (only on an interactive terminal)."""
        interactive = not self.verbose and self.terminal.isatty()
        return tqdm(
            total=None,
            desc=self._title,
            bar_format="{desc}  {elapsed}",
            file=self.terminal,
            leave=False,
            disable=not interactive,
        )

    @contextmanager
    def _output_to(self, log_path: Path, title: str) -> Iterator[None]:
        """Send everything printed in the body, by this process or its children, to ``log_path`` (appended)."""
        if self.verbose:
            self.say(f"{title} ...")
            yield
            return
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "a", encoding="utf-8", buffering=1) as log:
            log.write(f"=== {title} ({datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC)\n")
            with _descriptors_to(log), redirect_stdout(log), redirect_stderr(log):
                self._log = log
                try:
                    yield
                finally:
                    self._log = None


def _duplicate_stderr() -> TextIO:
    return os.fdopen(os.dup(2), "w", encoding="utf-8", errors="replace", buffering=1)


@contextmanager
def _descriptors_to(log: TextIO) -> Iterator[None]:
    """Point file descriptors 1 and 2 at ``log`` (what C code and child processes write), restored afterwards."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        yield
    finally:
        log.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for descriptor in saved:
            os.close(descriptor)
