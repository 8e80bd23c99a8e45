"""The joint search within a memory limit: images kept on disk between steps give the search of images kept in
memory, on local workers too; a killed worker ends the search with one line that says so, and the next search
removes the files it left; generated scenes."""

import mmap
import os
import signal
import socket
import subprocess
import sys
import tempfile

import numpy as np
import pytest

from rscommon.datasets import URBAN
from rscommon.labels import read_label_png
from rscommon.parallel import Execution, WorkerKilled
from sessrs.inputs import load_ground_truth, load_prepared, pair_inputs
from sessrs.joint import ShardPool, joint_search, settings_from
from sessrs.joint_engine import ClassSetting, ImageEvaluator, class_matrices
from sessrs.joint_spill import SPILL_PREFIX, SpilledImage, footprint, spill_folder
from sessrs.modes import FAITHFUL, IMPROVED
from sessrs.sweep_engine import ThresholdGrid
from sessrs.synthetic import RURAL_LIKE, URBAN_LIKE, generate_images
from sessrs.thresholds import Thresholds

GRID = ThresholdGrid((0.3, 0.5, 0.7), (0.3, 0.55, 0.8))
START = settings_from(Thresholds(t1={1: 0.5, 5: 0.7}, t2={1: 0.55, 5: 0.8}, modify=[1, 5]), URBAN.num_classes)
SEARCH = {"max_objects": 5, "grid": GRID, "classes": range(7)}


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("generated")
    generate_images(folder, 3, seed=3, size=96)
    return pair_inputs(folder / "pred", folder / "sam", folder / "gt")


def memory_of(array):
    """The object holding an array's memory (through views and buffers)."""
    while isinstance(array, np.ndarray) and array.base is not None:
        array = array.base
    return array.obj if isinstance(array, memoryview) else array


def steps(state):
    return [{k: v for k, v in step.items() if k != "seconds"} for step in state.trace]


@pytest.mark.parametrize("options", [FAITHFUL, IMPROVED], ids=["faithful", "improved"])
def test_images_kept_on_disk_between_steps_give_the_search_of_images_kept_in_memory(scenes, tmp_path, options):
    in_memory = joint_search(scenes, URBAN, START, tmp_path / "memory", options=options, memory_limit=2**40, **SEARCH)
    with ShardPool(scenes, URBAN, max_objects=5, options=options, memory_limit=1) as pool:
        on_disk = joint_search(scenes, URBAN, START, tmp_path / "disk", options=options, pool=pool, **SEARCH)
        assert pool.local.spilled_count() == len(scenes)
    assert len(in_memory.trace) > 2 and in_memory.miou > in_memory.trace[0]["mIoU"] / 100
    assert steps(on_disk) == steps(in_memory) and on_disk.settings == in_memory.settings
    if options is FAITHFUL:
        two = joint_search(
            scenes, URBAN, START, tmp_path / "two", options=options, execution=Execution(2), memory_limit=1, **SEARCH
        )
        assert steps(two) == steps(in_memory)


def test_an_image_on_disk_is_mapped_and_its_commits_are_written_over_its_changing_part(scenes, tmp_path):
    """Loading maps the image's unchanging arrays read-only from one file, written once; a commit rewrites the
    changing part in place; the image loaded next scores as one kept in memory all along."""
    prepared = load_prepared(scenes[0], URBAN)
    in_memory = ImageEvaluator(prepared, load_ground_truth(scenes[0], URBAN, prepared.shape), max_objects=5)
    in_memory.commit(START)
    in_memory.trim()
    spilled = SpilledImage(tmp_path, "image")
    spilled.save(in_memory)
    mapped, changing = spilled.path("mapped").stat(), spilled.path("changing").stat()
    loaded = spilled.load()
    for array in (loaded.prepared.inst_map, loaded.prepared.obj_pixels[0], loaded.flat_gt):
        assert isinstance(memory_of(array), mmap.mmap)
    with pytest.raises(ValueError, match="read-only"):
        loaded.prepared.pred[0, 0] = 1
    later = settings_from(Thresholds(t1={1: 0.3, 2: 0.5}, t2={1: 0.8, 2: 0.55}, modify=[2, 1]), URBAN.num_classes)
    for evaluator in (in_memory, loaded):
        evaluator.commit(later)
        evaluator.trim()
    spilled.save(loaded)
    assert spilled.path("changing").stat().st_ino == changing.st_ino
    assert spilled.path("changing").stat().st_mtime_ns > changing.st_mtime_ns
    assert spilled.path("mapped").stat().st_mtime_ns == mapped.st_mtime_ns
    del loaded
    again = spilled.load()
    assert again.settings == later and np.array_equal(again.matrix, in_memory.matrix)
    assert not np.array_equal(in_memory.matrix, in_memory.baseline), "the commit changed the image"
    for name in ("values", "claims"):
        assert np.array_equal(getattr(again.painting, name), getattr(in_memory.painting, name))
    candidates = [ClassSetting(0.5, 0.55, True), ClassSetting(0.3, 0.3, True), ClassSetting(1.0, 1.0, False)]
    classes = URBAN.num_classes
    assert np.array_equal(
        class_matrices([again], 2, candidates, classes), class_matrices([in_memory], 2, candidates, classes)
    )


def test_weighing_counts_views_once():
    whole = np.zeros(1000)
    assert footprint([whole[:10], whole[5:]]) == whole.nbytes == footprint({"a": whole, "b": (whole, whole[3:])})


def test_a_killed_worker_ends_the_search_saying_it_ran_out_of_memory(scenes):
    with ShardPool(
        scenes, URBAN, max_objects=5, options=FAITHFUL, execution=Execution(2), memory_limit=3 * 2**30
    ) as pool:
        pool.total("commit", None, START)
        victim = next(iter(pool.executors[1]._processes))
        os.kill(victim, signal.SIGKILL)
        with pytest.raises(WorkerKilled) as raised:
            pool.total("commit", None, START)
    message = str(raised.value)
    assert "killed (out of memory?)" in message and "--memory-limit 3.0 GiB over 2 processes" in message
    assert "\n" not in message


def test_generated_scenes_are_a_prefix_of_more_scenes_and_populations_differ(tmp_path, scenes):
    stems = generate_images(tmp_path / "few", 2, seed=3, size=96)
    assert stems == [s.stem for s in scenes[:2]]
    for kind in ("pred", "gt"):
        assert np.array_equal(
            read_label_png(tmp_path / "few" / kind / f"{stems[1]}.png"), read_label_png(getattr(scenes[1], kind))
        )
    assert (tmp_path / "few" / "sam" / f"{stems[1]}.json").read_text() == scenes[1].sam.read_text()
    generate_images(tmp_path / "rural", 1, seed=3, size=96, population=RURAL_LIKE)
    urban, rural = (read_label_png(tmp_path / name / "gt" / f"{stems[0]}.png") for name in ("few", "rural"))
    assert URBAN_LIKE != RURAL_LIKE and not np.array_equal(urban, rural)
    pred, gt = read_label_png(scenes[0].pred), read_label_png(scenes[0].gt)
    assert 0.6 < (pred == gt).mean() < 0.99, "predictions err, mostly near boundaries"


def test_folders_left_by_killed_searches_are_removed_by_the_next(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    host = socket.gethostname()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left = {
        "dead": tmp_path / f"{SPILL_PREFIX}{host}-{int(gone.stdout)}-x1y2",
        "running": tmp_path / f"{SPILL_PREFIX}{host}-{os.getpid()}-a_b3",
        "other host": tmp_path / f"{SPILL_PREFIX}elsewhere-{int(gone.stdout)}-zz9",
    }
    for folder in left.values():
        folder.mkdir()
        (folder / "image.mapped").write_bytes(b"0" * 100)
    made = spill_folder()
    assert made.parent == tmp_path and made.name.startswith(f"{SPILL_PREFIX}{host}-{os.getpid()}-")
    assert not left["dead"].exists() and left["running"].exists() and left["other host"].exists()
