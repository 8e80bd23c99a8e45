"""The documentation stays true to the tree: every relative link of every Markdown file resolves (to a file, and
to a heading when it names one), every repository script a document tells people to run answers ``--help``, and
the README's test command is the one CI runs (``make test``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from repository import REPO, python_path

MARKDOWN_PATTERNS = (
    "README.md",
    "CONTRIBUTING.md",
    "docs/**/*.md",
    "*/README.md",
    "*/*/README.md",
    "tests/fixtures/*/README.md",
)
HELP_TIMEOUT = 240

FENCE = re.compile(r"^(\s*)(```|~~~)(.*)$")
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
COMMAND = re.compile(r"(?:^|[\s;&|(`])(?:\S*/)?python3?(?:\.\d+)?\s+(?:-\S+\s+)*([\w./-]+\.py)\b")
SHELL_LANGUAGES = {"", "bash", "sh", "shell", "console", "zsh"}


def markdown_files() -> list[Path]:
    found: set[Path] = set()
    for pattern in MARKDOWN_PATTERNS:
        found.update(p for p in REPO.glob(pattern) if p.is_file() and not _ignored(p))
    return sorted(found)


def _ignored(path: Path) -> bool:
    parts = path.relative_to(REPO).parts
    return any(part.startswith(".") or part in {"outputs", "build", "dist", "node_modules"} for part in parts)


def blocks(text: str) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """The prose lines (code blocks removed) and the fenced code blocks (language, lines) of a Markdown text."""
    prose, code, current, language = [], [], None, ""
    for line in text.splitlines():
        fence = FENCE.match(line)
        if fence and current is None:
            current, language = [], fence.group(3).strip().lower()
        elif fence and current is not None:
            code.append((language, current))
            current = None
        elif current is not None:
            current.append(line)
        else:
            prose.append(line)
    return prose, code


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: link targets and emphasis dropped, lower case, punctuation removed, spaces
    to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip())
    text = text.lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    prose, _ = blocks(path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    found = set()
    for line in prose:
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, target) of every link and image of the prose, code spans left out."""
    text = path.read_text(encoding="utf-8")
    in_code = False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            in_code = not in_code
            continue
        if in_code:
            continue
        for match in LINK.finditer(CODE_SPAN.sub("", line)):
            yield number, match.group(1)


def is_external(target: str) -> bool:
    return bool(re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE))


def broken_links() -> list[str]:
    problems = []
    for doc in markdown_files():
        where = doc.relative_to(REPO)
        for number, target in links(doc):
            if is_external(target):
                continue
            file_part, _, anchor = target.partition("#")
            destination = (doc.parent / file_part).resolve() if file_part else doc
            relative = _relative(destination)
            if relative is None:
                problems.append(f"{where}:{number}: {target} points outside the repository")
                continue
            if not destination.exists():
                problems.append(f"{where}:{number}: {target}: no such file {relative}")
                continue
            if anchor and destination.suffix == ".md" and anchor not in anchors(destination):
                problems.append(f"{where}:{number}: {target}: {relative} has no heading #{anchor}")
    return problems


def _relative(path: Path) -> str | None:
    try:
        return path.relative_to(REPO).as_posix()
    except ValueError:
        return None


def test_every_relative_link_resolves() -> None:
    problems = broken_links()
    assert not problems, "broken links:\n" + "\n".join(problems)


def documented_scripts() -> dict[Path, tuple[Path, str]]:
    """Every repository script a document runs, in a shell code block (following its ``cd`` lines) or in a code
    span of the prose: script -> (folder to run it from, where it is named)."""
    scripts: dict[Path, tuple[Path, str]] = {}
    for doc in markdown_files():
        where = doc.relative_to(REPO).as_posix()
        prose, code = blocks(doc.read_text(encoding="utf-8"))
        commands = [(REPO, span) for text in prose for _, span in CODE_SPAN.findall(text)]
        for language, lines in code:
            if language not in SHELL_LANGUAGES:
                continue
            folder = REPO
            for line in lines:
                for step in re.findall(r"(?:^|&&|;)\s*cd\s+([^\s;&]+)", line):
                    folder = (folder / step).resolve()
                commands.append((folder, line))
        for folder, line in commands:
            for name in COMMAND.findall(line):
                script = (folder / name).resolve()
                for base in (doc.parent, REPO):  # a folder's README may run its scripts from that folder
                    if not script.is_file() and (base / name).is_file():
                        script, folder = (base / name).resolve(), base
                scripts.setdefault(script, (folder, f"{where}: {line.strip()}"))
    return scripts


def run_help(script: Path, folder: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": python_path()}
    environment.setdefault("MPLBACKEND", "Agg")
    return subprocess.run(
        [sys.executable, str(script), "--help"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=HELP_TIMEOUT,
        env=environment,
        check=False,
    )


def test_every_documented_script_answers_help() -> None:
    scripts = documented_scripts()
    missing = [f"{origin}: {script} does not exist" for script, (_, origin) in scripts.items() if not script.is_file()]
    assert not missing, "documents run scripts that are not there:\n" + "\n".join(missing)
    outside = [f"{origin}: {script}" for script, (_, origin) in scripts.items() if _relative(script) is None]
    assert not outside, "documents run scripts outside the repository:\n" + "\n".join(outside)
    assert len(scripts) >= 10, f"only {len(scripts)} scripts found in the documents: is the parsing broken?"
    with ThreadPoolExecutor(max_workers=max(2, min(6, (os.cpu_count() or 2) * 2))) as pool:
        results = dict(zip(scripts, pool.map(lambda item: run_help(item[0], item[1][0]), scripts.items())))
    failed = [
        f"{origin}\n  {_relative(script)} --help exited {result.returncode}: "
        f"{(result.stderr or result.stdout).strip().splitlines()[-1:]}"
        for script, (_, origin) in scripts.items()
        for result in [results[script]]
        if result.returncode
    ]
    assert not failed, "scripts named in the documents fail --help:\n" + "\n".join(failed)


def test_the_readme_test_command_is_make_test() -> None:
    _, code = blocks((REPO / "README.md").read_text(encoding="utf-8"))
    commands = [
        line.split("#", 1)[0].strip() for language, lines in code if language in SHELL_LANGUAGES for line in lines
    ]
    assert "make test" in commands, "the README's commands do not include `make test`"
    assert "make demo" in commands, "the README's commands do not include `make demo`"
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^test:.*\n\t.*-m pytest", makefile, re.MULTILINE), "`make test` does not run pytest"
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^make test\s*$", ci, re.MULTILINE), "CI (.ci/run) does not run the README's `make test`"


@pytest.mark.parametrize(
    "heading, expected",
    [
        ("Step 6: painting", "step-6-painting"),
        ("Choosing by cross-validation (`--select cv`)", "choosing-by-cross-validation---select-cv"),
        ("What the figures mean: two protocols", "what-the-figures-mean-two-protocols"),
    ],
)
def test_anchor_slugs_follow_github(heading: str, expected: str) -> None:
    assert slug(heading) == expected


def test_the_algorithm_figures_are_drawn_and_the_worked_example_says_what_the_code_does(tmp_path: Path) -> None:
    """docs/algorithm.md's worked example quotes the figures script's numbers; they must stay true."""
    sys.path.insert(0, str(REPO / "docs" / "figures"))
    try:
        import make_algorithm_figures as figures
    finally:
        sys.path.remove(str(REPO / "docs" / "figures"))
    result = figures.walk_through()
    assert list(result["instance_size"]) == [68, 27, 15, 1, 33]
    assert list(result["object_class"]) == [1, -1] and list(result["object_area"]) == [49, 36]
    assert result["replaced"] == [(1, (0,))], "p1 becomes the roof object s0, nothing else is replaced"
    assert int((result["refined"] != result["pred"]).sum()) == 13
    assert int((result["refined_neighbourhood"] != result["refined"]).sum()) == 6
    written = figures.draw(result, tmp_path)
    drawn_elsewhere = ["object_quality.png"]  # by SESSRS/benchmarks/object_quality.py --figure
    committed = sorted(p.name for p in (REPO / "docs" / "figures").glob("*.png"))
    assert sorted([*(p.name for p in written), *drawn_elsewhere]) == committed
