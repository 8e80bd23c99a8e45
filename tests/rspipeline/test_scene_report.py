"""The scene command's run report: its counts against the output raster, the warning when a class changes far more
of the scene than on the images its thresholds were tuned on, and --thresholds preset:NAME."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scene_files import BEST, make_scene, read_band, scene_args, write_raster

from rscommon.cli import run_main
from rscommon.datasets import POTSDAM
from rspipeline.scene_cli import main, scene_argv
from rspipeline.scene_report import WARN_MIN_SHARE, report_path
from sessrs.presets import read_preset
from sessrs.synthetic import URBAN_LIKE
from sessrs.synthetic import make_image as make_urban_image


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> dict:
    scene = make_scene(tmp_path_factory.mktemp("report"))
    tiny = {name: {"to": 1e-6, "from": 1e-6, "predicted": 0.1} for name in POTSDAM.classes}
    (scene["folder"] / "tiny.json").write_text(json.dumps({**BEST, "tuned_on": ["a", "b"], "tuned_changes": tiny}))
    return scene


def test_the_report_counts_the_changes_of_the_output_raster(scene, tmp_path: Path, capsys) -> None:
    out = tmp_path / "refined.tif"
    assert run_main(main, scene_args(scene, out, "best.json")) == 0
    report = json.loads(report_path(out).read_text())
    refined, pred = read_band(out), scene["pred"]
    assert report["data_pixels"] == pred.size
    assert report["changed_pixels"] == int((refined != pred).sum()) > 1000
    for c, name in enumerate(POTSDAM.classes):
        row = report["classes"][name]
        assert row["to"] == int(((refined == c) & (pred != c)).sum())
        assert row["from"] == int(((pred == c) & (refined != c)).sum())
        assert row["to_share"] == round(row["to"] / pred.size, 6)
    assert report["warnings"] == [] and "no tuned figures are recorded with best.json" in report["note"]
    printed = capsys.readouterr().out
    assert f"changed {100 * report['changed_pixels'] / pred.size:.2f}% of the pixels with data" in printed
    assert "note: no tuned figures" in printed and str(report_path(out)) in printed


def test_a_class_changing_far_more_than_where_it_was_tuned_is_warned_about(scene, tmp_path: Path, capsys) -> None:
    out = tmp_path / "refined.tif"
    assert run_main(main, scene_args(scene, out, "tiny.json")) == 0
    report = json.loads(report_path(out).read_text())
    warned = {
        name for name, row in report["classes"].items() if max(row["to_share"], row["from_share"]) >= WARN_MIN_SHARE
    }
    assert warned  # the refinement changes some classes by more than half a percent
    assert {warning.split(":")[0] for warning in report["warnings"]} == warned
    assert report["tuned"] == "tiny.json, tuned on 2 images" and report["note"] is None
    assert "tuned on 2 images" in capsys.readouterr().out


def test_a_preset_is_accepted_and_its_message_printed(tmp_path: Path, capsys) -> None:
    gt, pred, _ = make_urban_image(np.random.default_rng(5), 256, URBAN_LIKE)
    image = write_raster(tmp_path / "image.tif", np.repeat((gt * 30).astype(np.uint8)[None], 3, axis=0))
    pred_tif = write_raster(tmp_path / "pred.tif", pred[None])
    out = tmp_path / "refined.tif"
    name = "reference-urban-unetformer-sam"
    args = scene_argv(
        image=image,
        pred=pred_tif,
        objects="regions",
        thresholds=f"preset:{name}",
        dataset="Urban",
        out=out,
        tile=256,
        overlap=32,
    )
    assert run_main(main, args) == 0
    printed = capsys.readouterr().out
    assert read_preset(name).message() in printed
    assert f"no tuned figures are recorded with preset {name}" in printed
    assert read_band(out).shape == (256, 256)
