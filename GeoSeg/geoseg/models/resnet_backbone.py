"""Torchvision ResNet trunk (no pooling head) that returns its four stage outputs."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torchvision import models

from geoseg.models.pretrained import load_pretrained_backbone

_RESNETS: dict[str, tuple[Callable[..., models.ResNet], models.WeightsEnum]] = {
    "resnet18": (models.resnet18, models.ResNet18_Weights.IMAGENET1K_V1),
    "resnet34": (models.resnet34, models.ResNet34_Weights.IMAGENET1K_V1),
    "resnet50": (models.resnet50, models.ResNet50_Weights.IMAGENET1K_V1),
    "resnet101": (models.resnet101, models.ResNet101_Weights.IMAGENET1K_V1),
    "resnet152": (models.resnet152, models.ResNet152_Weights.IMAGENET1K_V1),
}


class ResNetBackbone(nn.Module):
    """Stem and ``layer1..layer4`` of a torchvision ResNet; outputs at strides 4, 8, 16 and 32.

    With ``pretrained`` the torchvision ImageNet checkpoint (e.g. ``resnet18-f37072fd.pth``) is read
    from ``weights/``; a missing file is an error naming it.
    ``channels`` lists the channel count of each returned stage.
    """

    def __init__(self, resnet_type: str = "resnet18", pretrained: bool = True) -> None:
        super().__init__()
        if resnet_type not in _RESNETS:
            raise ValueError(f"unsupported ResNet type {resnet_type!r}; choose one of {sorted(_RESNETS)}")
        build, imagenet = _RESNETS[resnet_type]
        trunk = build(weights=None)
        if pretrained:
            load_pretrained_backbone(trunk, imagenet.url.rsplit("/", 1)[-1], imagenet.url, strict=True)
        self.conv1 = trunk.conv1
        self.bn1 = trunk.bn1
        self.relu = trunk.relu
        self.maxpool = trunk.maxpool
        self.layer1 = trunk.layer1
        self.layer2 = trunk.layer2
        self.layer3 = trunk.layer3
        self.layer4 = trunk.layer4
        widest = trunk.fc.in_features
        self.channels: list[int] = [widest // 8, widest // 4, widest // 2, widest]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return the outputs of ``layer1`` .. ``layer4`` for an image batch ``x`` (B, 3, H, W)."""
        stem = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        c1 = self.layer1(stem)
        c2 = self.layer2(c1)
        c3 = self.layer3(c2)
        return c1, c2, c3, self.layer4(c3)
