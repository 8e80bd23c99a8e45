"""Per-image tasks in local processes or on a Dask cluster, where one image's failure does not stop the others.

Each result is handed to the caller as it arrives (the caller saves it, so finished work survives). A failed image
is reported on stderr when it fails; once every other image has finished, the failure is raised (the error itself
when one image failed, else one line naming them all).
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from tqdm import tqdm

from rscommon.cli import describe
from rscommon.files import InputError
from rscommon.parallel import unordered_map

Job = TypeVar("Job")
Result = TypeVar("Result")


@dataclass(frozen=True)
class _Failure:
    error: Exception


class _Guarded(Generic[Job, Result]):
    """``function`` on the job of a ``(name, job)`` pair, answering ``(name, result or failure)``; picklable."""

    def __init__(self, function: Callable[[Job], Result]) -> None:
        self.function = function

    def __call__(self, named: tuple[str, Job]) -> tuple[str, Result | _Failure]:
        name, job = named
        try:
            return name, self.function(job)
        except Exception as error:  # reported by the caller's process, after the other images finished
            return name, _Failure(error)


def each_image(
    function: Callable[[Job], Result],
    jobs: Sequence[tuple[str, Job]],
    workers: int = 1,
    scheduler: str | None = None,
) -> Iterator[tuple[str, Result]]:
    """``(name, function(job))`` for each ``(name, job)`` as it finishes, locally or on the cluster at
    ``scheduler``; failures are raised after all the other jobs finished (see the module's docstring)."""
    failures: list[tuple[str, Exception]] = []
    for name, outcome in unordered_map(_Guarded(function), jobs, workers, scheduler):
        if isinstance(outcome, _Failure):
            tqdm.write(f"{name}: failed: {describe(outcome.error)}", file=sys.stderr)
            failures.append((name, outcome.error))
        else:
            yield name, outcome
    if len(failures) == 1:
        raise failures[0][1]
    if failures:
        names = ", ".join(sorted(name for name, _ in failures))
        message = (f"{len(failures)} of {len(jobs)} images failed ({names}; each is named above); the others are "
                   "saved: fix these and run the same command again")
        all_input = all(isinstance(error, (InputError, ValueError, OSError)) for _, error in failures)
        raise InputError(message) if all_input else RuntimeError(message)
