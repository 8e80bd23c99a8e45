"""The floors of the project: the ground floor imports no stage, a stage imports no other stage, nothing imports
the top floor, the QGIS plugin above it imports nothing of the project, and no import cycle joins two packages.
Scripts (every other ``.py`` of a package's folder: the stage's commands, tools, configs and benchmarks) stand on
their folder's floor: they import their own package and the floors below it. Read from the source with ``ast``,
nothing imported."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {  # package -> (folder, floor)
    "rscommon": ("common", 0),
    "geoseg": ("GeoSeg", 1),
    "sam_objects": ("SAM", 1),
    "sessrs": ("SESSRS", 1),
    "rspipeline": ("pipeline", 2),
    "sessrs_processing": ("qgis_plugin", 3),  # the QGIS plugin: it runs the commands, and imports nothing of these
}
RUNS_COMMANDS_ONLY = ("sessrs_processing",)


def imported_packages(path: Path, package: str) -> set[str]:
    """The project packages that the module at ``path`` (inside ``package``) imports, itself excluded."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {name.split(".")[0] for name in names}
    return (found & set(PACKAGES)) - {package}


def modules_of(package: str) -> list[Path]:
    """The package's own modules."""
    folder = PACKAGES[package][0]
    return sorted((REPO / folder / package).rglob("*.py"))


def scripts_of(package: str) -> list[Path]:
    """Every other ``.py`` of the package's folder: its scripts, tools, configs and benchmarks."""
    folder = PACKAGES[package][0]
    return sorted(path for path in (REPO / folder).rglob("*.py") if (REPO / folder / package) not in path.parents)


def import_graph(files_of: Callable[[str], list[Path]]) -> dict[str, dict[str, set[Path]]]:
    """package -> imported package -> the files (``files_of(package)``) that import it."""
    graph: dict[str, dict[str, set[Path]]] = {package: {} for package in PACKAGES}
    for package in PACKAGES:
        for path in files_of(package):
            for other in imported_packages(path, package):
                graph[package].setdefault(other, set()).add(path.relative_to(REPO))
    return graph


def upward_imports(package: str, files_of: Callable[[str], list[Path]]) -> dict[str, list[str]]:
    """The packages on ``package``'s floor or above that its files import, with the files that do."""
    floor = PACKAGES[package][1]
    return {
        other: sorted(map(str, files))
        for other, files in import_graph(files_of)[package].items()
        if PACKAGES[other][1] >= floor
    }


def test_every_package_is_where_the_floors_say() -> None:
    for package, (folder, _) in PACKAGES.items():
        assert (REPO / folder / package / "__init__.py").is_file(), f"{folder}/{package} is missing"


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_import_goes_up_or_sideways(package: str) -> None:
    wrong = upward_imports(package, modules_of)
    assert not wrong, f"{package} (floor {PACKAGES[package][1]}) imports packages on its own floor or above: {wrong}"


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_scripts_stand_on_their_folders_floor(package: str) -> None:
    wrong = upward_imports(package, scripts_of)
    assert not wrong, f"scripts of {PACKAGES[package][0]}/ import packages on its floor or above: {wrong}"


@pytest.mark.parametrize("package", RUNS_COMMANDS_ONLY)
def test_the_qgis_plugin_imports_nothing_of_the_project(package: str) -> None:
    """The plugin runs in QGIS's Python, where the project is not installed: it only starts the project's commands
    in the project's environment."""
    found = {str(path.relative_to(REPO)): imported_packages(path, package) for path in modules_of(package)}
    assert found and not any(found.values()), f"{package} imports project packages: {found}"


def test_the_script_check_sees_the_old_scene_script(tmp_path: Path) -> None:
    """A script of SESSRS/ that imports the top floor, as the scene command once did, is a violation."""
    script = tmp_path / "sessrs_scene.py"
    script.write_text("from rscommon.cli import run_main\nfrom rspipeline.scene_cli import main\n")
    assert imported_packages(script, "sessrs") == {"rscommon", "rspipeline"}
    assert PACKAGES["rspipeline"][1] >= PACKAGES["sessrs"][1]


def test_no_cycle_between_packages() -> None:
    graph = {package: set(imports) for package, imports in import_graph(modules_of).items()}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})) for nxt in graph[start])

    cycles = [package for package in graph if reaches(package, package, {package})]
    assert not cycles, f"packages on an import cycle: {cycles}"


def test_the_check_sees_a_violation(tmp_path: Path) -> None:
    """The parser finds absolute imports of project packages, and ignores relative and third-party ones."""
    module = tmp_path / "m.py"
    module.write_text("import numpy\nfrom . import x\nfrom sessrs.steps import refine\nimport geoseg.models\n")
    assert imported_packages(module, "rscommon") == {"sessrs", "geoseg"}
