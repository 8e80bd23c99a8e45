"""A run stopped by SIGTERM or SIGINT ends at once and cleanly, its worker processes with it.

:func:`stop_on_signals` (every script runs under it, through :func:`rscommon.cli.run_main`) turns the first
SIGTERM or SIGINT into :class:`Stopped`, a ``KeyboardInterrupt`` raised where the process is, so every ``finally``
and ``with`` on the way out runs: temporary files and folders are removed, locks released, and what was saved
stays saved (a rerun continues). The signal is passed on to the process's worker processes: a worker in a job
(:func:`run_job`) stops it the same way (its ``finally`` blocks run) and answers :class:`WorkerStopped`; an idle
worker goes on waiting, so that its pool, shut down by the stopping process, ends it as it ends any worker (a
worker never dies halfway through handing back a result, which would leave its pool waiting for the rest). A
worker still alive ``GRACE`` seconds after the signal is killed.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

Result = TypeVar("Result")
SIGNALS = (signal.SIGTERM, signal.SIGINT)
GRACE = 5.0
"""Seconds a worker process has to end its job's cleanup after a stop before it is killed."""

_worker = False
"""This process is a worker process (set by :func:`start_worker`)."""
_in_job = False
"""This worker process is running a job (set by :func:`run_job`)."""
_stopping = False
"""A stop signal has arrived: later ones are ignored while the first one's cleanup runs."""


class Stopped(KeyboardInterrupt):
    """The process was sent SIGTERM or SIGINT."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum

    @property
    def exit_status(self) -> int:
        """The shell's status of a process ended by this signal (143 for SIGTERM, 130 for SIGINT)."""
        return 128 + self.signum


class WorkerStopped(RuntimeError):
    """A worker process's job ended by a stop signal (the process that started the worker is stopping)."""


def _on_signal(signum: int, frame: object) -> None:
    global _stopping
    if _stopping:
        return
    _stopping = True
    children = multiprocessing.active_children()
    for child in children:
        try:
            os.kill(child.pid, signum)
        except ProcessLookupError:
            pass
    if children:
        timer = threading.Timer(GRACE, _kill, (children,))
        timer.daemon = True
        timer.start()
    if _worker and not _in_job:  # idle: its pool ends it; a job queued for it is not started
        return
    raise Stopped(signum)


def _kill(children: list[multiprocessing.process.BaseProcess]) -> None:
    for child in children:
        if child.is_alive():
            child.kill()


def _install() -> dict[int, object]:
    return {signum: signal.signal(signum, _on_signal) for signum in SIGNALS}


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within it, SIGTERM and SIGINT raise :class:`Stopped` in this process and stop its worker processes (in the
    main thread only: elsewhere signals cannot be handled, and nothing changes)."""
    global _stopping
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = _install()
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _stopping = False


def start_worker() -> None:
    """Prepare a new worker process (a ``ProcessPoolExecutor`` initializer): a stop signal ends its job through
    :class:`Stopped` (see :func:`run_job`); an idle worker waits for its pool to end it."""
    global _worker, _in_job, _stopping
    _worker, _in_job, _stopping = True, False, False
    _install()


def run_job(function: Callable[..., Result], *args) -> Result:
    """``function(*args)`` in a worker process: a stop signal raises :class:`Stopped` in it, answered, once its
    cleanup ran, as :class:`WorkerStopped` (a ``KeyboardInterrupt`` would not come back whole); after a stop signal
    the worker's next jobs answer it at once."""
    global _in_job
    if _stopping:  # a job queued before the stop: not started
        raise WorkerStopped("a worker process was stopped")
    _in_job = True
    try:
        return function(*args)
    except Stopped as stop:
        raise WorkerStopped(f"a worker process was {stop}") from None
    finally:
        _in_job = False
