"""Swin-UNet on LoveDA Urban: the reference recipe without Lookahead or a backbone learning rate.

The network accepts exactly ``img_size`` x ``img_size`` inputs, so it trains on 1024 crops (the reference's
512 crops cannot pass its patch embedding) and predicts without scale test-time augmentation.
"""
from torch.optim.lr_scheduler import CosineAnnealingWarmRestarts

from geoseg.losses import ce_dice_loss
from geoseg.models.swinunet import swin_unet
from geoseg.optim import reference_optimizer
from geoseg.recipe import reference_datasets, reference_loaders
from rscommon.datasets import get_dataset

dataset = "Urban"
spec = get_dataset(dataset)
classes, num_classes, ignore_index = spec.classes, spec.num_classes, spec.ignore_index

max_epoch = 200
train_batch_size = val_batch_size = 8
img_size = crop_size = 1024
lr, weight_decay = 1e-4, 5e-4

weights_name = "swinunet-512-crop-ms-e200"
weights_path = f"model_weights/{dataset}/{weights_name}"
test_weights_name = weights_name
log_name = f"{dataset}/{weights_name}"
monitor = "val_OA"
test_time_aug = "lr"

net = swin_unet(img_size=img_size, num_classes=num_classes, window_size=8)
loss = ce_dice_loss(ignore_index)

train_dataset, val_dataset = reference_datasets(dataset, crop_size)
test_dataset = val_dataset
train_loader, val_loader = reference_loaders(train_dataset, val_dataset, train_batch_size, val_batch_size)

optimizer = reference_optimizer(net, lr, weight_decay, backbone_lr=None, lookahead=False)
lr_scheduler = CosineAnnealingWarmRestarts(optimizer, T_0=15, T_mult=2)
