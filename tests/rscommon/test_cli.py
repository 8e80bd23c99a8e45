"""Scripts end failures in one line and an exit status; --debug shows the traceback. A command line written from
values with the script's own parser parses back to them."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from rscommon.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, command_line, run_main
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


def small_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="small")
    parser.add_argument("--image", type=Path, required=True)
    parser.add_argument("-n", "--workers", type=int, default=1)
    parser.add_argument("--bands", nargs=3, type=int, default=[1, 2, 3])
    parser.add_argument("--pred-nodata", default="declared")
    parser.add_argument("--keep-parts", action="store_true")
    return parser


def test_a_command_line_from_values_parses_back_to_them() -> None:
    values = {"image": Path("a b.tif"), "workers": 3, "bands": (4, 2, 1), "pred_nodata": "none", "keep_parts": True}
    argv = command_line(small_parser(), values)
    expected = ["--image", "a b.tif", "--workers", "3", "--bands", "4", "2", "1", "--pred-nodata", "none"]
    assert argv == [*expected, "--keep-parts"]
    assert vars(small_parser().parse_args(argv)) == {**values, "bands": [4, 2, 1]}
    left_out = {"image": "x.tif", "workers": None, "keep_parts": False}
    assert command_line(small_parser(), left_out) == ["--image", "x.tif"]


def test_a_value_for_no_option_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="small has no option for pred, tiles"):
        command_line(small_parser(), {"image": "x.tif", "tiles": 2, "pred": "p.tif"})
