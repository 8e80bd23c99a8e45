"""Cluster execution on loopback: a ``dask scheduler`` with two ``dask worker`` programs started from the .venv's bin
(as on a real cluster), and a ``LocalCluster``. ``rscommon.parallel.unordered_map`` and the scene command run on them
and give the local results; a failing task is retried, and a tile failing for good is reported while the finished
tiles are kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from cluster_tasks import fail_always, fail_first_try, square_where
from distributed import Client
from loopback import PROGRAM_ARGUMENTS, loopback_cluster, not_on_loopback
from repository import python_path
from scene_files import damaged_image, geoseg_scene, read_band, scene_args, with_options

from rscommon.cli import run_main
from rscommon.parallel import TASK_RETRIES, Execution, unordered_map
from rspipeline.scene_cli import main

TESTS = Path(__file__).resolve().parents[1]
DASK = Path(sys.executable).parent / "dask"
START_SECONDS = 120
STOP_SECONDS = 30


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {seconds} s")
        time.sleep(0.2)


def stop(processes: list[subprocess.Popen]) -> None:
    """Terminate the programs, newest first; kill what does not end in time."""
    for process in reversed(processes):
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_SECONDS)


@pytest.fixture(scope="module")
def programs(tmp_path_factory) -> Iterator[tuple[str, list[subprocess.Popen]]]:
    """The address of a scheduler with two single-thread workers, each a ``dask`` command-line program listening on
    loopback only, and the programs (the scheduler first).

    The workers find this folder's helpers (``cluster_tasks``) on their PYTHONPATH, as a real cluster has the
    project installed."""
    folder = tmp_path_factory.mktemp("cluster")
    scheduler_file = folder / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": python_path(TESTS)}
    processes: list[subprocess.Popen] = []
    logs = []
    try:

        def start(name: str, *arguments: str) -> None:
            log = open(folder / f"{name}.log", "wb")  # noqa: SIM115 - closed in the finally clause
            logs.append(log)
            processes.append(subprocess.Popen([str(DASK), *arguments], stdout=log, stderr=subprocess.STDOUT, env=env))

        start("scheduler", "scheduler", *PROGRAM_ARGUMENTS, "--port", "0", "--scheduler-file", str(scheduler_file))
        wait_for(lambda: scheduler_file.is_file() and scheduler_file.stat().st_size > 0, START_SECONDS, "scheduler")
        address = json.loads(scheduler_file.read_text())["address"]
        for index in range(2):
            start(
                f"worker{index}",
                "worker",
                *PROGRAM_ARGUMENTS,
                "--scheduler-file",
                str(scheduler_file),
                "--nthreads",
                "1",
                "--name",
                f"worker{index}",
            )
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=START_SECONDS)
            yield address, processes
            client.shutdown()  # the scheduler and its workers close; stop() below ends whatever is left
    finally:
        stop(processes)
        for log in logs:
            log.close()


@pytest.fixture(scope="module")
def cluster(programs) -> str:
    """The address of the scheduler of :func:`programs`."""
    return programs[0]


def test_the_cluster_programs_listen_on_loopback_only(programs) -> None:
    """The scheduler's HTTP server too, which ``--no-dashboard`` alone leaves on 0.0.0.0:8787."""
    for process in programs[1]:
        assert not_on_loopback(process.pid) == []


@pytest.fixture(scope="module")
def local_run(scene) -> np.ndarray:
    """The scene refined in this process: what every cluster run must give."""
    out = scene["folder"] / "local.tif"
    assert run_main(main, scene_args(scene, out)) == 0
    refined = read_band(out)
    assert (refined != scene["pred"]).sum() > 1000  # the refinement changes the prediction: a comparison that bites
    return refined


def test_unordered_map_on_the_cluster_gives_the_local_results(cluster) -> None:
    jobs = list(range(16))
    local = list(unordered_map(square_where, jobs))
    remote = list(unordered_map(square_where, jobs, Execution(scheduler=cluster)))
    assert sorted(value for value, _ in remote) == sorted(value for value, _ in local)
    assert {pid for _, pid in local} == {os.getpid()} and os.getpid() not in {pid for _, pid in remote}


def test_a_failing_task_is_retried_on_the_cluster(cluster, tmp_path: Path) -> None:
    jobs = [(str(tmp_path), number) for number in range(6)]
    assert sorted(unordered_map(fail_first_try, jobs, Execution(scheduler=cluster))) == [
        number + 100 for number in range(6)
    ]
    assert all(len((tmp_path / f"{number}.tries").read_text().splitlines()) == 2 for number in range(6))


def test_a_task_failing_every_try_raises_its_own_error_after_the_retries(cluster, tmp_path: Path) -> None:
    jobs = [(str(tmp_path), number) for number in range(6)]
    with pytest.raises(ValueError, match="job 3 cannot be done"):
        list(unordered_map(fail_always, jobs, Execution(scheduler=cluster)))
    assert len((tmp_path / "3.tries").read_text().splitlines()) == 1 + TASK_RETRIES


def test_the_scene_on_the_command_line_cluster_equals_the_local_run(cluster, scene, local_run, tmp_path: Path) -> None:
    out = tmp_path / "cluster.tif"
    assert run_main(main, scene_args(scene, out, "best.json", "--scheduler", cluster)) == 0
    assert np.array_equal(read_band(out), local_run)


@pytest.mark.slow
def test_a_geoseg_config_on_the_cluster_predicts_as_locally(cluster, scene, tmp_path: Path) -> None:
    setup = geoseg_scene(scene, tmp_path)
    assert run_main(main, setup["args"]) == 0
    remote = tmp_path / "remote.tif"
    assert run_main(main, with_options(setup["args"], {"--out": [str(remote)], "--scheduler": [cluster]})) == 0
    assert np.array_equal(read_band(remote), read_band(setup["out"]))


def test_the_scene_on_a_local_cluster_equals_the_local_run(scene, local_run, tmp_path: Path) -> None:
    with loopback_cluster() as local_cluster:
        out = tmp_path / "local_cluster.tif"
        assert run_main(main, scene_args(scene, out, "best.json", "--scheduler", local_cluster.scheduler_address)) == 0
    assert np.array_equal(read_band(out), local_run)


def test_a_tile_failing_on_the_cluster_is_reported_and_the_others_are_kept(
    cluster, scene, local_run, tmp_path: Path, capsys
) -> None:
    args = scene_args(
        scene, tmp_path / "out.tif", "best.json", "--scheduler", cluster, image=damaged_image(scene, tmp_path)
    )  # the 4 tiles reading the last block fail
    assert run_main(main, args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: 4 of 9 tiles failed") and any("damaged.tif" in line for line in err)
    parts = sorted((tmp_path / "out.tif.parts" / "refine").glob("r*_c*.npy"))
    assert len(parts) == 5 and not (tmp_path / "out.tif").exists()
    kept = {path: path.stat().st_mtime_ns for path in parts}
    assert run_main(main, args) == 2  # only the failed tiles are tried again
    assert {path: path.stat().st_mtime_ns for path in parts} == kept
