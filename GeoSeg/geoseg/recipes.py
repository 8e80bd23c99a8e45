"""The paper's training recipe for each model, shared by its Urban and Potsdam configs.

A config file names its model's recipe with the values it changes, for example
``recipe = unetformer(dataset="Urban")`` or ``recipe = unetformer(dataset="Urban", max_epoch=100, pretrained=False)``;
:func:`geoseg.config.load_config` builds the network, loss, optimiser, scheduler and data from it.

The defaults are the reference's recipe, quirks included, each with a switch:

- ``pretrained=True``: the encoder starts from its ImageNet file in ``weights/`` (missing = an error naming it);
  ``False`` starts from random weights on purpose.
- ``ce_average="all"``: cross-entropy summed over valid pixels and divided by all pixels (the reference);
  ``"valid"`` divides by the valid pixels only.
- ``lookahead_sync="catalyst"``: Lookahead takes its slow weights after step 1 (the reference's catalyst
  Lookahead); ``"timm"`` after step k.
- ``scale_resize="pil"``: the scale augmentation resizes with PIL bicubic (antialiased when shrinking, the
  reference); ``"cv2"`` with cv2 bicubic.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn
from torch.optim.lr_scheduler import CosineAnnealingWarmRestarts
from torch.utils.data import ConcatDataset

from rscommon.datasets import get_dataset
from rscommon.files import InputError

from .datasets import SampleDataset
from .loaders import LoaderSpec, reference_datasets
from .losses import UNetFormerLoss, ce_dice_loss
from .optim import reference_optimizer


@dataclass(frozen=True)
class ModelEntry:
    """How the reference's configs build one model: its constructor (``geoseg.models.<module>.<name>``, imported
    when first built), the keyword arguments of the config's ``net = ...`` line (from the class count) and
    whether the loss adds UNetFormer's auxiliary head."""

    module: str
    name: str
    kwargs: Callable[[int], dict[str, Any]]
    aux_loss: bool = False

    @property
    def constructor(self) -> Callable[..., nn.Module]:
        return getattr(importlib.import_module(f"geoseg.models.{self.module}"), self.name)


MODELS: dict[str, ModelEntry] = {
    "abcnet": ModelEntry("abcnet", "ABCNet", lambda n: {"n_classes": n}),
    "dcswin": ModelEntry("dcswin", "dcswin_small", lambda n: {"num_classes": n}),
    "fanet": ModelEntry("fanet", "FANet", lambda n: {"num_class": n}),
    "ftunetformer": ModelEntry("ftunetformer", "ft_unetformer", lambda n: {"num_classes": n, "decoder_channels": 256}),
    "manet": ModelEntry("manet", "MANet", lambda n: {"num_classes": n}),
    "segformer": ModelEntry("segformer", "SegFormer", lambda n: {"num_classes": n, "phi": "b3", "pretrained": True}),
    "shelfnet": ModelEntry("shelfnet", "ShelfNet", lambda n: {"num_class": n}),
    "swinunet": ModelEntry("swinunet", "swin_unet", lambda n: {"img_size": 1024, "num_classes": n, "window_size": 8}),
    "unetformer": ModelEntry("unetformer", "UNetFormer", lambda n: {"num_classes": n}, aux_loss=True),
}


@dataclass(frozen=True)
class Recipe:
    """Every setting of one training recipe; :meth:`build` turns it into a config's values."""

    model: str
    dataset: str
    weights_name: str
    pretrained: bool = True
    max_epoch: int = 200
    train_batch_size: int = 8
    val_batch_size: int = 8
    crop_size: int = 512
    lr: float = 1e-4
    weight_decay: float = 5e-4
    backbone_lr: float | None = 1e-5
    backbone_weight_decay: float = 5e-4
    lookahead: bool = True
    scheduler_t0: int = 15
    monitor: str = "val_OA"
    save_last: bool = False
    early_stopping_patience: int = 20
    test_time_aug: str = "d4"
    # The embedded tiles of data/real_samples (e.g. ("loveda",)) instead of GeoSeg/data/<dataset>.
    samples: tuple[str, ...] = ()
    sample_repeats: int = 1
    # The reference's behaviours and their corrected alternatives (see the module's docstring).
    ce_average: str = "all"
    lookahead_sync: str = "catalyst"
    scale_resize: str = "pil"

    def replace(self, **changes: Any) -> Recipe:
        """A copy with ``changes`` applied (unknown names are an error naming them)."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise InputError(f"unknown recipe setting(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)

    def build(self) -> dict[str, Any]:
        """The config values: settings, ``net``, ``loss``, datasets, loader specs, ``optimizer``, ``lr_scheduler``."""
        if self.model not in MODELS:
            raise InputError(f"unknown model {self.model!r}; known: {', '.join(MODELS)}")
        entry, spec = MODELS[self.model], get_dataset(self.dataset)
        net_kwargs = entry.kwargs(spec.num_classes)
        net = entry.constructor(**{**net_kwargs, "pretrained": self.pretrained})
        loss = (
            UNetFormerLoss(spec.ignore_index, ce_average=self.ce_average)
            if entry.aux_loss
            else ce_dice_loss(spec.ignore_index, ce_average=self.ce_average)
        )
        train_dataset, val_dataset = self._datasets()
        optimizer = reference_optimizer(
            net,
            self.lr,
            self.weight_decay,
            self.backbone_lr,
            self.backbone_weight_decay,
            self.lookahead,
            self.lookahead_sync,
        )
        folder = "sample" if self.samples else self.dataset
        settings = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {
            **settings,
            "recipe": self,
            "classes": spec.classes,
            "num_classes": spec.num_classes,
            "ignore_index": spec.ignore_index,
            "net_kwargs": net_kwargs,
            "weights_path": f"model_weights/{folder}/{self.weights_name}",
            "test_weights_name": self.weights_name,
            "log_name": f"{folder}/{self.weights_name}",
            "net": net,
            "loss": loss,
            "train_dataset": train_dataset,
            "val_dataset": val_dataset,
            "test_dataset": val_dataset,
            "train_loader": LoaderSpec(train_dataset, self.train_batch_size, train=True),
            "val_loader": LoaderSpec(val_dataset, self.val_batch_size, train=False),
            "optimizer": optimizer,
            "lr_scheduler": CosineAnnealingWarmRestarts(optimizer, T_0=self.scheduler_t0, T_mult=2),
        }

    def _datasets(self):
        if not self.samples:
            return reference_datasets(self.dataset, self.crop_size, self.scale_resize)
        train = [
            SampleDataset(
                s, train=True, crop_size=self.crop_size, repeats=self.sample_repeats, scale_resize=self.scale_resize
            )
            for s in self.samples
        ]
        val = [SampleDataset(s) for s in self.samples]
        if len(self.samples) == 1:
            return train[0], val[0]
        return ConcatDataset(train), ConcatDataset(val)


def abcnet(dataset: str, **settings: Any) -> Recipe:
    """ABCNet (ResNet-18 context path)."""
    return Recipe("abcnet", dataset, "abcnet-512-crop-ms-e200").replace(**settings)


def dcswin(dataset: str, **settings: Any) -> Recipe:
    """DCSwin with a Swin-S encoder (its first stages frozen); cosine restarts every 10 epochs."""
    return Recipe("dcswin", dataset, "dcswin-small-1024-ms-512crop-e200", scheduler_t0=10).replace(**settings)


def fanet(dataset: str, **settings: Any) -> Recipe:
    """FANet (ResNet-18); the reference names its Urban weights ``...-e500`` although it trains 200 epochs."""
    name = "fanet-512-crop-ms-e500" if dataset == "Urban" else "fanet-512-crop-ms-e200"
    return Recipe("fanet", dataset, name).replace(**settings)


def ftunetformer(dataset: str, **settings: Any) -> Recipe:
    """FT-UNetFormer with a Swin-B encoder."""
    return Recipe("ftunetformer", dataset, "ftunetformer-512crop-ms-e200").replace(**settings)


def manet(dataset: str, **settings: Any) -> Recipe:
    """MANet (ResNet-50)."""
    return Recipe("manet", dataset, "manet-512-crop-ms-e200").replace(**settings)


def segformer(dataset: str, **settings: Any) -> Recipe:
    """SegFormer-B3."""
    return Recipe("segformer", dataset, "segformer-b3-512-crop-ms-e200").replace(**settings)


def shelfnet(dataset: str, **settings: Any) -> Recipe:
    """ShelfNet (ResNet-18)."""
    return Recipe("shelfnet", dataset, "shelfnet-512-crop-ms-e200").replace(**settings)


def swinunet(dataset: str, **settings: Any) -> Recipe:
    """Swin-UNet: the reference recipe without Lookahead or a backbone learning rate.

    The network accepts exactly 1024 x 1024 inputs, so it trains on 1024 crops (the reference's 512 crops
    cannot pass its patch embedding) and predicts without scale test-time augmentation.
    """
    return Recipe(
        "swinunet",
        dataset,
        "swinunet-512-crop-ms-e200",
        crop_size=1024,
        backbone_lr=None,
        lookahead=False,
        test_time_aug="lr",
    ).replace(**settings)


def unetformer(dataset: str, **settings: Any) -> Recipe:
    """UNetFormer (ResNet-18) with its auxiliary head's loss; also keeps the last checkpoint."""
    return Recipe("unetformer", dataset, "unetformer-r18-512crop-ms-e200", save_last=True).replace(**settings)
