"""``import sessrs`` as a library: the README's API example runs here and from the built wheel installed into a
fresh virtual environment with the core dependencies only (no torch, no GeoSeg or SAM libraries)."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "common", "GeoSeg/geoseg", "SAM/sam_objects", "SESSRS/sessrs",
           "pipeline/rspipeline")


def readme_example() -> str:
    """The first Python block under the README's heading 'Use it as a library'."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Use it as a library", 1)
    assert len(section) == 2, "README.md has no '## Use it as a library' section"
    match = re.search(r"```python\n(.*?)```", section[1], re.S)
    assert match, "the library section has no ```python block"
    return match.group(1)


def run_example(python: Path, folder: Path) -> subprocess.CompletedProcess:
    script = folder / "readme_example.py"
    script.write_text(readme_example(), encoding="utf-8")
    return subprocess.run([str(python), str(script)], cwd=folder, capture_output=True, text=True, timeout=300)


def test_the_readme_example_runs(tmp_path: Path) -> None:
    result = run_example(Path(sys.executable), tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), "the example prints what it did"


@pytest.mark.slow
def test_the_wheel_installs_with_core_dependencies_only_and_runs_the_example(tmp_path: Path) -> None:
    source = tmp_path / "source"
    for name in SOURCES:
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy2
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        copy(REPO / name, source / name)
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(wheels), str(source)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = wheels.glob("sessrs-*.whl")
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    python = environment / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(wheel)],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr
    probe = subprocess.run([str(python), "-c", "import importlib.util as u; print(u.find_spec('torch') is None)"],
                           capture_output=True, text=True, check=True)
    assert probe.stdout.strip() == "True", "the core install pulled in torch"
    result = run_example(python, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == run_example(Path(sys.executable), tmp_path).stdout
