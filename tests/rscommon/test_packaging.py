"""pyproject.toml declares what the code needs; the two requirement files (the reference's habit) agree with it."""

from __future__ import annotations

from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parents[2]


def requirement_lines(path: Path) -> set[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return {line for line in lines if line}


def project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_requirement_files_equal_core_plus_their_extras() -> None:
    core, extras = set(project()["dependencies"]), project()["optional-dependencies"]
    assert requirement_lines(REPO / "requirements_GeoSeg.txt") == core | set(extras["geoseg"]) | set(extras["pipeline"])
    assert requirement_lines(REPO / "requirements_SAM.txt") == core | set(extras["sam"])


def test_the_core_is_light_and_the_extras_are_the_documented_ones() -> None:
    names = {requirement.split(">")[0].split("=")[0] for requirement in project()["dependencies"]}
    assert names == {"numpy", "opencv-python-headless", "pycocotools", "pillow", "scipy", "tqdm", "matplotlib"}
    assert {"geoseg", "sam", "scale", "test"} <= set(project()["optional-dependencies"])
