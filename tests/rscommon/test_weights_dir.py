"""Checkpoints are looked for in $SESSRS_WEIGHTS, else the repository's weights/ in a source checkout, else the
current folder's weights/: an installed package never looks (or says to download) inside its environment."""

from __future__ import annotations

from pathlib import Path

import rscommon.paths as paths


def test_a_source_checkout_uses_its_weights_folder(monkeypatch):
    monkeypatch.delenv(paths.WEIGHTS_ENV, raising=False)
    assert paths.source_checkout()
    assert paths.weights_dir() == paths.REPO_ROOT / "weights"


def test_an_installed_package_uses_the_current_folder_and_the_variable_wins(tmp_path, monkeypatch):
    environment = tmp_path / "venv" / "lib" / "python3.11"  # where an installed rscommon's REPO_ROOT lands
    (environment / "site-packages" / "rscommon").mkdir(parents=True)
    monkeypatch.setattr(paths, "REPO_ROOT", environment)
    monkeypatch.delenv(paths.WEIGHTS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert not paths.source_checkout()
    assert paths.weights_dir() == Path.cwd() / "weights"
    message = str(_missing("sam_vit_b.pth"))
    assert str(tmp_path / "weights") in message and str(environment) not in message
    monkeypatch.setenv(paths.WEIGHTS_ENV, str(tmp_path / "mine"))
    assert paths.weights_dir() == tmp_path / "mine"


def _missing(file_name: str) -> Exception:
    try:
        paths.require_weights(file_name, "the publisher")
    except paths.MissingWeightsError as error:
        return error
    raise AssertionError(f"{file_name} was found")
