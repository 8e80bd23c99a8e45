"""Servers the tests start listen on loopback only: a LocalCluster, the arguments of the ``dask`` programs, and a
check of what a process tree listens on.

dask.distributed always starts an HTTP server beside a scheduler (and a worker), dashboard or not: with
``dashboard_address=None`` or ``--no-dashboard`` it still listens, on port 8787 and, for the command-line
scheduler, on every interface. So the address is always given: loopback, a free port.
"""

from __future__ import annotations

import ipaddress

import psutil
from distributed import LocalCluster

LOOPBACK = "127.0.0.1"
HTTP_ON_LOOPBACK = f"{LOOPBACK}:0"
# For ``dask scheduler`` and ``dask worker``: every listening socket, the HTTP server's included, on loopback.
PROGRAM_ARGUMENTS = ("--host", LOOPBACK, "--dashboard-address", HTTP_ON_LOOPBACK, "--no-dashboard")


def loopback_cluster(n_workers: int = 2) -> LocalCluster:
    """A LocalCluster of ``n_workers`` single-thread worker processes, every server on loopback at a free port."""
    return LocalCluster(
        n_workers=n_workers, threads_per_worker=1, processes=True, host=LOOPBACK, dashboard_address=HTTP_ON_LOOPBACK
    )


def listening(pid: int) -> list[tuple[str, int]]:
    """``(address, port)`` of every socket listening in process ``pid`` and its children."""
    process = psutil.Process(pid)
    return sorted(
        (connection.laddr.ip, connection.laddr.port)
        for member in (process, *process.children(recursive=True))
        for connection in member.net_connections("inet")
        if connection.status == psutil.CONN_LISTEN
    )


def not_on_loopback(pid: int) -> list[tuple[str, int]]:
    """The sockets of :func:`listening` reachable from other hosts (any address but a loopback one)."""
    return [(address, port) for address, port in listening(pid) if not ipaddress.ip_address(address).is_loopback]
