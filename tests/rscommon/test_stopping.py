"""A real SIGTERM or SIGINT to a script running jobs in local worker processes: the jobs' ``finally`` blocks run in
the workers, a job queued for a worker is not started, an idle worker is ended by its pool, and the script exits
with the signal's status and one line, before the grace time, its workers gone."""

import os
import signal
import subprocess
import sys
import time

import pytest
from repository import python_path

from rscommon.stopping import GRACE

psutil = pytest.importorskip("psutil")

SCRIPT = """
import sys, time
from pathlib import Path
from rscommon.cli import run_main
from rscommon.parallel import Execution, each_job

folder = Path(sys.argv[1])

def job(number):
    if number == 0:
        (folder / "0.done").touch()
        return number
    temporary = folder / f"{number}.tmp"
    temporary.write_text("partial")
    try:
        time.sleep(60)
    finally:
        temporary.unlink()
    return number

def main(argv):
    jobs = [(str(number), number) for number in range(int(sys.argv[2]))]
    for _ in each_job(job, jobs, Execution(3)):
        pass

sys.exit(run_main(main, []))
"""


@pytest.mark.parametrize(
    ("signum", "jobs"),
    [(signal.SIGTERM, 3), (signal.SIGINT, 5)],
    ids=["SIGTERM, a worker idle", "SIGINT, a job queued"],
)
def test_a_stop_signal_ends_the_workers_jobs_through_their_cleanup(tmp_path, signum, jobs):
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(tmp_path), str(jobs)],
        env={**os.environ, "PYTHONPATH": python_path()},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    sleeping = min(jobs - 1, 3)  # job 0 done, its worker idle (3 jobs) or on job 3 (5 jobs: job 4 queued)
    while not (tmp_path / "0.done").exists() or len(list(tmp_path.glob("*.tmp"))) < sleeping:
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.02)
    workers = psutil.Process(process.pid).children()
    sent = time.monotonic()
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signum
    assert time.monotonic() - sent < GRACE, "the workers ended their jobs themselves, none had to be killed"
    name = signal.Signals(signum).name
    assert stderr.strip().splitlines()[-1] == (
        f"stopped by {name}: finished results are kept; run the same command again to continue"
    )
    assert "Traceback" not in stderr and "failed" not in stderr, stderr
    assert len(workers) == 3 and not [w for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE]
    assert not list(tmp_path.glob("*.tmp")), "each job's finally block ran in its worker"
