"""A cluster that cannot be reached fails a script before it writes anything; a cluster left without workers, or
whose only worker is frozen, ends the run in one line naming the jobs not done, finished work kept."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import sys
from pathlib import Path

import pytest
from cluster_tasks import slow_square
from distributed import LocalCluster
from loopback import loopback_cluster

import rscommon.parallel as parallel
from rscommon.cli import run_main
from rscommon.parallel import ClusterError, Execution, each_job

REPO = Path(__file__).resolve().parents[2]
SCENES = REPO / "tests" / "fixtures" / "sessrs_reference" / "scenes"
sys.path.insert(0, str(REPO / "SESSRS"))
import get_best_t1_t2  # noqa: E402
import sessrs_t1_t2  # noqa: E402


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def script_arguments(script, tmp_path: Path, *extra: str) -> list[str]:
    """The arguments of ``script`` on the fixture scenes, writing to ``tmp_path/out``, and ``extra``."""
    args = [
        "--pred-dir",
        SCENES / "pred",
        "--sam-dir",
        SCENES / "sam",
        "--gt-dir",
        SCENES / "gt",
        "--dataset",
        "Urban",
        "--out",
        tmp_path / "out",
        *extra,
    ]
    if script is get_best_t1_t2:
        args += ["--sweep", tmp_path / "sweep.json"]
    return [str(arg) for arg in args]


def refusal(script, args: list[str]) -> str:
    """The one line a run of ``script`` that exits 2 writes on stderr."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = run_main(script.main, args)
    lines = stderr.getvalue().strip().splitlines()
    assert code == 2 and len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("script", [sessrs_t1_t2, get_best_t1_t2])
def test_an_unreachable_scheduler_fails_before_anything_is_written(script, tmp_path, monkeypatch):
    monkeypatch.setattr(parallel, "CONNECT_TIMEOUT", 1.0)
    args = script_arguments(script, tmp_path, "--scheduler", f"tcp://127.0.0.1:{closed_port()}")
    assert "no Dask scheduler reachable at tcp://127.0.0.1" in refusal(script, args)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("script", [sessrs_t1_t2, get_best_t1_t2])
@pytest.mark.parametrize("address", ["127.0.0.1", "tcp://127.0.0.1", "tcp://127.0.0.1:port", "tcp://:8786"])
def test_a_scheduler_address_without_host_or_port_is_refused_in_one_line(script, address, tmp_path):
    line = refusal(script, script_arguments(script, tmp_path, "--scheduler", address))
    assert line == (
        f"error: scheduler address {address!r}: give the host and the port of the Dask scheduler, as "
        "tcp://HOST:PORT (e.g. tcp://10.0.0.5:8786)"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_a_memory_limit_that_is_no_finite_number_is_refused_in_one_line(value, tmp_path):
    args = script_arguments(get_best_t1_t2, tmp_path, "--search", "joint", "--memory-limit", value)
    assert (
        refusal(get_best_t1_t2, args) == f"error: --memory-limit {float(value)}: give the gigabytes as a finite number"
    )
    assert not (tmp_path / "out").exists()


def test_a_cluster_without_workers_ends_the_run_naming_the_jobs_not_done(monkeypatch):
    monkeypatch.setenv(parallel.IDLE_TIMEOUT_ENV, "2")
    finished = []
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        jobs = [(f"job{number}", number) for number in range(8)]
        with pytest.raises(ClusterError, match=r"no progress for 2 s: it has no worker; \d of 8 jobs not done \(job\d"):
            for name, result in each_job(slow_square, jobs, Execution(scheduler=cluster.scheduler_address)):
                finished.append((name, result))
                if len(finished) == 1:
                    cluster.scale(0)
    assert finished and all(result == int(name[3:]) ** 2 for name, result in finished)
    assert len(finished) < 8


def test_a_bad_idle_timeout_is_refused(monkeypatch):
    monkeypatch.setenv(parallel.IDLE_TIMEOUT_ENV, "soon")
    with pytest.raises(ValueError, match="SESSRS_CLUSTER_IDLE_TIMEOUT='soon'"):
        parallel._lost_after()


@contextlib.contextmanager
def frozen(cluster: LocalCluster):
    """The cluster's worker processes stopped with SIGSTOP (present to the scheduler, silent), then let go on."""
    pids = [nanny.process.process.pid for nanny in cluster.workers.values()]
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def test_a_frozen_worker_ends_the_run_naming_the_jobs_not_done(monkeypatch):
    monkeypatch.setenv(parallel.IDLE_TIMEOUT_ENV, "5")  # a busy worker on a loaded machine may miss 2 s of heartbeats
    finished = []
    with loopback_cluster(1) as cluster, contextlib.ExitStack() as stack:
        jobs = [(f"job{number}", number) for number in range(8)]
        expected = r"no progress for 5 s: worker tcp://127\.0\.0\.1:\d+ has not answered \(frozen or cut off\?\); "
        with pytest.raises(ClusterError, match=expected + r"\d of 8 jobs not done \(job\d"):
            for name, result in each_job(slow_square, jobs, Execution(scheduler=cluster.scheduler_address)):
                finished.append((name, result))
                if len(finished) == 1:
                    stack.enter_context(frozen(cluster))
    assert finished and all(result == int(name[3:]) ** 2 for name, result in finished)
    assert len(finished) < 8
