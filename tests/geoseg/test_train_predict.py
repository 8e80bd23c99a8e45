"""Short CPU trainings of ``config/sample/unetformer.py`` on the embedded tiles (random-init backbone, as the config
says; this checks the plumbing and reproducibility, not accuracy): same seed, same weights and figures; a
retraining writes ``-v1`` and prediction loads it; resumption continues the epochs; prediction on the result."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

from geoseg.checkpoint import TRAINING_RECORD, read_checkpoint, trained_checkpoint
from geoseg.config import load_config
from geoseg.paths import GEOSEG_ROOT
from geoseg.predict import PredictOptions, predict
from geoseg.train import TrainOptions, train
from geoseg.training import SupervisedSegmentation
from rscommon.datasets import get_dataset
from rscommon.files import InputError

SAMPLE_CONFIG = GEOSEG_ROOT / "config" / "sample" / "unetformer.py"
WEIGHTS = ("model_weights", "sample", "unetformer-sample")
LOGS = ("lightning_logs", "sample", "unetformer-sample")


def read_rows(path) -> list[dict]:
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


@pytest.fixture(scope="module")
def trainings(tmp_path_factory):
    """Three runs in one work folder: train one epoch of two batches, train again from scratch with the same seed
    (Lightning writes ``-v1``), then resume the first checkpoint for a second epoch."""
    work = tmp_path_factory.mktemp("train")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GEOSEG_SAMPLE_CROP", "192")
        patch.setenv("GEOSEG_SAMPLE_REPEATS", "2")
        options = TrainOptions(
            work_dir=work,
            max_epochs=1,
            limit_train_batches=2,
            limit_val_batches=1,
            sanity_val_steps=0,
            num_workers=0,
            seed=3,
        )
        first = train(SAMPLE_CONFIG, options)
        folder = work.joinpath(*WEIGHTS)
        first_state = read_checkpoint(folder / first["best_checkpoint"])["state_dict"]
        second = train(SAMPLE_CONFIG, options)
        options.resume, options.max_epochs = folder / first["best_checkpoint"], 2
        resumed = train(SAMPLE_CONFIG, options)
    return {
        "work": work,
        "folder": folder,
        "first": first,
        "first_state": first_state,
        "second": second,
        "resumed": resumed,
    }


@pytest.mark.slow
def test_training_writes_checkpoint_record_and_epoch_metrics(trainings):
    first = trainings["first"]
    assert first["best_checkpoint"] == "unetformer-sample.ckpt" and first["seed"] == 3
    rows = read_rows(trainings["work"].joinpath(*LOGS, "version_0", "metrics.csv"))
    for key in ("train_mIoU", "train_F1", "train_OA", "val_mIoU", "val_F1", "val_OA"):
        values = [float(row[key]) for row in rows if row.get(key)]
        assert len(values) == 1 and 0.0 <= values[0] <= 1.0, key
    assert {row["epoch"] for row in rows} == {"0"}


@pytest.mark.slow
def test_same_seed_gives_identical_weights_and_metrics(trainings):
    second = trainings["second"]
    assert second["best_checkpoint"] == "unetformer-sample-v1.ckpt", "Lightning keeps the first run's file"
    state = read_checkpoint(trainings["folder"] / second["best_checkpoint"])["state_dict"]
    assert state.keys() == trainings["first_state"].keys()
    for name, tensor in trainings["first_state"].items():
        assert torch.equal(tensor, state[name]), name
    logs = trainings["work"].joinpath(*LOGS)
    assert read_rows(logs / "version_0" / "metrics.csv") == read_rows(logs / "version_1" / "metrics.csv")
    assert trainings["first"]["best_score"] == second["best_score"]


@pytest.mark.slow
def test_training_resumes_from_the_checkpoint(trainings):
    resumed = read_rows(trainings["work"].joinpath(*LOGS, "version_2", "metrics.csv"))
    assert {row["epoch"] for row in resumed} == {"1"}, "resuming continues at epoch 1"
    assert trainings["resumed"]["epochs"] == 2


@pytest.mark.slow
def test_prediction_loads_the_checkpoint_the_last_training_wrote(trainings):
    config = load_config(SAMPLE_CONFIG)
    checkpoint, why = trained_checkpoint(config, trainings["work"])
    assert checkpoint == trainings["folder"] / trainings["resumed"]["best_checkpoint"]
    assert checkpoint.is_file() and TRAINING_RECORD in why
    record = json.loads((trainings["folder"] / TRAINING_RECORD).read_text())
    assert record["best_checkpoint"] == checkpoint.name and record["config"] == str(SAMPLE_CONFIG)


@pytest.mark.slow
def test_prediction_writes_palette_pngs_and_metrics(trainings, tmp_path):
    config = load_config(SAMPLE_CONFIG)
    checkpoint, _ = trained_checkpoint(config, trainings["work"])
    out = tmp_path / "pred"
    scores = predict(config, PredictOptions(checkpoint=checkpoint, output=out, tta="none", num_workers=0))
    spec = get_dataset("Urban")
    files = sorted((out / "pre_p").glob("*.png"))
    assert [f.stem for f in files] == ["mmseg_0", "mmseg_1", "mmseg_2"]
    for path in files:
        with Image.open(path) as image:
            assert image.mode == "P" and image.size == (1024, 1024)
            assert image.getpalette()[: 3 * len(spec.palette)] == [c for rgb in spec.palette for c in rgb]
            assert np.array(image).max() < spec.num_classes
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["mIoU"] == scores["mIoU"] and metrics["OA"] == scores["OA"]
    assert 0.0 <= metrics["mIoU"] <= 100.0 and set(metrics["IoU"]) == {spec.classes[c] for c in spec.scored}


def test_a_crop_too_small_for_the_model_is_one_clear_error(monkeypatch):
    """UNetFormer's window attention cannot take 32 x 32 inputs: the error names the batch size and the config."""
    module = SupervisedSegmentation(load_config(SAMPLE_CONFIG), get_dataset("Urban"))
    with pytest.raises(InputError, match=r"UNetFormer cannot take a 1x3x32x32 batch \(config .*unetformer.py"):
        module(torch.zeros(1, 3, 32, 32))
