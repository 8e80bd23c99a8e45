"""Task functions for the cluster tests, in a module of their own with light imports: the ``dask worker`` programs
import it (this folder is on their PYTHONPATH, as a real cluster has the project installed)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def square_where(number: int) -> tuple[int, int]:
    """``number`` squared, and the id of the process that computed it."""
    time.sleep(0.05)
    return number * number, os.getpid()


def tries(folder: str, number: int) -> int:
    """Log one more try of job ``number`` in ``folder``; the number of tries so far."""
    log = Path(folder) / f"{number}.tries"
    with open(log, "a") as stream:
        stream.write(f"{os.getpid()}\n")
    return len(log.read_text().splitlines())


def fail_first_try(job: tuple[str, int]) -> int:
    """Fails on a job's first try and succeeds on the next."""
    folder, number = job
    if tries(folder, number) == 1:
        raise ConnectionError(f"job {number}: first try fails")
    return number + 100


def fail_always(job: tuple[str, int]) -> int:
    """Job 3 fails on every try; the others succeed at once."""
    folder, number = job
    if number == 3:
        tries(folder, number)
        raise ValueError("job 3 cannot be done")
    return number


def slow_square(number: int) -> int:
    """``number`` squared, after half a second."""
    time.sleep(0.5)
    return number * number
