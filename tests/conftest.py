"""Fixtures shared by every test folder: a Dask cluster on loopback, started once per test module that asks."""

from __future__ import annotations

import os
from collections.abc import Iterator

# The suite runs one worker process per core (pytest-xdist): threads of each process's own (PyTorch, OpenMP, BLAS)
# would only contend for the same cores, and OpenMP's waiting threads spin (test_models.py: 210 s with two threads per
# worker, 73 s with one). Set before NumPy or PyTorch is imported; the scripts the tests start inherit it.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(variable, "1")

import pytest  # noqa: E402
from distributed import LocalCluster  # noqa: E402
from loopback import loopback_cluster  # noqa: E402


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    """Two single-thread worker processes, every server on 127.0.0.1."""
    with loopback_cluster() as running:
        yield running


@pytest.fixture(scope="module")
def scheduler(cluster: LocalCluster) -> str:
    """The address of :func:`cluster`'s scheduler, as ``--scheduler`` takes it."""
    return cluster.scheduler_address
