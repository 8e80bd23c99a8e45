"""The README's API example, run by a given Python: the tests of the wheel and of the minimum versions share it."""

from __future__ import annotations

import re
import subprocess
import sys
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def readme_example() -> str:
    """The first Python block under the README's heading 'Use it as a library'."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Use it as a library", 1)
    assert len(section) == 2, "README.md has no '## Use it as a library' section"
    match = re.search(r"```python\n(.*?)```", section[1], re.S)
    assert match, "the library section has no ```python block"
    return match.group(1)


def run_example(python: Path, folder: Path) -> subprocess.CompletedProcess:
    """Run the example with ``python`` in ``folder``."""
    script = folder / "readme_example.py"
    script.write_text(readme_example(), encoding="utf-8")
    return subprocess.run([str(python), str(script)], cwd=folder, capture_output=True, text=True, timeout=300)


def fresh_environment(folder: Path) -> tuple[Path, list[str]]:
    """A virtual environment in ``folder`` without pip of its own: its Python, and this Python's pip installing into
    it (``pip --python``), which spares the seconds ``ensurepip`` takes."""
    venv.create(folder)
    python = folder / "bin" / "python"
    return python, [sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check", "--quiet"]


SOURCES = (
    "pyproject.toml",
    "README.md",
    "common",
    "GeoSeg/geoseg",
    "SAM/sam_objects",
    "SESSRS/sessrs",
    "pipeline/rspipeline",
)
"""What building the package reads."""


def copy_sources(target: Path) -> Path:
    """A copy of what building the package reads, in ``target`` (a build never writes into the checkout)."""
    import shutil

    for name in SOURCES:
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy2
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        copy(REPO / name, target / name)
    return target
