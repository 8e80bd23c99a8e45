"""Fixtures shared by every test folder: a Dask cluster on loopback, started once per test module that asks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from distributed import LocalCluster
from loopback import loopback_cluster


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    """Two single-thread worker processes, every server on 127.0.0.1."""
    with loopback_cluster() as running:
        yield running


@pytest.fixture(scope="module")
def scheduler(cluster: LocalCluster) -> str:
    """The address of :func:`cluster`'s scheduler, as ``--scheduler`` takes it."""
    return cluster.scheduler_address
