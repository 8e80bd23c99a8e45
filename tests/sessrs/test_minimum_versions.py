"""The declared dependency floors are real: a fresh environment with every core dependency at exactly its lower
bound (from pyproject's [project].dependencies) and the project installed runs the README's API example."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from readme_example import REPO, copy_sources, fresh_environment, run_example


def floors() -> list[str]:
    """Each core dependency pinned at its declared lower bound (``name>=X`` -> ``name==X``)."""
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    pinned = [re.sub(r"\s*>=\s*", "==", spec) for spec in dependencies]
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9.]+", spec) for spec in pinned), pinned
    return pinned


@pytest.mark.slow
def test_the_readme_example_runs_with_every_core_dependency_at_its_floor(tmp_path: Path) -> None:
    python, pip = fresh_environment(tmp_path / "venv")
    if subprocess.run([*pip, "index", "versions", "tqdm"], capture_output=True, timeout=60).returncode != 0:
        pytest.skip("pip cannot reach the package index")
    install = subprocess.run(
        [*pip, "install", "--only-binary=:all:", *floors()], capture_output=True, text=True, timeout=600
    )
    assert install.returncode == 0, install.stderr
    project = subprocess.run(
        [*pip, "install", "--no-deps", str(copy_sources(tmp_path / "source"))],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert project.returncode == 0, project.stderr
    result = run_example(python, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == run_example(Path(sys.executable), tmp_path).stdout
