"""Relative paths with ``--scheduler``: the workers of a loopback cluster work in another folder than the client,
yet every JSON and picture lands where the client's relative paths say, and each limit the client sets holds on
the workers (which never saw the client's environment)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from loopback import loopback_cluster

from rscommon.limits import MAX_IMAGE_PIXELS_ENV
from sam_objects import render_cli
from sam_objects.cli import main

TILE = Path(__file__).resolve().parents[2] / "data/real_samples/loveda/mmseg_0.png"


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """A cluster whose workers were started, and so work, in a folder of their own; and that folder."""
    home = tmp_path_factory.mktemp("workers_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(home)
        cluster = loopback_cluster()
    with cluster:
        yield cluster.scheduler_address, home


@pytest.fixture
def client_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "images").mkdir()
    shutil.copy(TILE, tmp_path / "images" / "tile.png")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_relative_folders_name_the_clients_folders_on_the_workers(
    elsewhere, client_folder: Path, capsys: pytest.CaptureFixture
) -> None:
    scheduler, home = elsewhere
    assert main(["-i", "images", "-j", "json", "--model", "regions", "--scheduler", scheduler]) == 0
    assert render_cli.main(["-i", "images", "-j", "json", "-o", "pictures", "--scheduler", scheduler]) == 0
    assert "1 written, 0 skipped (already done), 0 failed" in capsys.readouterr().out
    assert (client_folder / "json" / "tile.json").is_file()
    assert sorted(path.parent.name for path in (client_folder / "pictures").glob("*/tile.png")) == ["blend", "label"]
    assert list(home.iterdir()) == [], "a worker wrote into its own working folder"


def test_the_clients_image_limit_holds_on_the_workers(
    elsewhere, client_folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv(MAX_IMAGE_PIXELS_ENV, "1000")
    assert main(["-i", "images", "-j", "json", "--model", "regions", "--scheduler", elsewhere[0]]) == 1
    assert "FAILED tile.png: InputError: " in capsys.readouterr().err
