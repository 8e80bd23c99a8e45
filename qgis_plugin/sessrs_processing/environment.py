"""Where SESSRS lives for the plugin: its repository and the Python of its environment, and what its commands accept.

The plugin imports nothing of the project: it runs the project's commands with the project's Python. The choices
the algorithms offer (object sources, datasets, searches, ...) are read from the commands' own ``--help``, and the
published presets from ``sessrs.presets()`` run in that Python, so a source or preset added to the project shows up
here without a change to the plugin. Plain Python (no QGIS): the provider passes the Processing settings in.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PYTHON_VARIABLE = "SESSRS_PYTHON"
HOME_VARIABLE = "SESSRS_HOME"
SETTINGS_PLACE = "Settings > Options > Processing > Providers > SESSRS"
SCENE_SCRIPT = "pipeline/sessrs_scene.py"
TUNE_SCRIPT = "pipeline/sessrs_tune.py"
SOURCE_FOLDERS = ("common", "GeoSeg", "SAM", "SESSRS", "pipeline")
"""The repository's folders holding its packages (pyproject.toml's package folders)."""
DESCRIBE_TIMEOUT = 120.0
"""Seconds a ``--help`` or the preset listing may take (the first import of a fresh environment is slow)."""
# The presets through the project's public API (README's "Thresholds someone published"), with the dataset each is
# for: the refine-with-a-preset algorithm takes the dataset from the preset.
_PRESETS_CODE = (
    "import json, sessrs; from sessrs.presets import read_preset; "
    "print(json.dumps({name: {'description': text, 'dataset': read_preset(name).dataset} "
    "for name, text in sessrs.presets().items()}))"
)
_CHOICES = re.compile(r"(--[\w-]+)\s+\{([^}]*)\}")


class EnvironmentMissing(Exception):
    """SESSRS's repository or Python cannot be found or does not answer; the message says what to set."""


@dataclass(frozen=True)
class Environment:
    """The repository (its ``pipeline/`` commands) and the Python that runs them."""

    python: Path
    home: Path

    def command(self, script: str, args: list[str]) -> list[str]:
        """The argument vector running ``script`` (a path inside the repository) with ``args``."""
        return [str(self.python), str(self.home / script), *args]

    def variables(self) -> dict[str, str]:
        """The environment variables of a run: ours without the host's Python home (QGIS may set its own), the
        repository's source folders as the Python path (its code runs, however the environment installed it), and
        unbuffered output so the progress arrives as it is made."""
        variables = {key: value for key, value in os.environ.items() if key != "PYTHONHOME"}
        variables["PYTHONPATH"] = os.pathsep.join(str(self.home / folder) for folder in SOURCE_FOLDERS)
        variables["PYTHONUNBUFFERED"] = "1"
        return variables


def plugin_repository() -> Path:
    """The repository the plugin folder sits in (``<repo>/qgis_plugin/sessrs_processing``), links followed."""
    return Path(__file__).resolve().parents[2]


def venv_python(home: Path) -> Path:
    """The Python of the repository's own ``.venv`` (what ``make test`` creates)."""
    return home / ".venv" / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def find_environment(python_setting: str = "", home_setting: str = "") -> Environment:
    """The environment the settings name, else ``$SESSRS_PYTHON`` / ``$SESSRS_HOME``, else the repository holding
    the plugin and its ``.venv``; :class:`EnvironmentMissing` says what to set when one is not found."""
    home_text = home_setting or os.environ.get(HOME_VARIABLE, "")
    home = Path(home_text).expanduser() if home_text else plugin_repository()
    if not (home / SCENE_SCRIPT).is_file():
        where = f"{HOME_VARIABLE}={home_text}" if home_text else f"the plugin's location ({home})"
        raise EnvironmentMissing(
            f"SESSRS repository not found: {where} holds no {SCENE_SCRIPT}; set the SESSRS repository folder in "
            f"{SETTINGS_PLACE}, or the environment variable {HOME_VARIABLE}"
        )
    python_text = python_setting or os.environ.get(PYTHON_VARIABLE, "")
    python = Path(python_text).expanduser() if python_text else venv_python(home)
    if not python.is_file():
        where = f"{PYTHON_VARIABLE}={python_text}" if python_text else f"{python} (the repository's .venv)"
        raise EnvironmentMissing(
            f"SESSRS's Python not found: {where} is no file; set the Python of the environment where SESSRS is "
            f"installed in {SETTINGS_PLACE}, or the environment variable {PYTHON_VARIABLE}"
        )
    return Environment(python=python, home=home)


def _answer(environment: Environment, command: list[str]) -> str:
    """What ``command`` prints; :class:`EnvironmentMissing` with its last line when it fails."""
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=DESCRIBE_TIMEOUT,
            cwd=environment.home,
            env=environment.variables(),
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise EnvironmentMissing(f"{environment.python} did not answer: {error}") from error
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines() or [f"exit status {done.returncode}"]
        raise EnvironmentMissing(f"{' '.join(command[:2])} failed: {lines[-1]}")
    return done.stdout


def parse_choices(usage: str) -> dict[str, list[str]]:
    """Option -> its allowed values, from an argparse usage text (``--objects {regions,sam}``; line breaks allowed
    between an option and its values)."""
    return {option: values.split(",") for option, values in _CHOICES.findall(usage)}


@lru_cache(maxsize=8)
def command_choices(environment: Environment, script: str) -> dict[str, list[str]]:
    """The values each choice option of ``script`` allows, from its ``--help`` (asked once per environment)."""
    return parse_choices(_answer(environment, environment.command(script, ["--help"])))


@lru_cache(maxsize=8)
def published_presets(environment: Environment) -> dict[str, dict[str, str]]:
    """``sessrs.presets()`` of the environment: name -> its description and dataset (asked once per environment)."""
    return json.loads(_answer(environment, [str(environment.python), "-c", _PRESETS_CODE]))
