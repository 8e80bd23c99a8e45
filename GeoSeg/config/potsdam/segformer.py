"""SegFormer-B3 on ISPRS Potsdam with the reference recipe."""
from torch.optim.lr_scheduler import CosineAnnealingWarmRestarts

from geoseg.losses import ce_dice_loss
from geoseg.models.segformer import SegFormer
from geoseg.optim import reference_optimizer
from geoseg.recipe import reference_datasets, reference_loaders
from rscommon.datasets import get_dataset

dataset = "potsdam"
spec = get_dataset(dataset)
classes, num_classes, ignore_index = spec.classes, spec.num_classes, spec.ignore_index

max_epoch = 200
train_batch_size = val_batch_size = 8
crop_size = 512
lr, weight_decay = 1e-4, 5e-4
backbone_lr, backbone_weight_decay = 1e-5, 5e-4

weights_name = "segformer-b3-512-crop-ms-e200"
weights_path = f"model_weights/{dataset}/{weights_name}"
test_weights_name = weights_name
log_name = f"{dataset}/{weights_name}"
monitor = "val_OA"

net = SegFormer(num_classes=num_classes, phi="b3", pretrained=True)
loss = ce_dice_loss(ignore_index)

train_dataset, val_dataset = reference_datasets(dataset, crop_size)
test_dataset = val_dataset
train_loader, val_loader = reference_loaders(train_dataset, val_dataset, train_batch_size, val_batch_size)

optimizer = reference_optimizer(net, lr, weight_decay, backbone_lr, backbone_weight_decay)
lr_scheduler = CosineAnnealingWarmRestarts(optimizer, T_0=15, T_mult=2)
