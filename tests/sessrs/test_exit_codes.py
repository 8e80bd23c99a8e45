"""sessrs_t1_t2.py and get_best_t1_t2.py end bad input in exit 2 and one line naming the file, and an internal bug
in exit 1 with its type (traceback with --debug)."""

from __future__ import annotations

import sys
from pathlib import Path

from exit_codes import assert_bad_input, assert_bug

from sessrs import inputs, validate

REPO = Path(__file__).resolve().parents[2]
SCENES = REPO / "tests" / "fixtures" / "sessrs_reference" / "scenes"
sys.path.insert(0, str(REPO / "SESSRS"))
import get_best_t1_t2  # noqa: E402
import sessrs_t1_t2  # noqa: E402

INPUTS = ["--sam-dir", SCENES / "sam", "--gt-dir", SCENES / "gt", "--dataset", "Urban", "-n", 1]


def broken(*args, **kwargs):
    return 1 / 0


def test_the_sweep_ends_bad_input_and_bugs_apart(tmp_path: Path, monkeypatch) -> None:
    missing = tmp_path / "no-predictions"
    args = ["--pred-dir", missing, *INPUTS, "--classes", 1, "--out", tmp_path / "a"]
    assert_bad_input(sessrs_t1_t2.main, args, str(missing))
    monkeypatch.setattr(inputs, "read_label_png", broken)
    args = ["--pred-dir", SCENES / "pred", *INPUTS, "--classes", 1, "--out", tmp_path / "b"]
    assert_bug(sessrs_t1_t2.main, args, ZeroDivisionError, "division by zero")


def test_the_pick_ends_bad_input_and_bugs_apart(tmp_path: Path, monkeypatch) -> None:
    sweep = tmp_path / "sweep.json"
    sweep.write_text("{}")
    args = ["--pred-dir", SCENES / "pred", *INPUTS, "--sweep", sweep, "--out", tmp_path / "out"]
    assert_bad_input(get_best_t1_t2.main, args, str(sweep), "missing key")
    monkeypatch.setattr(validate, "check_sweep", broken)
    assert_bug(get_best_t1_t2.main, args, ZeroDivisionError, "division by zero")
