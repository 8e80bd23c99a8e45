"""rscommon.parallel's local pool: a worker killed by the system ends the map with one line saying so."""

import os
import signal

from rscommon.cli import run_main
from rscommon.parallel import Execution, each_job, progress_map


def die_on_two(job: int) -> int:
    if job == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return job


def test_a_killed_worker_ends_the_map_with_one_line_saying_so(capsys):
    finished = []

    def main(argv):
        for _name, result in each_job(die_on_two, [(str(job), job) for job in range(4)], Execution(2)):
            finished.append(result)

    assert run_main(main, []) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [
        "error: a worker process was killed (out of memory?): lower -n; finished work is kept, "
        "run the same command again to continue"
    ]


def test_results_come_back_in_job_order():
    assert progress_map(abs, [-3, 1, -2], Execution(2), desc="test", unit="job") == [3, 1, 2]
