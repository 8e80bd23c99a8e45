"""``--scheduler``: the SAM stage's per-image tasks on a dask.distributed cluster on loopback (two worker processes).

The cluster run must give the local run's JSONs and records, resume like a local run, and report a failing image
in one line while keeping the others. The weight-free regions source is used here; HQ-SAM vit_tiny (random weights)
runs on a cluster in test_sam_random_models.py.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from image_files import pixels
from loopback import not_on_loopback
from PIL import Image

from sam_objects.cli import main
from sam_objects.run_log import RunLog
from sam_objects.runner import OBJECTS_LOG

SAMPLES = Path(__file__).resolve().parents[2] / "data/real_samples"
TILES = [
    "loveda/mmseg_0.png",
    "loveda/mmseg_1.png",
    "potsdam/top_potsdam_2_10_crop0_0_512_512_RGB.png",
    "vaihingen/area1_0_0_512_512_IRRG.png",
]


def test_the_cluster_listens_on_loopback_only(scheduler: str) -> None:
    """This process runs the scheduler (and its HTTP server); its children run the workers."""
    assert not_on_loopback(os.getpid()) == []


@pytest.fixture
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    for name in TILES:
        Image.fromarray(pixels(SAMPLES / name, "RGB")[:320, :320]).save(folder / Path(name).name)
    return folder


def _jsons(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.json"))}


def _records(folder: Path) -> dict[str, dict]:
    return {
        name: {"made_from": entry["made_from"], "outputs": entry["outputs"]}
        for name, entry in RunLog(folder / OBJECTS_LOG).entries.items()
    }


def test_cluster_run_equals_the_local_run_and_resumes(
    scheduler: str, images: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    local, remote = tmp_path / "local", tmp_path / "cluster"
    assert main(["-i", str(images), "-j", str(local), "--model", "regions"]) == 0
    capsys.readouterr()
    assert main(["-i", str(images), "-j", str(remote), "--model", "regions", "--scheduler", scheduler]) == 0
    assert f"on {scheduler}" in capsys.readouterr().out
    assert _jsons(remote) == _jsons(local) and len(_jsons(local)) == len(TILES)
    assert _records(remote) == _records(local)

    assert (
        main(["-i", str(images), "-j", str(remote), "--model", "regions", "--scheduler", scheduler, "--method", "slic"])
        == 0
    )
    assert f"{len(TILES)} redone: settings.method changed" in capsys.readouterr().out
    assert (
        main(["-i", str(images), "-j", str(remote), "--model", "regions", "--scheduler", scheduler, "--method", "slic"])
        == 0
    )
    assert f"0 written, {len(TILES)} skipped" in capsys.readouterr().out


def test_failing_image_on_the_cluster_is_one_line_and_the_others_are_kept(
    scheduler: str, images: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    (images / "broken.png").write_bytes(b"not a png at all")
    out = tmp_path / "json"
    code = main(["-i", str(images), "-j", str(out), "--model", "regions", "--scheduler", scheduler])
    printed = capsys.readouterr()
    assert code == 1
    failures = [line for line in printed.err.splitlines() if "broken.png" in line]
    assert len(failures) == 1 and failures[0].startswith("FAILED broken.png: ") and "Traceback" not in printed.err
    assert f"{len(TILES)} written, 0 skipped (already done), 1 failed" in printed.out
    assert len(_jsons(out)) == len(TILES)
    assert set(RunLog(out / OBJECTS_LOG).entries) == {Path(name).name for name in TILES}

    (images / "broken.png").unlink()
    shutil.copy(SAMPLES / TILES[0], images / "broken.png")  # fixed: only it is made on the next run
    assert main(["-i", str(images), "-j", str(out), "--model", "regions", "--scheduler", scheduler]) == 0
    assert f"1 written, {len(TILES)} skipped" in capsys.readouterr().out
