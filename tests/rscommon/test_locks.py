"""One run per output: a second holder is refused naming the first; a dead process's lock is taken over."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from rscommon.files import InputError
from rscommon.locks import acquire, folder_lock, locked


def test_a_second_run_is_refused_naming_the_first(tmp_path: Path) -> None:
    lock = folder_lock(tmp_path / "out")
    with locked(lock, "--out out"):
        record = json.loads(lock.read_text())
        assert record["pid"] == os.getpid() and record["host"] == socket.gethostname()
        with pytest.raises(InputError, match=rf"--out out: in use by process {os.getpid()} on "):
            acquire(lock, "--out out")
    assert not lock.exists()


def test_a_dead_process_lock_is_taken_over_and_said(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    lock = folder_lock(tmp_path)
    lock.write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname(), "started": 0}))
    with locked(lock, "--out x"):
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert "no longer running" in capsys.readouterr().err


def test_a_lock_from_another_host_is_refused(tmp_path: Path) -> None:
    lock = folder_lock(tmp_path)
    lock.write_text(json.dumps({"pid": 1, "host": "elsewhere.example", "started": 0}))
    with pytest.raises(InputError, match="elsewhere.example"):
        acquire(lock, "--out x")
    assert json.loads(lock.read_text())["host"] == "elsewhere.example"


@pytest.mark.parametrize(
    ("content", "shown"),
    [
        ("", "holds nothing (an empty file)"),
        ('{"pid": 12', "holds '{\"pid\": 12', not a lock of this program's"),
        ('{"owner": "someone"}', 'holds \'{"owner": "someone"}\', not a lock of this program\'s'),
        ('{"pid": "12", "host": "h", "started": 0}', "not a lock of this program's"),
    ],
)
def test_an_empty_damaged_or_foreign_lock_says_what_it_holds_and_how_to_remove_it(
    tmp_path: Path, content: str, shown: str
) -> None:
    lock = folder_lock(tmp_path)
    lock.write_text(content)
    with pytest.raises(InputError) as error:
        acquire(lock, "--out x")
    message = str(error.value)
    assert shown in message and message.endswith(f"remove it: rm {lock}") and "\n" not in message
    assert lock.read_text() == content  # never removed by the run


def test_a_lock_whose_process_id_was_reused_is_taken_over(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """This process runs with the lock's id but started after the lock was taken: the lock's run is gone."""
    lock = folder_lock(tmp_path)
    lock.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": 1_000_000}))
    with locked(lock, "--out x"):
        assert json.loads(lock.read_text())["started"] > 1_000_000
    assert "taking over the lock of process" in capsys.readouterr().err


def test_a_live_holder_is_refused_with_the_command_that_removes_its_lock(tmp_path: Path) -> None:
    lock = folder_lock(tmp_path)
    lock.write_text(json.dumps({"pid": 1, "host": "elsewhere.example", "started": 0}))
    with pytest.raises(InputError, match=rf"or if it is gone, remove the lock: rm {lock}$"):
        acquire(lock, "--out x")
