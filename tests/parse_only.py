"""Run scripts only as far as their argument parsers: ``python parse_only.py`` reads, on standard input, a JSON list
of jobs ``{"script": PATH, "folder": PATH, "lines": [[ARGUMENT, ...], ...]}`` and prints, as JSON, one verdict per
job: every option the script's parsers define and, per command line, argparse's verdict: ``[0, ""]`` when it accepts
the line, ``[2, "the error"]`` when it does not, ``[1, "the error"]`` when the script fails before parsing.

Every script runs in this one process (the libraries they share are imported once), each from its job's folder,
as ``__main__`` up to its ``parse_args`` call, which parses and then stops it, so nothing of its work is done; a
script that runs through ``rscommon.cli.run_main`` also takes ``--debug``. Documents write placeholders for values
(``PRED``, ``N``, ``OUT.tif``, ``preset:NAME``): a value holding a capitalised word passes every type and choice
check. A command line holding ``...`` is a fragment: its required arguments are not asked for, its options are
still checked.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import runpy
import sys

import rscommon.cli

PLACEHOLDER = re.compile(r"(?<![A-Za-z])[A-Z][A-Z0-9_]*(?![a-z])")
FRAGMENT = ("...", "…")

_parse_args = argparse.ArgumentParser.parse_args
_get_value = argparse.ArgumentParser._get_value
_check_value = argparse.ArgumentParser._check_value
_add_argument = argparse._ActionsContainer.add_argument
_run_main = rscommon.cli.run_main
OPTIONS: set[str] = set()
PARTIAL = {"on": False}


def _lenient_get_value(self, action, value):  # noqa: ANN001, ANN202 - argparse's private signature
    return value if PLACEHOLDER.search(value) else _get_value(self, action, value)


def _lenient_check_value(self, action, value):  # noqa: ANN001, ANN202
    if isinstance(value, str) and PLACEHOLDER.search(value):
        return None
    return _check_value(self, action, value)


def _recording_add_argument(self, *names, **kwargs):  # noqa: ANN002, ANN003, ANN202
    OPTIONS.update(name for name in names if isinstance(name, str) and name.startswith("-"))
    return _add_argument(self, *names, **kwargs)


def _parse_and_stop(self, args=None, namespace=None):  # noqa: ANN001, ANN202
    if PARTIAL["on"]:
        for action in self._actions:
            action.required = False
    _parse_args(self, args, namespace)
    raise SystemExit(0)


def _recording_run_main(main, argv=None):  # noqa: ANN001, ANN202
    OPTIONS.add(rscommon.cli.DEBUG_FLAG)  # run_main takes it before the script's parser sees the arguments
    return _run_main(main, argv)


def verdicts(script: str, command_lines: list[list[str]]) -> dict:
    """The options ``script`` defines and argparse's verdict on each command line."""
    argparse.ArgumentParser.parse_args = _parse_and_stop
    argparse.ArgumentParser._get_value = _lenient_get_value
    argparse.ArgumentParser._check_value = _lenient_check_value
    argparse._ActionsContainer.add_argument = _recording_add_argument
    rscommon.cli.run_main = _recording_run_main
    OPTIONS.clear()
    results = []
    for arguments in command_lines:
        PARTIAL["on"] = any(token in FRAGMENT for token in arguments)
        sys.argv = [script, *(token for token in arguments if token not in FRAGMENT)]
        errors, output = io.StringIO(), io.StringIO()
        code, failure = None, ""
        with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(output):
            try:
                runpy.run_path(script, run_name="__main__")
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
            except Exception as error:  # the script failed before its parser stopped it: its verdict, not ours
                code, failure = 1, f"{type(error).__name__}: {error}"
        if code is None:
            results.append([1, "the script ended without parsing its arguments"])
        else:
            lines = (failure or errors.getvalue()).strip().splitlines()
            results.append([code, lines[-1] if lines else ""])
    return {"options": sorted(OPTIONS), "results": results}


def run_jobs(jobs: list[dict]) -> list[dict]:
    """:func:`verdicts` of each job, run from its folder; what a script adds to ``sys.path`` is undone after it."""
    answers = []
    for job in jobs:
        path = list(sys.path)
        os.chdir(job["folder"])
        try:
            answers.append(verdicts(job["script"], job["lines"]))
        finally:
            sys.path[:] = path
    return answers


if __name__ == "__main__":
    print(json.dumps(run_jobs(json.load(sys.stdin))))
