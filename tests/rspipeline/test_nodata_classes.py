"""A declared nodata value that is a class id of the dataset (nodata 0 on Potsdam, where 0 is ImSurf) is refused in
one line before any work, in the scene and the tune commands, naming the file, the value, the class and the
option that says what to do (``--pred-nodata``, ``--labels-nodata``); with the option the run goes through."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scene_files import read_band, scene_args, tune_args, write_raster

from rscommon.cli import run_main
from rscommon.labels import read_label_png
from rspipeline.scene_cli import main
from rspipeline.tune_cli import main as tune_main

NODATA = 255


@pytest.fixture(scope="module")
def zero_nodata(scene, tmp_path_factory) -> dict:
    """The prediction declaring nodata 0, and a label raster (the prediction in one box, 255 elsewhere) too."""
    folder = tmp_path_factory.mktemp("zero")
    labels = np.full(scene["pred"].shape, 255, np.uint8)
    labels[40:160, 60:200] = scene["pred"][40:160, 60:200]
    assert (labels == 0).any()  # ImSurf is labelled in the box
    return {
        "pred": write_raster(folder / "pred0.tif", scene["pred"][None], nodata=0),
        "labels": write_raster(folder / "labels0.tif", labels[None], nodata=0),
        "plain_labels": write_raster(folder / "labels.tif", labels[None]),
    }


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    return err[0]


def test_a_prediction_declaring_a_class_as_nodata_is_refused_before_any_work(
    scene, zero_nodata, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "out.tif"
    assert run_main(main, scene_args(scene, out, "best.json", pred=zero_nodata["pred"])) == 2
    line = one_line_error(capsys)
    assert str(zero_nodata["pred"]) in line and "declares nodata 0, which is potsdam's class 0 (ImSurf)" in line
    assert "--pred-nodata none" in line
    assert not out.exists() and not out.with_name(out.name + ".parts").exists()
    args = scene_args(scene, out, "best.json", "--pred-nodata", "0", pred=scene["pred_tif"])
    assert run_main(main, args) == 2
    assert "--pred-nodata 0 is potsdam's class 0 (ImSurf)" in one_line_error(capsys)


def test_pred_nodata_none_reads_every_class_and_a_value_replaces_the_declared_one(
    scene, zero_nodata, tmp_path: Path
) -> None:
    args = scene_args(scene, tmp_path / "none.tif", "nothing.json", "--pred-nodata", "none", pred=zero_nodata["pred"])
    assert run_main(main, args) == 0
    assert np.array_equal(read_band(tmp_path / "none.tif"), scene["pred"])  # every ImSurf pixel kept
    pred = scene["pred"].copy()
    pred[:30, :40] = 200
    marked = write_raster(tmp_path / "pred200.tif", pred[None], nodata=0)
    args = scene_args(scene, tmp_path / "value.tif", "nothing.json", "--pred-nodata", "200", pred=marked)
    assert run_main(main, args) == 0
    assert np.array_equal(read_band(tmp_path / "value.tif"), np.where(pred == 200, NODATA, scene["pred"]))


def test_the_tune_command_refuses_class_nodata_and_keeps_class_labels_with_the_option(
    scene, zero_nodata, tmp_path: Path, capsys
) -> None:
    plain, out = zero_nodata["plain_labels"], tmp_path / "tuned"
    assert run_main(tune_main, tune_args(scene, out, plain, zero_nodata["pred"])) == 2
    line = one_line_error(capsys)
    assert str(zero_nodata["pred"]) in line and "(ImSurf)" in line and "--pred-nodata none" in line
    assert run_main(tune_main, tune_args(scene, out, zero_nodata["labels"], scene["pred_tif"])) == 2
    line = one_line_error(capsys)
    assert str(zero_nodata["labels"]) in line and "nodata 0" in line and "--labels-nodata none" in line
    assert not (out / "areas").exists()
    args = tune_args(scene, out, zero_nodata["labels"], zero_nodata["pred"], "--labels-nodata", "none")
    assert run_main(tune_main, [*args, "--pred-nodata", "none"]) == 0
    (truth,) = (out / "areas" / "gt").glob("*.png")
    assert (read_label_png(truth) == 0).sum() == (scene["pred"][40:160, 60:200] == 0).sum()
