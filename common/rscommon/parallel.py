"""Run one job per item in local worker processes, in this process, or on a Dask cluster.

Every stage maps its per-image (or per-tile) work through here. Without ``scheduler`` the jobs run in a local
process pool (in this process when ``workers`` is 1). With ``scheduler`` (a ``dask.distributed`` address such as
``tcp://10.0.0.5:8786``), they run as tasks on that cluster: each job and its result are pickled and sent over
the network, the files a job names must be on storage the workers share, a failed task is retried ``retries``
times, and results arrive as tasks finish, so a caller that saves each result keeps all finished work when a
task fails for good.
"""
from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from tqdm import tqdm

Job = TypeVar("Job")
Result = TypeVar("Result")
TASK_RETRIES = 2


class ClusterError(RuntimeError):
    """The cluster cannot be used: dask.distributed is missing or no scheduler answers at the address."""


def unordered_map(function: Callable[[Job], Result], jobs: Sequence[Job], workers: int = 1,
                  scheduler: str | None = None) -> Iterator[Result]:
    """``function`` over ``jobs`` in any order: on the cluster at ``scheduler``, else in ``workers`` processes."""
    if scheduler:
        yield from _cluster_map(function, jobs, scheduler)
    elif workers > 1 and len(jobs) > 1:
        with multiprocessing.Pool(min(workers, len(jobs))) as pool:
            yield from pool.imap_unordered(function, jobs)
    else:
        yield from map(function, jobs)


def progress_map(function: Callable[[Job], Result], jobs: Sequence[Job], workers: int, desc: str,
                 unit: str, scheduler: str | None = None) -> list[Result]:
    """``function`` over ``jobs``, results in the order of ``jobs``, with a progress bar."""
    indexed = list(enumerate(jobs))
    results: dict[int, Result] = {}
    for index, result in tqdm(unordered_map(_Indexed(function), indexed, workers, scheduler),
                              total=len(jobs), desc=desc, unit=unit):
        results[index] = result
    return [results[index] for index in range(len(jobs))]


class _Indexed:
    """``function`` applied to the job of an ``(index, job)`` pair, answering ``(index, result)``; picklable."""

    def __init__(self, function: Callable) -> None:
        self.function = function

    def __call__(self, pair: tuple[int, Job]) -> tuple[int, Result]:
        return pair[0], self.function(pair[1])


def _cluster_map(function: Callable[[Job], Result], jobs: Sequence[Job], scheduler: str) -> Iterator[Result]:
    try:
        from dask.distributed import Client, as_completed
    except ImportError as error:
        raise ClusterError("--scheduler needs dask.distributed: pip install 'sessrs[scale]'") from error
    try:
        client = Client(scheduler, timeout="20s")
    except (OSError, TimeoutError) as error:
        raise ClusterError(f"no Dask scheduler reachable at {scheduler} ({error})") from error
    with client:
        futures = client.map(function, list(jobs), pure=False, retries=TASK_RETRIES)
        for future in as_completed(futures):
            yield future.result()  # a task that failed on every try raises its own error here
