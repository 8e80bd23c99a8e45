"""UNetFormer trained briefly on the embedded LoveDA tiles (``data/real_samples/loveda``), on CPU, for the demo.

Training and prediction use the same three tiles: this checks the pipeline, it is not an evaluation.
The backbone starts from random weights unless ``weights/`` holds them, so the learning rates are
higher than the reference's. Environment knobs for the demo and the tests: ``GEOSEG_SAMPLE_CROP`` (crop
size, default 256) and ``GEOSEG_SAMPLE_REPEATS`` (crops per tile per epoch, default 4); epochs and
batches per epoch come from ``train_supervision.py --max-epochs / --limit-train-batches``.
"""
import os

from torch.optim.lr_scheduler import CosineAnnealingWarmRestarts

from geoseg.datasets import SampleDataset
from geoseg.losses import UNetFormerLoss
from geoseg.models.unetformer import UNetFormer
from geoseg.optim import reference_optimizer
from geoseg.recipe import LoaderSpec
from rscommon.datasets import get_dataset

dataset = "Urban"
spec = get_dataset(dataset)
classes, num_classes, ignore_index = spec.classes, spec.num_classes, spec.ignore_index

max_epoch = 10
train_batch_size, val_batch_size = 4, 1
crop_size = int(os.environ.get("GEOSEG_SAMPLE_CROP", "256"))
repeats = int(os.environ.get("GEOSEG_SAMPLE_REPEATS", "4"))
lr, weight_decay = 1e-3, 5e-4
backbone_lr, backbone_weight_decay = 1e-3, 5e-4

weights_name = "unetformer-sample"
weights_path = f"model_weights/sample/{weights_name}"
test_weights_name = weights_name
log_name = f"sample/{weights_name}"
monitor = "val_mIoU"
early_stopping_patience = max_epoch
test_time_aug = "none"

net = UNetFormer(num_classes=num_classes)
loss = UNetFormerLoss(ignore_index=ignore_index)

train_dataset = SampleDataset("loveda", train=True, crop_size=crop_size, repeats=repeats)
val_dataset = test_dataset = SampleDataset("loveda")
train_loader = LoaderSpec(train_dataset, train_batch_size, train=True)
val_loader = LoaderSpec(val_dataset, val_batch_size, train=False)

optimizer = reference_optimizer(net, lr, weight_decay, backbone_lr, backbone_weight_decay)
lr_scheduler = CosineAnnealingWarmRestarts(optimizer, T_0=max_epoch, T_mult=2)
