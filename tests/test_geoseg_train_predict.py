"""A short CPU training of ``config/sample/unetformer.py`` on the embedded tiles, its resumption, and
``test.py`` on the checkpoint it wrote (random-init backbone; this checks the plumbing, not accuracy)."""
from __future__ import annotations

import csv
import importlib.util
import json
import warnings

import numpy as np
import pytest
from PIL import Image

from geoseg.paths import GEOSEG_ROOT
from rscommon.datasets import get_dataset

SAMPLE_CONFIG = "config/sample/unetformer.py"


def load_script(name: str):
    """Import a script at the top of ``GeoSeg/`` as a module (so its ``main(argv)`` runs in-process)."""
    spec = importlib.util.spec_from_file_location(f"geoseg_script_{name}", GEOSEG_ROOT / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_rows(path) -> list[dict]:
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Train one step with one validation batch, then resume for a second epoch."""
    work = tmp_path_factory.mktemp("train")
    with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        patch.setenv("GEOSEG_SAMPLE_CROP", "256")
        patch.setenv("GEOSEG_SAMPLE_REPEATS", "2")
        train = load_script("train_supervision")
        common = ["-c", SAMPLE_CONFIG, "--work-dir", str(work), "--limit-train-batches", "1",
                  "--limit-val-batches", "1", "--sanity-val-steps", "0", "--num-workers", "0"]
        train.main(common + ["--max-epochs", "1"])
        checkpoint = work / "model_weights" / "sample" / "unetformer-sample" / "unetformer-sample.ckpt"
        first_state = checkpoint.stat().st_mtime_ns
        train.main(common + ["--max-epochs", "2", "--resume", str(checkpoint)])
    return work, checkpoint, first_state


@pytest.mark.slow
def test_training_writes_checkpoint_and_epoch_metrics(trained):
    work, checkpoint, _ = trained
    assert checkpoint.is_file()
    logs = work / "lightning_logs" / "sample" / "unetformer-sample"
    first = read_rows(logs / "version_0" / "metrics.csv")
    for key in ("train_mIoU", "train_F1", "train_OA", "val_mIoU", "val_F1", "val_OA"):
        values = [float(row[key]) for row in first if row.get(key)]
        assert len(values) == 1 and 0.0 <= values[0] <= 1.0, key
    assert {row["epoch"] for row in first} == {"0"}


@pytest.mark.slow
def test_training_resumes_from_the_checkpoint(trained):
    work, _, _ = trained
    resumed = read_rows(work / "lightning_logs" / "sample" / "unetformer-sample" / "version_1" / "metrics.csv")
    assert {row["epoch"] for row in resumed} == {"1"}, "resuming continues at epoch 1"


@pytest.mark.slow
def test_prediction_writes_palette_pngs_and_metrics(trained, tmp_path):
    work, checkpoint, _ = trained
    out = tmp_path / "pred"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load_script("test").main(["-c", SAMPLE_CONFIG, "--ckpt", str(checkpoint), "-o", str(out), "-t", "none",
                                  "--num-workers", "0"])
    spec = get_dataset("Urban")
    files = sorted((out / "pre_p").glob("*.png"))
    assert [f.stem for f in files] == ["mmseg_0", "mmseg_1", "mmseg_2"]
    for path in files:
        with Image.open(path) as image:
            assert image.mode == "P" and image.size == (1024, 1024)
            assert image.getpalette()[: 3 * len(spec.palette)] == [c for rgb in spec.palette for c in rgb]
            assert np.array(image).max() < spec.num_classes
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["mIoU"] <= 100.0 and set(metrics["IoU"]) == {spec.classes[c] for c in spec.scored}
