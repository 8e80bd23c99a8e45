"""Object lists that would take the reader's memory or stack: too many objects are refused while the file is parsed
(before any mask is decoded), a deeply nested file in one line naming it."""

from __future__ import annotations

from pathlib import Path

import pytest
from large_files import one_pixel_objects

from rscommon.files import InputError, read_json
from rscommon.limits import DEFAULT_MAX_OBJECTS, MAX_OBJECTS_ENV
from rscommon.objects import read_objects


def test_more_objects_than_the_limit_are_refused_before_the_file_is_parsed_to_its_end(tmp_path: Path) -> None:
    """The file ends in a syntax error: the refusal comes first, so the parse stopped at the limit."""
    path = one_pixel_objects(tmp_path / "many.json", 1000, tail="}")
    with pytest.raises(
        InputError,
        match=f"^{path}: more than 999 objects in one image \\(raise the limit with "
        f"\\${MAX_OBJECTS_ENV} if they are real\\)$",
    ):
        read_objects(path, max_objects=999)


def test_the_default_limit_and_the_environment_variable(tmp_path: Path, monkeypatch) -> None:
    path = one_pixel_objects(tmp_path / "objects.json", DEFAULT_MAX_OBJECTS + 1, shape=(4, 4))
    with pytest.raises(InputError, match=f"more than {DEFAULT_MAX_OBJECTS:,} objects"):
        read_objects(path, (4, 4))
    monkeypatch.setenv(MAX_OBJECTS_ENV, str(DEFAULT_MAX_OBJECTS + 1))
    assert len(read_objects(path, (4, 4))) == DEFAULT_MAX_OBJECTS + 1


def test_deeply_nested_json_is_one_line_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InputError, match=f"^{path}: JSON nested too deeply to read"):
        read_json(path)
    with pytest.raises(InputError, match=f"^{path}: JSON nested too deeply to read"):
        read_objects(path)
