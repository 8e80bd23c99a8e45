"""No silent wrong result from the scene command: damaged parts are named and recomputed, --restart recomputes,
one run per --out, too many tiles and unwritable outputs refused before any tile runs, relative paths resolved."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from scene_files import read_band, scene_args, with_options

from rscommon import parallel
from rscommon.cli import run_main
from rscommon.locks import file_lock, locked
from rspipeline.scene import SceneRun, resolved
from rspipeline.scene_cli import main


def test_a_truncated_part_is_named_and_recomputed_and_restart_recomputes_all(scene, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out.tif"
    args = scene_args(scene, out, "best.json", "--keep-parts")
    assert run_main(main, args) == 0
    first = read_band(out)
    part = tmp_path / "out.tif.parts" / "refine" / "r001_c001.npy"
    part.write_bytes(part.read_bytes()[:100])  # truncated
    capsys.readouterr()
    assert run_main(main, args) == 0
    captured = capsys.readouterr()
    assert "r001_c001.npy: changed or damaged" in captured.err and "(8 kept from an earlier run)" in captured.out
    assert np.array_equal(read_band(out), first)
    mtimes = {p: p.stat().st_mtime_ns for p in part.parent.glob("*.npy")}
    assert run_main(main, args + ["--restart"]) == 0
    assert all(p.stat().st_mtime_ns != mtime for p, mtime in mtimes.items())  # every part computed again
    assert np.array_equal(read_band(out), first)


def test_a_second_run_on_the_same_out_is_refused_in_one_line(scene, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out.tif"
    with locked(file_lock(out.resolve()), "another run"):
        assert run_main(main, scene_args(scene, out)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --out ") and "in use by" in err[0]
    assert not out.exists()


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"--tile": ["1"], "--overlap": ["0"]}, "tiles are at least 64"),
        ({"--tile": ["64"], "--overlap": ["0"], "--max-tiles": ["10"]}, "8 x 8 = 64 tiles"),
    ],
)
def test_too_many_tiles_are_refused_up_front(scene, tmp_path: Path, capsys, options, expected) -> None:
    assert run_main(main, with_options(scene_args(scene, tmp_path / "out.tif"), options)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0]
    assert os.listdir(tmp_path) == []


def test_unwritable_outputs_are_refused_before_any_tile(scene, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(parallel, "CONNECT_TIMEOUT", 1.0)  # nothing listens on port 9: no need to wait 20 s
    folder = tmp_path / "folder.tif"
    folder.mkdir()
    a_file = tmp_path / "file"
    a_file.write_text("")
    for options, expected in [
        ({"--out": [str(folder)]}, "is a folder"),
        ({"--vector": [str(a_file / "x.gpkg")]}, "is not a folder"),
        ({"--vector": [str(tmp_path / "x.kml")]}, "the vector output is"),
        ({"--scheduler": ["tcp://127.0.0.1:9"]}, "no Dask scheduler reachable"),
    ]:
        assert run_main(main, with_options(scene_args(scene, tmp_path / "out.tif"), options)) == 2, options
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and expected in err[0], (options, err)
        assert sorted(os.listdir(tmp_path)) == ["file", "folder.tif"]


def test_every_path_is_made_absolute_before_a_task_leaves(scene, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    run = SceneRun(
        image=Path("a.tif"),
        thresholds=Path("b.json"),
        dataset="potsdam",
        out=Path("o/out.tif"),
        objects=None,
        pred=Path("p.tif"),
    )
    absolute = resolved(run)
    assert absolute.image == tmp_path / "a.tif" and absolute.pred == tmp_path / "p.tif"
    assert absolute.out == tmp_path / "o" / "out.tif" and absolute.parts == tmp_path / "o" / "out.tif.parts"
    assert absolute.thresholds == tmp_path / "b.json"
