"""The documentation stays true to the tree: every relative link of every Markdown file resolves (to a file, and
to a heading when it names one), every repository script a document tells people to run answers ``--help`` and its
own parser accepts every command line the documents write, every option the prose names exists in a script the
document names, and the README's test command is the one CI runs (``make test``)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
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
PARSE_TIMEOUT = 300  # seconds for every documented script's parser, all in one process

FENCE = re.compile(r"^(\s*)(```|~~~)(.*)$")
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
OPTIONAL = re.compile(r"\[([^\[\]]*)\]")
PYTHON = re.compile(r"(?:\S*/)?python3?(?:\.\d+)?")
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


def command_lines(text: str) -> Iterator[str]:
    """The shell commands of a text: continuation lines joined, comments dropped, optional parts written
    ``[...]`` taken (their first alternative), split at ``&&``, ``||``, ``;`` and ``|``."""
    joined = re.sub(r"\\\n\s*", " ", text)
    for line in joined.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line)
        line = OPTIONAL.sub(lambda optional: optional.group(1).split("|")[0], line)  # [--a X | --b] -> --a X
        yield from (part.strip() for part in re.split(r"&&|\|\||;|\|", line) if part.strip())


def python_call(command: str) -> tuple[str, list[str]] | None:
    """``(script, arguments)`` of a command that runs a repository script with Python, or None."""
    try:
        tokens = shlex.split(command)
    except ValueError:
        return None
    for index, token in enumerate(tokens):
        if PYTHON.fullmatch(token):
            rest = tokens[index + 1 :]
            while rest and rest[0].startswith("-") and not rest[0].endswith(".py"):
                if rest[0] == "-m":
                    return None
                rest = rest[1:]
            if rest and rest[0].endswith(".py"):
                arguments = [t for t in rest[1:] if not re.match(r"^\d?>|^<|^2>&1$", t)]
                return rest[0], arguments
            return None
    return None


@dataclass(frozen=True)
class DocumentedCommand:
    folder: Path
    arguments: tuple[str, ...]
    origin: str


def documented_commands(docs: Sequence[Path] | None = None) -> dict[Path, list[DocumentedCommand]]:
    """Every repository script a document runs, in a shell code block (following its ``cd`` lines) or in a code
    span of the prose, with the command lines it is run with: script -> commands."""
    scripts: dict[Path, list[DocumentedCommand]] = {}
    for doc in markdown_files() if docs is None else docs:
        where = _relative(doc) or str(doc)
        prose, code = blocks(doc.read_text(encoding="utf-8"))
        commands = [(REPO, span) for text in prose for _, span in CODE_SPAN.findall(text)]
        for language, lines in code:
            if language not in SHELL_LANGUAGES:
                continue
            folder = REPO
            for line in command_lines("\n".join(lines)):
                for step in re.findall(r"^\s*cd\s+([^\s;&]+)", line):
                    folder = (folder / step).resolve()
                commands.append((folder, line))
        for folder, text in commands:
            for line in command_lines(text):
                call = python_call(line)
                if call is None:
                    continue
                name, arguments = call
                script, base_folder = (folder / name).resolve(), folder
                for base in (doc.parent, REPO):  # a folder's README may run its scripts from that folder
                    if not script.is_file() and (base / name).is_file():
                        script, base_folder = (base / name).resolve(), base
                scripts.setdefault(script, []).append(
                    DocumentedCommand(base_folder, tuple(arguments), f"{where}: {line.strip()}")
                )
    return scripts


def all_verdicts(scripts: dict[Path, Sequence[DocumentedCommand]]) -> dict[Path, dict]:
    """The options each script defines, and its parser's verdict on ``--help`` and on each documented command line:
    every script in one process (tests/parse_only.py), so the libraries they share are imported once."""
    environment = {**os.environ, "PYTHONPATH": python_path()}
    environment.setdefault("MPLBACKEND", "Agg")
    jobs = [
        {
            "script": str(script),
            "folder": str(commands[0].folder if commands else REPO),
            "lines": [["--help"], *(list(command.arguments) for command in commands)],
        }
        for script, commands in scripts.items()
    ]
    result = subprocess.run(
        [sys.executable, str(REPO / "tests" / "parse_only.py")],
        cwd=REPO,
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        timeout=PARSE_TIMEOUT,
        env=environment,
        check=False,
    )
    assert result.returncode == 0, f"tests/parse_only.py exited {result.returncode}: {result.stderr[-2000:]}"
    return dict(zip(scripts, json.loads(result.stdout)))


def command_problems(scripts: dict[Path, list[DocumentedCommand]], verdicts: dict[Path, dict]) -> list[str]:
    """Documented command lines their script's parser refuses (unknown or missing options, wrong choices), and
    scripts that do not answer ``--help``."""
    problems = []
    for script, commands in scripts.items():
        (help_code, help_error), *results = verdicts[script]["results"]
        if help_code:
            problems.append(f"{commands[0].origin}\n  {_relative(script)} --help exited {help_code}: {help_error}")
        for command, (code, error) in zip(commands, results):
            if code:
                problems.append(f"{command.origin}\n  refused by its parser: {error}")
    return problems


@dataclass(frozen=True)
class NamedOption:
    option: str
    scripts: tuple[Path, ...]
    origin: str


def named_options(doc: Path) -> list[NamedOption]:
    """Every option a document names in its prose (a code span starting ``--name``), with the scripts it can be
    named for: those the document runs or names (prose naming another tool's options is left out)."""
    where = _relative(doc) or str(doc)
    pieces = list(_paragraphs_and_blocks(doc.read_text(encoding="utf-8")))
    scope = tuple(sorted(set().union(*(_scripts_named(doc, text, in_code=kind == "code") for kind, text in pieces))))
    return [
        NamedOption(option.group(1), scope, f"{where}: `{span}`")
        for kind, text in pieces
        if kind == "prose" and scope and not EXTERNAL_TOOL.search(text)
        for _, span in CODE_SPAN.findall(text)
        if (option := re.match(r"^(--[a-z][\w-]*)", span.strip()))
    ]


def _paragraphs_and_blocks(text: str) -> Iterator[tuple[str, str]]:
    """("prose", paragraph) and ("code", shell block) in document order."""
    paragraph: list[str] = []
    block: list[str] | None = None
    language = ""
    for line in text.splitlines():
        fence = FENCE.match(line)
        if fence and block is None:
            if paragraph:
                yield "prose", " ".join(paragraph)
            paragraph, block, language = [], [], fence.group(3).strip().lower()
        elif fence:
            if language in SHELL_LANGUAGES:
                yield "code", "\n".join(block)
            block = None
        elif block is not None:
            block.append(line)
        elif not line.strip() or re.match(r"^#{1,6}\s", line):
            if paragraph:
                yield "prose", " ".join(paragraph)
            paragraph = []
        else:
            paragraph.append(line)
    if paragraph:
        yield "prose", " ".join(paragraph)


EXTERNAL_TOOL = re.compile(
    r"\b(?:dask|pip|pytest|gdal\w*|ogr\w*|rio|qgis_process|make|git|sbatch|srun|ruff|tar|curl)\s"
)


def _scripts_named(doc: Path, text: str, in_code: bool = False) -> set[Path]:
    """The repository scripts a text names: as commands, or by file name in a code span of prose."""
    names = [call[0] for line in command_lines(text) if (call := python_call(line))]
    if not in_code:
        names += [span.strip().split(" ")[0] for _, span in CODE_SPAN.findall(text)]
    scripts = set()
    for name in (name for name in names if name.endswith(".py")):
        candidates = [(base / name) for base in (doc.parent, REPO)]
        candidates += sorted(REPO.glob(f"*/{name}")) + sorted(REPO.glob(f"*/*/{name}"))
        scripts.update(path.resolve() for path in candidates[:1] if path.is_file() and _runnable(path))
        scripts.update(path.resolve() for path in candidates[1:] if path.is_file() and _runnable(path))
    return scripts


def _runnable(path: Path) -> bool:
    return _relative(path) is not None and "if __name__ == " in path.read_text(encoding="utf-8")


def option_problems(named: Sequence[NamedOption], options: dict[Path, set[str]]) -> list[str]:
    """Options named in prose that none of the scripts they can belong to defines."""
    return [
        f"{item.origin}: no {item.option} in {', '.join(str(_relative(script)) for script in item.scripts)}"
        for item in named
        if not any(item.option in options.get(script, set()) for script in item.scripts)
    ]


@pytest.fixture(scope="module")
def documented() -> tuple[dict[Path, list[DocumentedCommand]], list[NamedOption], dict[Path, dict]]:
    """The documented command lines, the options named in prose, and the verdicts of every script either names
    (each script's parser run once for both tests)."""
    scripts = documented_commands()
    named = [item for doc in markdown_files() for item in named_options(doc)]
    every = {**{script: [] for item in named for script in item.scripts}, **scripts}
    return scripts, named, all_verdicts(every)


def test_every_documented_command_line_parses(documented) -> None:
    """Each documented script answers ``--help``, and its parser accepts every command line the documents write."""
    scripts, _, verdicts = documented
    missing = [f"{cmds[0].origin}: {script} does not exist" for script, cmds in scripts.items() if not script.is_file()]
    assert not missing, "documents run scripts that are not there:\n" + "\n".join(missing)
    outside = [f"{cmds[0].origin}: {script}" for script, cmds in scripts.items() if _relative(script) is None]
    assert not outside, "documents run scripts outside the repository:\n" + "\n".join(outside)
    assert len(scripts) >= 10, f"only {len(scripts)} scripts found in the documents: is the parsing broken?"
    problems = command_problems(scripts, verdicts)
    assert not problems, "documented command lines that do not parse:\n" + "\n".join(problems)


def test_every_option_named_in_prose_exists(documented) -> None:
    """An option a document names (`--name`) is defined by one of the scripts that document runs or names."""
    _, named, verdicts = documented
    assert len(named) >= 50, f"only {len(named)} options found in the documents' prose: is the parsing broken?"
    options = {script: set(verdict["options"]) for script, verdict in verdicts.items()}
    problems = option_problems(named, options)
    assert not problems, "options the documents name that their scripts do not have:\n" + "\n".join(problems)


def test_the_checks_catch_a_documented_option_that_does_not_exist(tmp_path: Path) -> None:
    """The two checks above refuse a made-up option, in a command line and in prose, and accept real ones."""
    doc = tmp_path / "doc.md"
    doc.write_text(
        "Refine with `python SESSRS/get_best_t1_t2.py --sweep SWEEP --out BEST --no-such-flag 3` or\n"
        "with `get_best_t1_t2.py` and `--search joint`; `--t1-values` is not one of its options.\n\n"
        "```bash\npython SESSRS/get_best_t1_t2.py --sweep SWEEP --out BEST --search joint -n 2\n"
        "python SESSRS/get_best_t1_t2.py --search jointly ...\n```\n",
        encoding="utf-8",
    )
    commands = documented_commands([doc])
    script = REPO / "SESSRS" / "get_best_t1_t2.py"
    assert [command.arguments[-2:] for command in commands[script]] == [
        ("--no-such-flag", "3"),
        ("-n", "2"),
        ("jointly", "..."),
    ]
    verdicts = all_verdicts(commands)
    problems = command_problems(commands, verdicts)
    assert len(problems) == 2, problems
    assert "unrecognized arguments: --no-such-flag 3" in problems[0]
    assert "invalid choice: 'jointly'" in problems[1]
    named = named_options(doc)
    options = {script: set(verdicts[script]["options"])}
    assert [item.option for item in named] == ["--search", "--t1-values"]
    assert option_problems(named, options) == [
        f"{_relative(doc) or doc}: `--t1-values`: no --t1-values in SESSRS/get_best_t1_t2.py"
    ]


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
