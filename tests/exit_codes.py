"""How a stage's command ends a failure, run in-process through :func:`rscommon.cli.run_main`: bad input exits 2
with one ``error:`` line naming the file; an internal bug exits 1 with one line naming its type, and its traceback
only with ``--debug``."""

from __future__ import annotations

import contextlib
import importlib.util
import io
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from rscommon.cli import EXIT_BAD_INPUT, EXIT_FAILED, run_main

Main = Callable[[list[str]], int | None]


def load_script(path: Path) -> ModuleType:
    """A stage's script imported as a module under a name of its own (GeoSeg's ``test.py`` is no test module)."""
    spec = importlib.util.spec_from_file_location(f"script_{path.parent.name}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def error_lines(main: Main, args: list) -> tuple[int, list[str], str]:
    """Run ``main`` as its script does: the exit status, the ``error:`` lines and everything on stderr."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = run_main(main, [str(arg) for arg in args])
    text = stderr.getvalue()
    return code, [line for line in text.splitlines() if line.startswith("error:")], text


def assert_bad_input(main: Main, args: list, *named: str) -> None:
    """Exit 2 with one ``error:`` line holding each of ``named`` (the file and what is wrong), no traceback."""
    code, errors, text = error_lines(main, args)
    assert code == EXIT_BAD_INPUT and len(errors) == 1, text
    assert all(part in errors[0] for part in named), (named, errors)
    assert "Traceback" not in text


def assert_bug(main: Main, args: list, error: type[BaseException], message: str) -> None:
    """Exit 1 with one line naming ``error``'s type, its ``message`` and ``--debug``, no traceback; with ``--debug``
    the error itself comes through (the interpreter prints its traceback)."""
    code, errors, text = error_lines(main, args)
    assert code == EXIT_FAILED and len(errors) == 1, text
    assert errors[0].startswith(f"error: {error.__name__}: {message}") and "--debug" in errors[0], errors
    assert "Traceback" not in text
    with (
        pytest.raises(error, match=message),
        contextlib.redirect_stderr(io.StringIO()),
        contextlib.redirect_stdout(io.StringIO()),
    ):
        run_main(main, [*map(str, args), "--debug"])
