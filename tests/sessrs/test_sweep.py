"""The incremental sweep reproduces the reference's sweep figures and agrees with full refinements."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rscommon.datasets import URBAN
from rscommon.metrics import confusion_matrix
from rscommon.parallel import Execution
from sessrs.folders import SweepFolder
from sessrs.inputs import load_ground_truth, load_prepared, pair_inputs
from sessrs.steps import refine_prepared
from sessrs.sweep import THRESHOLD_PAIRS, run_sweep, write_sweep_outputs
from sessrs.sweep_engine import sweep_image
from sessrs.validate import read_sweep, sweep_images

SCENES = Path(__file__).resolve().parents[1] / "fixtures" / "sessrs_reference" / "scenes"
REFERENCE = json.loads((SCENES.parent / "sweep.json").read_text())


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """The sweep of the fixture's eight square scenes, run with two workers."""
    root = tmp_path_factory.mktemp("sweep")
    pred_dir = root / "pred"
    pred_dir.mkdir()
    for scene in REFERENCE["scenes"]:
        shutil.copy(SCENES / "pred" / f"{scene}.png", pred_dir)
    samples = pair_inputs(pred_dir, SCENES / "sam", SCENES / "gt")
    return run_sweep(samples, URBAN, root / "out", execution=Execution(2)), root / "out", samples


def test_sweep_matches_reference(swept):
    sweep, _, _ = swept
    assert sweep["images"] == REFERENCE["scenes"], "the reference's sweep.json names its images scenes"
    assert sweep["baseline"] == REFERENCE["baseline"]
    assert sweep["sweeps"].keys() == REFERENCE["sweeps"].keys()
    for cls, rows in REFERENCE["sweeps"].items():
        for ours, theirs in zip(sweep["sweeps"][cls], rows, strict=True):
            assert ours == theirs, f"class {cls}, t1={theirs['t1']}, t2={theirs['t2']}"


def test_sweep_writes_table_heatmaps_and_json(swept):
    sweep, out, _ = swept
    assert json.loads((out / "sweep.json").read_text()) == sweep
    assert "class 1 (building)" in (out / "sweep.txt").read_text()
    heatmaps = sorted(out.glob("heatmap_*.png"))
    assert len(heatmaps) == len(sweep["sweeps"])
    assert all(path.stat().st_size > 1000 for path in heatmaps)


def test_a_sweep_without_heatmaps_writes_the_same_figures_and_no_picture(swept, tmp_path):
    sweep, out, _ = swept
    folder = SweepFolder(tmp_path / "bare")
    write_sweep_outputs(sweep, URBAN, folder, heatmaps=False)
    assert json.loads(folder.sweep.read_text()) == sweep
    assert folder.text.read_text() == (out / "sweep.txt").read_text()
    assert not list(folder.root.glob("heatmap_*.png"))


def test_rerun_resumes_without_recomputing(swept, monkeypatch):
    sweep, out, samples = swept
    import sessrs.sweep as module

    def fail(job):
        raise AssertionError(f"recomputed {job[0].stem}")

    monkeypatch.setattr(module, "_sweep_sample", fail)
    assert run_sweep(samples, URBAN, out, execution=Execution(1)) == sweep


def test_interrupted_run_continues_where_it_stopped(swept, tmp_path):
    sweep, out, samples = swept
    shutil.copytree(out, tmp_path / "out")
    for part in list((tmp_path / "out" / "parts").glob("*.npz"))[:3]:
        part.unlink()
    (tmp_path / "out" / "sweep.json").unlink()
    assert run_sweep(samples, URBAN, tmp_path / "out", execution=Execution(1)) == sweep


def as_old_release(path: Path) -> None:
    """Rewrite the record ``path`` as a release before the rename wrote it: the images swept under ``scenes``."""
    record = json.loads(path.read_text())
    path.write_text(json.dumps({("scenes" if key == "images" else key): value for key, value in record.items()}))


def test_a_sweep_json_naming_its_images_scenes_reads_the_same(swept, tmp_path):
    sweep, out, _ = swept
    new = read_sweep(out / "sweep.json", URBAN)
    assert "images" in json.loads((out / "sweep.json").read_text()), "a new sweep.json names its images images"
    shutil.copy(out / "sweep.json", tmp_path / "sweep.json")
    as_old_release(tmp_path / "sweep.json")
    old = read_sweep(tmp_path / "sweep.json", URBAN)
    assert "scenes" in json.loads((tmp_path / "sweep.json").read_text()) and "scenes" not in old
    assert old == new == sweep
    assert sweep_images(json.loads((tmp_path / "sweep.json").read_text())) == sweep_images(sweep) == sweep["images"]


def test_a_sweep_whose_run_record_names_its_images_scenes_resumes(swept, tmp_path, monkeypatch):
    sweep, out, samples = swept
    shutil.copytree(out, tmp_path / "out")
    as_old_release(tmp_path / "out" / "run.json")
    import sessrs.sweep as module

    def fail(job):
        raise AssertionError(f"recomputed {job[0].stem}")

    monkeypatch.setattr(module, "_sweep_sample", fail)
    assert run_sweep(samples, URBAN, tmp_path / "out", execution=Execution(1)) == sweep


@pytest.mark.parametrize("scene", ["01002", "01008"])
def test_incremental_matrices_equal_full_refinement(scene):
    sample = [s for s in pair_inputs(SCENES / "pred", SCENES / "sam", SCENES / "gt") if s.stem == scene][0]
    loaded = load_prepared(sample, URBAN)
    gt = load_ground_truth(sample, URBAN, loaded.shape)
    result = sweep_image(loaded, gt, [0, 2, 6], max_objects=10)
    for cls in (0, 2, 6):
        for row in (0, 13, 31, 44):
            t1, t2 = np.ones(URBAN.num_classes), np.ones(URBAN.num_classes)
            t1[cls], t2[cls] = THRESHOLD_PAIRS[row]
            refined = refine_prepared(loaded, t1, t2, [cls], max_objects=10)
            assert np.array_equal(result.per_class[cls][row], confusion_matrix(gt, refined, URBAN.num_classes))
