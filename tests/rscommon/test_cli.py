"""Scripts end failures in one line and an exit status; --debug shows the traceback."""

from __future__ import annotations

import pytest

from rscommon.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, run_main
from rscommon.files import InputError


def failing(error: BaseException):
    def main(argv: list[str]) -> int:
        raise error

    return main


def test_bad_input_is_one_line_and_exit_2(capsys: pytest.CaptureFixture) -> None:
    assert run_main(failing(InputError("a.json: malformed JSON")), []) == EXIT_BAD_INPUT
    assert capsys.readouterr().err == "error: a.json: malformed JSON\n"


def test_an_os_error_names_its_file(capsys: pytest.CaptureFixture) -> None:
    assert run_main(failing(PermissionError(13, "Permission denied", "/out/x.png")), []) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith("error: /out/x.png: ") and err.count("\n") == 1


def test_an_unexpected_error_names_its_type_and_debug(capsys: pytest.CaptureFixture) -> None:
    assert run_main(failing(RuntimeError("boom")), []) == EXIT_FAILED
    err = capsys.readouterr().err
    assert "RuntimeError: boom" in err and "--debug" in err and "Traceback" not in err


def test_debug_lets_the_traceback_through_and_is_not_passed_on() -> None:
    seen = []

    def main(argv: list[str]) -> int:
        seen.append(argv)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        run_main(main, ["--debug", "-x"])
    assert seen == [["-x"]]


def test_interrupt_and_success(capsys: pytest.CaptureFixture) -> None:
    assert run_main(failing(KeyboardInterrupt()), []) == EXIT_INTERRUPTED
    assert "run the same command again" in capsys.readouterr().err
    assert run_main(lambda argv: None, []) == 0
