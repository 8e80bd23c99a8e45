"""GeoSeg's scripts end bad input in exit 2 and one line naming the file (an image or a crop size the network
cannot take, found before it runs), and a failure of the network itself in exit 1 as a bug, not as bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from exit_codes import assert_bad_input, assert_bug, load_script
from PIL import Image

from geoseg.paths import GEOSEG_ROOT

TRAIN = load_script(GEOSEG_ROOT / "train_supervision.py")
PREDICT = load_script(GEOSEG_ROOT / "test.py")

CONFIG = """
import torch

from geoseg.datasets import SegmentationFolder, val_transform
from geoseg.loaders import LoaderSpec
from geoseg.models.unetformer import UNetFormer
from rscommon.datasets import get_dataset

dataset = "Urban"
spec = get_dataset(dataset)
classes, num_classes, ignore_index = spec.classes, spec.num_classes, spec.ignore_index
net = {net}
loss = torch.nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
lr_scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1)
test_dataset = SegmentationFolder({root!r}, val_transform())
train_loader = val_loader = LoaderSpec(test_dataset, 1, train=False)
max_epoch, monitor, test_time_aug = 1, "val_mIoU", "none"
weights_name = test_weights_name = log_name = "tiny"
weights_path = "model_weights/tiny"
crop_size = 100
"""
CONV = "torch.nn.Conv2d(3, num_classes, 3, padding=1)"
UNETFORMER = "UNetFormer(num_classes=num_classes, pretrained=False)"
BUG = "a bug inside the network"


@pytest.fixture
def folder(tmp_path):
    """Two 40 x 48 images with masks, a config per network and a checkpoint of the convolution."""
    rng = np.random.default_rng(0)
    for kind in ("images", "masks"):
        (tmp_path / "data" / kind).mkdir(parents=True)
    for index in range(2):
        image = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
        Image.fromarray(image).save(tmp_path / "data" / "images" / f"t{index}.png")
        Image.fromarray(rng.integers(0, 7, (40, 48), dtype=np.uint8)).save(tmp_path / "data/masks" / f"t{index}.png")
    for name, net in (("conv", CONV), ("unetformer", UNETFORMER)):
        (tmp_path / f"{name}.py").write_text(CONFIG.format(net=net, root=str(tmp_path / "data")))
    net = torch.nn.Conv2d(3, 8, 3, padding=1)
    torch.save({"state_dict": {f"net.{k}": v for k, v in net.state_dict().items()}}, tmp_path / "conv.ckpt")
    return tmp_path


def failing_convolution(self, x):
    raise RuntimeError(BUG)


def predict_args(folder, config: str) -> list:
    return ["-c", folder / config, "--ckpt", folder / "conv.ckpt", "-o", folder / "out", "--num-workers", 0]


def train_args(folder, config: str) -> list:
    limits = ["--limit-train-batches", 1, "--limit-val-batches", 1, "--sanity-val-steps", 0]
    return ["-c", folder / config, "--work-dir", folder, "--max-epochs", 1, "--num-workers", 0, *limits]


def test_prediction_refuses_an_image_the_network_cannot_take_before_it_runs(folder, monkeypatch):
    monkeypatch.setattr(torch.nn.Conv2d, "forward", failing_convolution)  # the network must not run
    assert_bad_input(PREDICT.main, predict_args(folder, "unetformer.py"), "t0.png: 40x48 image: UNetFormer takes")


def test_a_failure_inside_the_network_is_a_bug_when_predicting(folder, monkeypatch):
    monkeypatch.setattr(torch.nn.Conv2d, "forward", failing_convolution)
    assert_bug(PREDICT.main, predict_args(folder, "conv.py"), RuntimeError, BUG)


def test_training_refuses_a_crop_size_the_network_cannot_take(folder):
    assert_bad_input(TRAIN.main, train_args(folder, "unetformer.py"), "unetformer.py: crop_size 100: UNetFormer")


def test_a_failure_inside_the_network_is_a_bug_when_training(folder, monkeypatch):
    monkeypatch.setattr(torch.nn.Conv2d, "forward", failing_convolution)
    assert_bug(TRAIN.main, train_args(folder, "conv.py"), RuntimeError, BUG)
