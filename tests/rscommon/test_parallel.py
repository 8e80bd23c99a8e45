"""rscommon.parallel's local pool: a worker killed by the system ends the map with one line saying so."""

import os
import signal

from rscommon.cli import run_main
from rscommon.files import InputError
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


def fail_as_told(job: str) -> None:
    if job == "bad-input":
        raise InputError(f"{job}: a file of the user's is wrong")
    if job == "missing":
        raise FileNotFoundError(2, "No such file or directory", job)
    raise ValueError(f"{job}: a library's own ValueError")


def run_jobs(jobs: list[str], capsys) -> tuple[int, str]:
    def main(argv):
        for _ in each_job(fail_as_told, [(job, job) for job in jobs], Execution(1)):
            pass

    code = run_main(main, [])
    return code, capsys.readouterr().err.strip().splitlines()[-1]


def test_several_failed_jobs_are_bad_input_only_when_each_is_an_input_error(capsys):
    """Two users' file errors exit 2; a ValueError among the failures is a bug (exit 1), as rscommon.cli rules."""
    code, last = run_jobs(["bad-input", "missing"], capsys)
    assert code == 2 and last.startswith("error: 2 of 2 images failed (bad-input, missing;")
    code, last = run_jobs(["bad-input", "library-a", "library-b"], capsys)
    assert code == 1 and last.startswith("error: RuntimeError: 3 of 3 images failed")
