"""The reference's command-line forms find their files in the repository layout, wherever they are run from."""

import json
import shutil
import sys
from pathlib import Path

import pytest

import reference_layout
from rscommon.datasets import URBAN
from rscommon.labels import read_label_png, write_label_png
from sessrs.inputs import pair_inputs
from sessrs.sweep import run_sweep
from sessrs.thresholds import Thresholds

SESSRS_DIR = Path(__file__).resolve().parents[2] / "SESSRS"
SCENES = Path(__file__).resolve().parents[1] / "fixtures" / "sessrs_reference" / "scenes"
sys.path.insert(0, str(SESSRS_DIR))

import get_best_t1_t2  # noqa: E402
import sessrs_t1_t2  # noqa: E402


@pytest.fixture
def repository(tmp_path, monkeypatch):
    """A repository root holding one UNetFormer result folder and the Urban data it refers to."""
    monkeypatch.setattr(reference_layout, "REPO_ROOT", tmp_path)
    model = tmp_path / "GeoSeg" / "fig_results" / "Urban" / "unetformer"
    data = tmp_path / "GeoSeg" / "data" / "Urban"
    for source, target, suffix in (
        ("pred", model / "pre_p", "png"),
        ("gt", data / "val" / "modify_masks", "png"),
        ("sam", data / "sam_label_info" / "ssam", "json"),
    ):
        target.mkdir(parents=True)
        for scene in ("01000", "01004"):
            shutil.copy(SCENES / source / f"{scene}.{suffix}", target)
    monkeypatch.chdir(SESSRS_DIR)
    return tmp_path


def test_reference_sweep_and_pick_forms(repository, capsys):
    model = "GeoSeg/fig_results/Urban/unetformer"
    assert sessrs_t1_t2.main(["-f", model, "-m", "modify", "-s", "ssam", "-n", "1", "--classes", "1", "2"]) == 0
    sweep_dir = repository / model / "sessrs_write" / "modify_ssam"
    assert json.loads((sweep_dir / "sweep.json").read_text())["images"] == ["01000", "01004"]
    assert get_best_t1_t2.main(["-d", "Urban", "-m", "modify", "-s", "ssam", "-t", "0.7", "-n", "1"]) == 0
    assert sorted(p.name for p in (repository / model / "se_mask").glob("*.png")) == ["01000.png", "01004.png"]
    best = json.loads((sweep_dir / "best.json").read_text())
    summary = json.loads(
        (repository / "GeoSeg/fig_results/Urban/sessrs_contrast_0.7/modify_ssam_contrast.json").read_text()
    )
    assert summary["unetformer"]["best"] == Thresholds.from_json(best).to_json()
    assert "mIoU" in capsys.readouterr().out


def test_the_reference_form_sweep_recomputes_a_prediction_changed_in_place(repository, capsys):
    command = ["-f", "GeoSeg/fig_results/Urban/unetformer", "-m", "modify", "-s", "ssam", "-n", "1", "--classes", "1"]
    assert sessrs_t1_t2.main(command) == 0
    model, data = (
        repository / "GeoSeg" / "fig_results" / "Urban" / "unetformer",
        repository / "GeoSeg" / "data" / "Urban",
    )
    labels = read_label_png(model / "pre_p" / "01004.png")
    labels[0:300, 0:300] = 1
    write_label_png(model / "pre_p" / "01004.png", labels, URBAN)
    capsys.readouterr()
    assert sessrs_t1_t2.main(command) == 0
    assert "01004: inputs.pred changed" in capsys.readouterr().err
    swept = json.loads((model / "sessrs_write" / "modify_ssam" / "sweep.json").read_text())
    samples = pair_inputs(model / "pre_p", data / "sam_label_info" / "ssam", data / "val" / "modify_masks")
    assert swept == run_sweep(samples, URBAN, repository / "clean", classes=[1])
