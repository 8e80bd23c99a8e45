"""Failures that are no input error still end in one line: out of memory (with what to lower), recursion depth, and
a library's warning raised as an error, whatever its message's line breaks."""

from __future__ import annotations

import warnings

import pytest

from rscommon.cli import EXIT_FAILED, run_main


def raising(error: BaseException):
    def main(argv: list[str]) -> int:
        raise error

    return main


def one_error_line(capsys: pytest.CaptureFixture) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return err


def test_memory_error_is_one_line_saying_how_to_lower_the_work(capsys: pytest.CaptureFixture) -> None:
    assert run_main(raising(MemoryError("Unable to allocate 4.47 GiB for an array")), []) == EXIT_FAILED
    err = one_error_line(capsys)
    assert err.startswith("error: out of memory (Unable to allocate 4.47 GiB for an array): lower the work")
    assert "fewer workers" in err and "pipeline/sessrs_scene.py" in err


def test_recursion_error_is_one_line_naming_what_happened(capsys: pytest.CaptureFixture) -> None:
    def recurse(argv: list[str]) -> int:
        return recurse(argv)

    assert run_main(recurse, []) == EXIT_FAILED
    assert one_error_line(capsys).startswith("error: Python's recursion limit reached (maximum recursion depth")


def test_a_library_warning_raised_as_an_error_is_one_line(capsys: pytest.CaptureFixture) -> None:
    def warns(argv: list[str]) -> int:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            warnings.warn(
                "Unsupported number of channels:\n    'channels >= 1'\nwhere\n    'channels' is 5",
                UserWarning,
                stacklevel=1,
            )
        return 0

    assert run_main(warns, []) == EXIT_FAILED
    assert one_error_line(capsys) == (
        "error: UserWarning: Unsupported number of channels: 'channels >= 1' where "
        "'channels' is 5 (run with --debug for the traceback)\n"
    )
