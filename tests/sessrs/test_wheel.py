"""``import sessrs`` as a library: the README's API example runs here and from the built wheel installed into a
fresh virtual environment with the core dependencies only (no torch, no GeoSeg or SAM libraries)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from readme_example import copy_sources, fresh_environment, run_example


def test_the_readme_example_runs(tmp_path: Path) -> None:
    result = run_example(Path(sys.executable), tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), "the example prints what it did"


@pytest.mark.slow
def test_the_wheel_installs_with_core_dependencies_only_and_runs_the_example(tmp_path: Path) -> None:
    source = copy_sources(tmp_path / "source")
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(wheels), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("sessrs-*.whl")
    python, pip = fresh_environment(tmp_path / "venv")
    install = subprocess.run([*pip, "install", str(wheel)], capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr
    probe = subprocess.run(
        [str(python), "-c", "import importlib.util as u; print(u.find_spec('torch') is None)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "True", "the core install pulled in torch"
    result = run_example(python, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == run_example(Path(sys.executable), tmp_path).stdout
