"""The scene command's finished tiles: ``--restart`` and the end of a run delete only the parts the run recorded,
and a continued run never reuses parts made from other content (what a VRT points at, an external mask)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scene_files import read_band, scene_args

from rscommon.cli import run_main
from rspipeline.scene_cli import main


def test_restart_and_the_end_of_a_run_delete_only_the_recorded_parts(scene, tmp_path: Path, capsys) -> None:
    parts = tmp_path / "mine"
    (parts / "refine").mkdir(parents=True)
    own = [parts / "features.npy", parts / "refine" / "weights.npy", parts / "refine" / "notes.npy.txt"]
    for path in own:
        np.save(path, np.arange(3)) if path.suffix == ".npy" else path.write_text("mine")
    args = scene_args(scene, tmp_path / "out.tif", "best.json", "--parts-dir", str(parts), "--keep-parts")
    assert run_main(main, args) == 0
    first = read_band(tmp_path / "out.tif")
    recorded = sorted((parts / "refine").glob("r*_c*.npy"))
    assert len(recorded) == 9 and all(path.with_name(path.name + ".sha256").is_file() for path in recorded)
    mtimes = {path: path.stat().st_mtime_ns for path in recorded}
    assert run_main(main, args + ["--restart"]) == 0
    assert all(path.stat().st_mtime_ns != mtime for path, mtime in mtimes.items())  # every part made again
    assert all(path.is_file() for path in own)
    assert np.array_equal(read_band(tmp_path / "out.tif"), first)
    assert run_main(main, [arg for arg in args if arg != "--keep-parts"]) == 0  # the end of a run
    assert not any(path.exists() for path in recorded) and all(path.is_file() for path in own)
    assert np.array_equal(np.load(own[0]), np.arange(3))
