"""A full disk under the joint search's images kept on disk ends the run with one line naming the folder and
TMPDIR, and leaves no spill folder behind, in this process or in local workers; generated scenes."""

import errno
import os
import tempfile

import pytest

import sessrs.joint_spill as joint_spill
from rscommon.cli import run_main
from rscommon.datasets import URBAN
from rscommon.parallel import Execution
from sessrs.inputs import pair_inputs
from sessrs.joint import ShardPool
from sessrs.modes import FAITHFUL
from sessrs.synthetic import generate_images


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("generated")
    generate_images(folder, 2, seed=3, size=64)
    return pair_inputs(folder / "pred", folder / "sam", folder / "gt")


def full_disk(path, *args):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


@pytest.mark.parametrize("workers", [1, 2])
def test_a_full_disk_under_the_spill_folder_is_one_line_naming_it_and_tmpdir(
    scenes, tmp_path, monkeypatch, capsys, workers
):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setenv("TMPDIR", str(temporary))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    monkeypatch.setattr(joint_spill, "_write_raw", full_disk)  # the first file an image writes on disk

    def main(argv):
        with ShardPool(scenes, URBAN, max_objects=5, options=FAITHFUL, execution=Execution(workers), memory_limit=1):
            pass

    assert run_main(main, []) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {temporary}{os.sep}{joint_spill.SPILL_PREFIX}"), lines
    assert (
        "no space left on the device" in lines[0] and f"set TMPDIR to a folder with room (now {temporary})" in lines[0]
    )
    assert not list(temporary.iterdir())
