"""A real SIGTERM or SIGINT sent to a running sweep or joint search ends it at once and cleanly: its exit status
says which signal, no worker process outlives it, no spill folder is left in TMPDIR, and a rerun continues."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from repository import REPO, python_path
from sessrs_cases import write_random_scenes

import sessrs.joint_spill as joint_spill
from rscommon.cli import run_main

psutil = pytest.importorskip("psutil")
sys.path.insert(0, str(REPO / "SESSRS"))
import sessrs_t1_t2  # noqa: E402

SMALL_GRID = ["--t1-values", "0.3", "0.5", "0.7", "--t2-values", "0.3", "0.55", "0.8"]
CLASSES = ["--classes", "0", "1", "2", "3", "4"]


@pytest.fixture(scope="module")
def scenes(tmp_path_factory) -> Path:
    """Random scenes and their sweep (on a small grid)."""
    root = write_random_scenes(tmp_path_factory.mktemp("scenes"), range(6), shape=(64, 80))
    assert (
        run_main(sessrs_t1_t2.main, [*inputs(root), "--out", str(root / "sweep"), "-n", "1", *CLASSES, *SMALL_GRID])
        == 0
    )
    return root


def inputs(root: Path) -> list[str]:
    folders = [str(root / kind) for kind in ("pred", "sam", "gt")]
    return ["--pred-dir", folders[0], "--sam-dir", folders[1], "--gt-dir", folders[2], "--dataset", "Urban"]


def start(script: str, args: list[str], tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    """The repository script running with ``args``, its TMPDIR a new folder (returned with it)."""
    temporary = tmp_path / "tmp"
    temporary.mkdir(exist_ok=True)
    environment = {**os.environ, "PYTHONPATH": python_path(), "TMPDIR": str(temporary)}
    process = subprocess.Popen(
        [sys.executable, str(REPO / script), *args],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process, temporary


def wait_until(condition: Callable[[], bool], process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        assert process.poll() is None, f"the run ended before {what}: {process.stderr.read()}"
        assert time.monotonic() < deadline, f"never {what}"
        time.sleep(0.02)


def stop(process: subprocess.Popen, signum: int) -> tuple[list, str]:
    """Send ``signum`` to the running script; its worker processes (seen before the signal) and its stderr."""
    workers = psutil.Process(process.pid).children(recursive=True)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    return workers, stderr


def still_running(processes: list) -> list:
    running = []
    for child in processes:
        try:
            if child.is_running() and child.status() != psutil.STATUS_ZOMBIE:
                running.append(child)
        except psutil.NoSuchProcess:
            pass
    return running


def spill_folders(temporary: Path) -> list[Path]:
    return sorted(temporary.glob(f"{joint_spill.SPILL_PREFIX}*"))


def saved_steps(state: Path) -> list:
    try:
        return json.loads(state.read_text())["trace"]
    except (OSError, ValueError):
        return []


@pytest.mark.slow
def test_sigterm_ends_a_joint_search_with_its_workers_and_spill_folders_and_a_rerun_continues(scenes, tmp_path):
    out = tmp_path / "joint"
    args = [*inputs(scenes), "--sweep", str(scenes / "sweep" / "sweep.json"), "--search", "joint", "--out", str(out)]
    args += ["-n", "2", "--memory-limit", "0.001"]  # every image kept on disk, in each worker's spill folder
    process, temporary = start("SESSRS/get_best_t1_t2.py", args, tmp_path)
    state = out / "joint_state.json"

    def busy() -> bool:
        workers = psutil.Process(process.pid).children()
        return len(saved_steps(state)) >= 2 and len(workers) == 2 and bool(spill_folders(temporary))

    wait_until(busy, process, "searching in two workers")
    workers, stderr = stop(process, signal.SIGTERM)
    assert process.returncode == 143, stderr
    assert stderr.strip().splitlines()[-1] == (
        "stopped by SIGTERM: finished results are kept; run the same command again to continue"
    )
    assert len(workers) == 2 and not still_running(workers)
    assert not spill_folders(temporary) and not list(temporary.iterdir())
    saved = saved_steps(state)
    assert len(saved) >= 2 and not (out / "best.json").exists()

    rerun = subprocess.run(
        [sys.executable, str(REPO / "SESSRS" / "get_best_t1_t2.py"), *args],
        env={**os.environ, "PYTHONPATH": python_path(), "TMPDIR": str(temporary)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert rerun.returncode == 0, rerun.stderr
    steps = saved_steps(state)
    assert steps[: len(saved)] == saved, "the rerun continued the saved search (the steps' timings are those saved)"
    assert len(steps) > len(saved) and (out / "best.json").exists()
    assert not list(temporary.iterdir())


@pytest.mark.slow
def test_sigint_ends_a_sweep_with_its_workers_and_a_rerun_keeps_the_finished_images(tmp_path):
    root = write_random_scenes(tmp_path / "scenes", range(12), shape=(160, 200))
    out = tmp_path / "sweep"
    args = [*inputs(root), "--out", str(out), "-n", "2", *CLASSES]
    process, temporary = start("SESSRS/sessrs_t1_t2.py", args, tmp_path)
    parts = out / "parts"

    def busy() -> bool:
        return len(psutil.Process(process.pid).children()) == 2 and any(parts.glob("*.npz"))

    wait_until(busy, process, "sweeping in two workers")
    workers, stderr = stop(process, signal.SIGINT)
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1].startswith("stopped by SIGINT: finished results are kept")
    assert len(workers) == 2 and not still_running(workers)
    finished = {path.name: path.stat().st_mtime_ns for path in parts.glob("*.npz")}
    assert 1 <= len(finished) < 12 and not list(parts.glob(".*")), "only whole parts, no temporary one"
    assert not (out / "sweep.json").exists()

    rerun = subprocess.run(
        [sys.executable, str(REPO / "SESSRS" / "sessrs_t1_t2.py"), *args],
        env={**os.environ, "PYTHONPATH": python_path(), "TMPDIR": str(temporary)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert len(list(parts.glob("*.npz"))) == 12 and (out / "sweep.json").exists()
    assert {name: (parts / name).stat().st_mtime_ns for name in finished} == finished, "finished images kept"
