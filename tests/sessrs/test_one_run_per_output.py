"""One run per output folder: a sweep, a pick (its folder and its refined maps' folder) into a folder that another
running run holds is refused in one line and writes nothing; two sweeps racing into one folder never both finish
and never mix their parts."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sessrs_cases import copy_fixture_scenes

from rscommon.cli import run_main
from rscommon.files import InputError
from rscommon.locks import folder_lock, locked
from sessrs.api import apply_thresholds
from sessrs.thresholds import Thresholds

REPO = Path(__file__).resolve().parents[2]
SCENES = REPO / "tests" / "fixtures" / "sessrs_reference" / "scenes"
STEM = "01000"
sys.path.insert(0, str(REPO / "SESSRS"))
import get_best_t1_t2  # noqa: E402
import sessrs_t1_t2  # noqa: E402


@pytest.fixture
def data(tmp_path: Path) -> Path:
    copy_fixture_scenes(tmp_path, [STEM])
    return tmp_path


def inputs(data: Path) -> list:
    return ["--pred-dir", data / "pred", "--sam-dir", data / "sam", "--gt-dir", data / "gt", "--dataset", "Urban"]


def run(module, *args) -> tuple[int, list[str]]:
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = run_main(module.main, [str(arg) for arg in args])
    return code, stderr.getvalue().strip().splitlines()


def test_a_sweep_into_a_held_folder_is_refused(data):
    out = data / "out"
    with locked(folder_lock(out), "another sweep"):
        code, lines = run(sessrs_t1_t2, *inputs(data), "--classes", 1, "--out", out)
    assert code == 2 and len(lines) == 1 and lines[0].startswith(f"error: --out {out}: in use by process {os.getpid()}")
    assert not (out / "run.json").exists()


def test_a_pick_into_a_held_folder_or_refined_folder_is_refused(data):
    code, lines = run(sessrs_t1_t2, *inputs(data), "--classes", 1, "--out", data / "sweep")
    assert code == 0, lines
    pick = [*inputs(data), "--sweep", data / "sweep" / "sweep.json", "-t", "all"]
    with locked(folder_lock(data / "chosen"), "another pick"):
        code, lines = run(get_best_t1_t2, *pick, "--out", data / "chosen")
    assert code == 2 and len(lines) == 1 and f"--out {data / 'chosen'}: in use by process" in lines[0]
    assert not (data / "chosen" / "best.json").exists()
    refined = data / "refined"
    with locked(folder_lock(refined), "another application"), pytest.raises(InputError, match="in use by process"):
        apply_thresholds(
            Thresholds(t1={1: 0.5}, t2={1: 0.6}, modify=[1]), data / "pred", data / "sam", refined, "Urban"
        )
    assert not list(refined.glob("*.png")) and not (refined / ".applied.json").exists()


def test_two_sweeps_racing_into_one_folder_never_both_finish(data):
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(str(REPO / p) for p in ("common", "SESSRS"))}
    command = [
        sys.executable,
        str(REPO / "SESSRS" / "sessrs_t1_t2.py"),
        *map(str, inputs(data)),
        "--classes",
        "1",
        "--out",
        str(data / "out"),
        "-n",
        "1",
    ]
    runs = [
        subprocess.Popen(
            [*command, "--max-objects", str(limit)],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for limit in (3, 7)
    ]
    results = [(process.wait(timeout=120), process.stderr.read()) for process in runs]
    for process in runs:
        process.stderr.close()
    finished = [limit for limit, (code, _) in zip((3, 7), results) if code == 0]
    assert len(finished) == 1, results
    refused = [err for code, err in results if code != 0][0].strip().splitlines()[-1]
    assert "in use by process" in refused or "holds the results of a different sweep" in refused, refused
    assert json.loads((data / "out" / "sweep.json").read_text())["max_objects"] == finished[0]
