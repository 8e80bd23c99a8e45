"""Run one job per item in local worker processes, in this process, or on a Dask cluster.

Every stage maps its per-image (or per-tile) work through here, and says where it runs with one
:class:`Execution`. Without a scheduler the jobs run in a local process pool (in this process with one worker).
With a scheduler (a ``dask.distributed`` address such as ``tcp://10.0.0.5:8786``), they run as tasks on that
cluster: each job and its result are pickled and sent over the network, the files a job names must be on storage
the workers share, a failed task is retried ``TASK_RETRIES`` times, and results arrive as tasks finish, so a caller
that saves each result keeps all finished work when a task fails for good. A local worker process killed by the
system (most often for memory) ends the run with :class:`WorkerKilled`, one line that says so; a stopped run stops
its local workers with it (:mod:`rscommon.stopping`). A scheduler that does not answer within ``CONNECT_TIMEOUT``
seconds fails the run before it starts (:func:`check_scheduler`); a cluster that makes no progress for
``$SESSRS_CLUSTER_IDLE_TIMEOUT`` seconds (default ``LOST_AFTER``) while it has no worker, or while a worker holding
its jobs has not been heard of for as long (frozen, or cut off), ends it, naming the jobs not done
(:class:`ClusterWatch`).
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import urlsplit

from tqdm import tqdm

from .cli import INPUT_ERRORS, describe
from .files import InputError
from .stopping import run_job, start_worker

Job = TypeVar("Job")
Name = TypeVar("Name")
Result = TypeVar("Result")
TASK_RETRIES = 2
CONNECT_TIMEOUT = 20.0
"""Seconds to wait for a Dask scheduler to answer."""
LOST_AFTER = 300.0
"""Seconds a cluster may make no progress without a worker that answers before the run ends
(``$SESSRS_CLUSTER_IDLE_TIMEOUT`` overrides it)."""
IDLE_TIMEOUT_ENV = "SESSRS_CLUSTER_IDLE_TIMEOUT"
POLL_SECONDS = 1.0
"""Seconds between two looks at a cluster that has not answered."""


@dataclass(frozen=True)
class Execution:
    """Where per-item work runs: ``workers`` local processes, or the Dask cluster at ``scheduler`` when given."""

    workers: int = 1
    scheduler: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise InputError(f"workers must be a whole number of at least 1, got {self.workers!r}")
        if self.scheduler:
            check_address(self.scheduler)


_HOST_AND_PORT = ("", "tcp", "tls", "ws", "wss", "ucx")
"""The Dask protocols whose addresses are HOST:PORT (no protocol: tcp)."""


def check_address(address: str) -> None:
    """Refuse, in one line, a scheduler address of HOST:PORT protocols without a host or a port (which Dask would
    refuse with a bare ValueError on connecting)."""
    protocol, _, location = address.rpartition("://")
    if protocol not in _HOST_AND_PORT:
        return
    parsed = urlsplit(f"//{location}")
    try:
        port = parsed.port
    except ValueError:  # not a number, or out of range
        port = None
    if not parsed.hostname or port is None:
        raise ClusterError(
            f"scheduler address {address!r}: give the host and the port of the Dask scheduler, "
            "as tcp://HOST:PORT (e.g. tcp://10.0.0.5:8786)"
        )


LOCAL = Execution()
"""One process, this one."""


class WorkerKilled(InputError):
    """A local worker process died under a job: killed by the system, most often for lack of memory."""

    def __init__(self, what: str = "a worker process", advice: str = "lower -n") -> None:
        super().__init__(
            f"{what} was killed (out of memory?): {advice}; finished work is kept, "
            "run the same command again to continue"
        )


class ClusterError(InputError):
    """The cluster cannot be used: dask.distributed is missing, no scheduler answers at the address, or it has had
    no worker for too long. The address or the cluster given is at fault, so the run ends as on bad input."""


def unordered_map(
    function: Callable[[Job], Result], jobs: Sequence[Job], execution: Execution = LOCAL
) -> Iterator[Result]:
    """``function`` over ``jobs`` in any order, where ``execution`` says."""
    if execution.scheduler:
        yield from _cluster_map(function, jobs, execution.scheduler)
    elif execution.workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(min(execution.workers, len(jobs)), initializer=start_worker) as pool:
            futures = [pool.submit(run_job, function, job) for job in jobs]
            try:
                for future in as_completed(futures):
                    yield future.result()
            except BrokenProcessPool as error:
                raise WorkerKilled() from error
            finally:
                for future in futures:
                    future.cancel()
    else:
        yield from map(function, jobs)


def progress_map(
    function: Callable[[Job], Result], jobs: Sequence[Job], execution: Execution, desc: str, unit: str
) -> list[Result]:
    """``function`` over ``jobs``, results in the order of ``jobs``, with a progress bar."""
    indexed = list(enumerate(jobs))
    results: dict[int, Result] = {}
    for index, result in tqdm(
        unordered_map(_Indexed(function), indexed, execution), total=len(jobs), desc=desc, unit=unit
    ):
        results[index] = result
    return [results[index] for index in range(len(jobs))]


class _Indexed:
    """``function`` applied to the job of an ``(index, job)`` pair, answering ``(index, result)``; picklable."""

    def __init__(self, function: Callable) -> None:
        self.function = function

    def __call__(self, pair: tuple[int, Job]) -> tuple[int, Result]:
        return pair[0], self.function(pair[1])


@dataclass(frozen=True)
class Failure:
    """A job that raised (on a cluster: on every try)."""

    error: Exception


class _Guarded(Generic[Job, Result]):
    """``function`` turned into one that answers its exception as a :class:`Failure` instead; picklable."""

    def __init__(self, function: Callable[[Job], Result]) -> None:
        self.function = function

    def __call__(self, job: Job) -> Result | Failure:
        try:
            return self.function(job)
        except Exception as error:  # handed to the caller, who goes on with the other jobs
            error.add_note(f"raised in the job:\n{traceback.format_exc()}")  # kept when sent from another process
            return Failure(error)


def guarded_map(
    function: Callable[[Job], Result], named_jobs: Sequence[tuple[Name, Job]], execution: Execution = LOCAL
) -> Iterator[tuple[Name, Result | Failure]]:
    """``(name, function(job) or its Failure)`` for each ``(name, job)`` as it finishes: one job's failure does not
    stop the others. On a cluster a failing task is first retried ``TASK_RETRIES`` times."""
    names = [name for name, _ in named_jobs]
    jobs = [job for _, job in named_jobs]
    if execution.scheduler:
        outcomes = _cluster_outcomes(function, jobs, execution.scheduler, names)
    else:
        outcomes = unordered_map(_Indexed(_Guarded(function)), list(enumerate(jobs)), execution)
    for index, outcome in outcomes:
        yield names[index], outcome


def each_job(
    function: Callable[[Job], Result],
    named_jobs: Sequence[tuple[str, Job]],
    execution: Execution = LOCAL,
    noun: str = "images",
) -> Iterator[tuple[str, Result]]:
    """``(name, result)`` for each job as it finishes (the caller saves it, so finished work survives).

    A failed job is reported on stderr when it fails; once every other job has finished, the failure is raised
    (the error itself when one job failed, else one line naming them all).
    """
    failures: list[tuple[str, Exception]] = []
    for name, outcome in guarded_map(function, named_jobs, execution):
        if isinstance(outcome, Failure):
            tqdm.write(f"{name}: failed: {describe(outcome.error)}", file=sys.stderr)
            failures.append((name, outcome.error))
        else:
            yield name, outcome
    if len(failures) == 1:
        raise failures[0][1]
    if failures:
        names = ", ".join(sorted(name for name, _ in failures))
        message = (
            f"{len(failures)} of {len(named_jobs)} {noun} failed ({names}; each is named above); the others "
            "are saved: fix these and run the same command again"
        )
        all_input = all(isinstance(error, INPUT_ERRORS) for _, error in failures)
        raise InputError(message) if all_input else RuntimeError(message)


def check_scheduler(address: str | None) -> None:
    """Connect to the Dask scheduler at ``address`` and close again: a :class:`ClusterError` (one line) when
    dask.distributed is missing or no scheduler answers within ``CONNECT_TIMEOUT`` seconds. Scripts call it
    before they write anything. Without an address (local work) there is nothing to check."""
    if address:
        connect(address).close()


def connect(scheduler: str):
    """A client of the Dask scheduler at ``scheduler`` (never a new local cluster: an address is required)."""
    if not scheduler:
        raise ValueError("connect needs a scheduler address")
    check_address(scheduler)
    try:
        from dask.distributed import Client
    except ImportError as error:
        raise ClusterError("--scheduler needs dask.distributed: pip install 'sessrs[scale]'") from error
    try:
        return Client(scheduler, timeout=f"{CONNECT_TIMEOUT}s")
    except (OSError, TimeoutError) as error:
        raise ClusterError(f"no Dask scheduler reachable at {scheduler} ({error})") from error


def _lost_after() -> float:
    """Seconds without progress after which a cluster counts as stopped: ``$SESSRS_CLUSTER_IDLE_TIMEOUT`` or
    ``LOST_AFTER``."""
    text = os.environ.get(IDLE_TIMEOUT_ENV)
    if text is None:
        return LOST_AFTER
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise InputError(
            f"${IDLE_TIMEOUT_ENV}={text!r}: give the seconds a cluster may make no progress (a finite number > 0)"
        )
    return seconds


class ClusterWatch:
    """Tells a cluster that works from one that has stopped working for this run.

    Progress is a job finished (the caller says so with :meth:`progressed`). A worker is heard of while the
    scheduler's record of its last heartbeat changes, measured on this process's clock. A run stalls when it has
    made no progress for :func:`_lost_after` seconds and no worker of those given has been heard of for as long:
    none is left, or each is frozen (stopped with SIGSTOP, swapping, cut off): a frozen worker still counts as
    present to the scheduler, but its heartbeat stops."""

    def __init__(self, client, scheduler: str) -> None:
        self.client, self.scheduler = client, scheduler
        self.lost_after = _lost_after()
        self.progress = time.monotonic()
        self.heard: dict[str, tuple[object, float]] = {}
        """Per worker: its last heartbeat as the scheduler recorded it, and when that record last changed."""

    def progressed(self) -> None:
        self.progress = time.monotonic()

    def workers(self) -> dict[str, float]:
        """The scheduler's workers, each with the seconds since it was last heard of."""
        now = time.monotonic()
        present = self.client.scheduler_info()["workers"]
        for address, info in present.items():
            beat = info.get("last_seen", info.get("last-seen", now))  # unknown: counted as just heard of
            if self.heard.get(address, (None,))[0] != beat:
                self.heard[address] = (beat, now)
        self.heard = {address: self.heard[address] for address in present}
        return {address: now - changed for address, (_, changed) in self.heard.items()}

    def stalled(self, busy: Sequence[str] | None = None) -> str | None:
        """Why the run has stalled (None: it has not): no progress for the time-out and no worker left, or the
        workers in ``busy`` (None: all) not heard of for as long."""
        silence = self.workers()
        if time.monotonic() - self.progress <= self.lost_after:
            return None
        if not silence:
            return "it has no worker"
        watched = {address: seconds for address, seconds in silence.items() if busy is None or address in busy}
        if not watched:  # the workers holding the jobs are gone; the scheduler gives them to the others
            return None
        if all(seconds > self.lost_after for seconds in watched.values()):
            return f"worker {', '.join(sorted(watched))} has not answered (frozen or cut off?)"
        return None

    def failure(self, reason: str, left: Sequence, total: int, noun: str = "jobs") -> ClusterError:
        """The error that ends a stalled run: one line naming the jobs ``left`` of ``total``."""
        shown = ", ".join(map(str, left))
        return ClusterError(
            f"the Dask cluster at {self.scheduler} made no progress for {self.lost_after:g} s: {reason}; "
            f"{len(left)} of {total} {noun} not done ({shown}); finished work is kept: run the same command again "
            "once the cluster has working workers"
        )


def _outcome(future, timeout: float):
    """The result of a finished task, or the :class:`Failure` of a failed one (fetched within ``timeout`` seconds:
    a result lost with its worker is computed again first)."""
    if future.status == "error":
        return Failure(future.exception(timeout=timeout))
    return future.result(timeout=timeout)


def cluster_outcomes(
    client, futures: list, scheduler: str, names: Sequence | None = None, keep: bool = False
) -> Iterator[tuple[int, object]]:
    """``(index, result or Failure)`` of the Dask ``futures`` as they finish; a :class:`ClusterError` naming the jobs
    not done when the cluster stalls (see :class:`ClusterWatch`; the finished jobs have been handed out by then).
    Each future is released once its result is fetched, unless ``keep`` (an actor lives as long as its future)."""
    from dask.distributed import wait

    watch = ClusterWatch(client, scheduler)
    index_of = {future.key: index for index, future in enumerate(futures)}
    pending = dict.fromkeys(futures)
    while pending:
        try:
            done = wait(list(pending), timeout=POLL_SECONDS, return_when="FIRST_COMPLETED").done
        except TimeoutError:
            done = set()
        for future in [f for f in pending if f in done]:
            try:
                outcome = _outcome(future, watch.lost_after)
            except TimeoutError:  # its result went with its worker and was not made again in time
                left = _named(pending, index_of, names)
                raise watch.failure("a finished job's result was lost", left, len(futures)) from None
            del pending[future]
            if not keep:
                future.release()  # the workers may drop the result now
            watch.progressed()
            yield index_of[future.key], outcome
        if pending and not done:
            keys = {future.key for future in pending}
            busy = [worker for worker, held in client.processing().items() if keys.intersection(held)]
            reason = watch.stalled(busy or None)
            if reason is not None:
                raise watch.failure(reason, _named(pending, index_of, names), len(futures))


def _named(futures, index_of: dict, names: Sequence | None) -> list:
    """The names of ``futures`` (their indexes without names), in the order of the jobs."""
    indexes = sorted(index_of[future.key] for future in futures)
    return indexes if names is None else [names[index] for index in indexes]


def _cluster_map(function: Callable[[Job], Result], jobs: Sequence[Job], scheduler: str) -> Iterator[Result]:
    with connect(scheduler) as client:
        futures = client.map(function, list(jobs), pure=False, retries=TASK_RETRIES)
        for _, outcome in cluster_outcomes(client, futures, scheduler):
            if isinstance(outcome, Failure):
                raise outcome.error  # a task that failed on every try raises its own error here
            yield outcome


def _cluster_outcomes(
    function: Callable[[Job], Result], jobs: Sequence[Job], scheduler: str, names: Sequence | None = None
) -> Iterator[tuple[int, Result | Failure]]:
    """``(index, result or Failure)`` per job on the cluster, each task retried before it counts as failed;
    ``names`` name the jobs in the message of a stalled cluster."""
    with connect(scheduler) as client:
        futures = client.map(function, list(jobs), pure=False, retries=TASK_RETRIES)
        yield from cluster_outcomes(client, futures, scheduler, names)
