"""UNetFormer trained briefly on the embedded Potsdam and Vaihingen tiles (Potsdam classes), on CPU, for the demo.

The recipe of ``config/sample/unetformer.py`` on the ISPRS tiles of ``data/real_samples``: training and
prediction use the same two tiles, so this checks the pipeline, it is not an evaluation. The same environment
knobs apply (``GEOSEG_SAMPLE_CROP``, ``GEOSEG_SAMPLE_REPEATS``).
"""
import os

from torch.optim.lr_scheduler import CosineAnnealingWarmRestarts
from torch.utils.data import ConcatDataset

from geoseg.datasets import SampleDataset
from geoseg.losses import UNetFormerLoss
from geoseg.models.unetformer import UNetFormer
from geoseg.optim import reference_optimizer
from geoseg.recipe import LoaderSpec
from rscommon.datasets import get_dataset

dataset = "potsdam"
spec = get_dataset(dataset)
classes, num_classes, ignore_index = spec.classes, spec.num_classes, spec.ignore_index
sources = ("potsdam", "vaihingen")

max_epoch = 10
train_batch_size, val_batch_size = 4, 1
crop_size = int(os.environ.get("GEOSEG_SAMPLE_CROP", "256"))
repeats = int(os.environ.get("GEOSEG_SAMPLE_REPEATS", "4"))
lr, weight_decay = 1e-3, 5e-4
backbone_lr, backbone_weight_decay = 1e-3, 5e-4

weights_name = "unetformer-sample-potsdam"
weights_path = f"model_weights/sample/{weights_name}"
test_weights_name = weights_name
log_name = f"sample/{weights_name}"
monitor = "val_mIoU"
early_stopping_patience = max_epoch
test_time_aug = "none"

net = UNetFormer(num_classes=num_classes)
loss = UNetFormerLoss(ignore_index=ignore_index)

train_dataset = ConcatDataset([SampleDataset(s, train=True, crop_size=crop_size, repeats=repeats) for s in sources])
val_dataset = test_dataset = ConcatDataset([SampleDataset(s) for s in sources])
train_loader = LoaderSpec(train_dataset, train_batch_size, train=True)
val_loader = LoaderSpec(val_dataset, val_batch_size, train=False)

optimizer = reference_optimizer(net, lr, weight_decay, backbone_lr, backbone_weight_decay)
lr_scheduler = CosineAnnealingWarmRestarts(optimizer, T_0=max_epoch, T_mult=2)
