"""Run one job per image in worker processes (or in this one), yielding results as they finish."""
from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

Job = TypeVar("Job")
Result = TypeVar("Result")


def unordered_map(function: Callable[[Job], Result], jobs: Sequence[Job], workers: int) -> Iterator[Result]:
    """``function`` over ``jobs``, in ``workers`` processes when more than one job and worker, in any order."""
    if workers > 1 and len(jobs) > 1:
        with multiprocessing.Pool(min(workers, len(jobs))) as pool:
            yield from pool.imap_unordered(function, jobs)
    else:
        yield from map(function, jobs)
