"""Fixtures of the top floor's tests: the generated georeferenced scene the scene command's tests refine."""

from __future__ import annotations

import pytest
from scene_files import make_scene


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A small GeoTIFF scene with its prediction and thresholds (see :func:`scene_files.make_scene`), one per module."""
    return make_scene(tmp_path_factory.mktemp("scene"))
