"""How every script of the project takes its paths and ends a failure: paths made absolute where they are given
(:func:`absolute_path`), a failure as one line on stderr naming the problem and a non-zero exit; and how code
that runs a script writes its command line (:func:`command_line`, from the script's own parser).

``--debug`` (accepted by every script that runs through :func:`run_main`) shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from .files import InputError
from .stopping import Stopped, stop_on_signals

DEBUG_FLAG = "--debug"
EXIT_BAD_INPUT = 2
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
INPUT_ERRORS = (InputError, FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError)
"""The project's own input errors and the operating system's refusals of a named file (exit 2). Any other
exception (a ValueError from a library included) is a bug: it exits 1 and names its type."""


def absolute_path(text: str) -> Path:
    """A path option made absolute against this process's working folder (an argparse ``type``): the tasks that
    take it to cluster workers, whose working folders are their own, name the same file."""
    return Path(text).absolute()


def command_line(parser: argparse.ArgumentParser, values: Mapping[str, object]) -> list[str]:
    """The arguments that give ``parser``'s options these ``values``, each keyed by its option's ``dest``
    (``pred_nodata`` for ``--pred-nodata``) and written with its long name, in the order given: ``None`` or
    ``False`` leaves the option out, ``True`` gives the flag alone, a list or tuple its items, anything else its
    ``str``. A key that names no option of ``parser`` is a bug (``ValueError``), caught where it is written."""
    options = {action.dest: max(action.option_strings, key=len) for action in parser._actions if action.option_strings}
    unknown = sorted(set(values) - set(options))
    if unknown:
        raise ValueError(f"{parser.prog} has no option for {', '.join(unknown)}")
    argv: list[str] = []
    for name, value in values.items():
        if value is None or value is False:
            continue
        argv.append(options[name])
        if isinstance(value, list | tuple):
            argv += [str(item) for item in value]
        elif value is not True:
            argv.append(str(value))
    return argv


def run_main(main: Callable[[list[str]], int | None], argv: Sequence[str] | None = None) -> int:
    """Run ``main(argv)`` and turn any exception into one ``error:`` line and an exit status.

    Bad input (missing or malformed files, invalid values) exits 2; any other failure exits 1 and names its type;
    an interrupt exits 130, SIGTERM 143, once worker processes and temporary files are gone (see
    :mod:`rscommon.stopping`). With ``--debug`` in ``argv`` the exception propagates with its traceback.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = DEBUG_FLAG in args
    args = [arg for arg in args if arg != DEBUG_FLAG]
    try:
        with stop_on_signals():
            return int(main(args) or 0)
    except KeyboardInterrupt as stop:
        if debug:
            raise
        how = "interrupted" if not isinstance(stop, Stopped) else str(stop)
        print(f"{how}: finished results are kept; run the same command again to continue", file=sys.stderr)
        return stop.exit_status if isinstance(stop, Stopped) else EXIT_INTERRUPTED
    except Exception as error:  # the one place where every failure becomes a message
        if debug:
            raise
        print(f"error: {describe(error)}", file=sys.stderr)
        return EXIT_BAD_INPUT if isinstance(error, INPUT_ERRORS) else EXIT_FAILED


def describe(error: BaseException) -> str:
    """The message of ``error`` on one line, prefixed with its type unless it is one of the input errors that name a
    file; running out of memory or of recursion depth is said as such, with what to do."""
    message = " ".join(str(error).split()) or type(error).__name__  # one line, whatever a library wrote
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        message = f"{error.filename}: {error.strerror}"
    if isinstance(error, INPUT_ERRORS):
        return message
    if isinstance(error, MemoryError):
        return (
            f"out of memory ({message}): lower the work of each process: fewer workers, smaller images (tile "
            f"large rasters with pipeline/sessrs_scene.py), fewer objects per image"
        )
    if isinstance(error, RecursionError):
        return (
            f"Python's recursion limit reached ({message}): some input is nested far deeper than this project's "
            f"files are (run with {DEBUG_FLAG} for the traceback)"
        )
    return f"{type(error).__name__}: {message} (run with {DEBUG_FLAG} for the traceback)"
