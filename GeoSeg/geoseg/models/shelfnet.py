"""ShelfNet for fast semantic segmentation (Zhuang et al., arXiv:1811.11254).

Checkpoint-compatible with the ShelfNet of the SESSRS/GeoSeg code base: a torchvision ResNet
encoder, 1x1 lateral reductions, then decoder / encoder / decoder "shelf" columns of residual
blocks with plain Conv + BatchNorm + ReLU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from geoseg.models.conv_bn_act import ConvBNAct, DeConvBNAct, make_activation
from geoseg.models.input_size import InputRule
from geoseg.models.resnet_backbone import ResNetBackbone


class SBlock(nn.Module):
    """Residual block on the sum of a lateral input and a vertical (neighbouring column) input."""

    def __init__(self, channels: int, act_type: str) -> None:
        super().__init__()
        self.conv1 = ConvBNAct(channels, channels, 3, act_type=act_type)
        self.conv2 = ConvBNAct(channels, channels, 3, act_type="none")
        self.act = make_activation(act_type)

    def forward(self, x_l: torch.Tensor, x_v: torch.Tensor | float = 0.0) -> torch.Tensor:
        """Return act(conv2(conv1(x_l + x_v)) + x_l + x_v)."""
        merged = x_l + x_v
        return self.act(self.conv2(self.conv1(merged)) + merged)


class DecoderBlock(nn.Module):
    """Column that walks from the coarsest level D up to level A with transposed-conv upsampling."""

    def __init__(self, channels: list[int], act_type: str) -> None:
        super().__init__()
        self.block_D = SBlock(channels[3], act_type)
        self.up_D = DeConvBNAct(channels[3], channels[2], act_type=act_type)
        self.block_C = SBlock(channels[2], act_type)
        self.up_C = DeConvBNAct(channels[2], channels[1], act_type=act_type)
        self.block_B = SBlock(channels[1], act_type)
        self.up_B = DeConvBNAct(channels[1], channels[0], act_type=act_type)
        self.block_A = SBlock(channels[0], act_type)

    def forward(
        self, x_a: torch.Tensor, x_b: torch.Tensor, x_c: torch.Tensor, x_d: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return the refined levels A, B and C (finest first)."""
        x_d = self.block_D(x_d)
        x_c = self.block_C(x_c, self.up_D(x_d))
        x_b = self.block_B(x_b, self.up_C(x_c))
        x_a = self.block_A(x_a, self.up_B(x_b))
        return x_a, x_b, x_c


class EncoderBlock(nn.Module):
    """Column that walks from level A down to a new level D with strided 3x3 convolutions."""

    def __init__(self, channels: list[int], act_type: str) -> None:
        super().__init__()
        self.block_A = SBlock(channels[0], act_type)
        self.down_A = ConvBNAct(channels[0], channels[1], 3, 2, act_type=act_type)
        self.block_B = SBlock(channels[1], act_type)
        self.down_B = ConvBNAct(channels[1], channels[2], 3, 2, act_type=act_type)
        self.block_C = SBlock(channels[2], act_type)
        self.down_C = ConvBNAct(channels[2], channels[3], 3, 2, act_type=act_type)

    def forward(
        self, x_a: torch.Tensor, x_b: torch.Tensor, x_c: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return levels A, B, C and the new coarsest level D."""
        x_a = self.block_A(x_a)
        x_b = self.block_B(x_b, self.down_A(x_a))
        x_c = self.block_C(x_c, self.down_B(x_b))
        return x_a, x_b, x_c, self.down_C(x_c)


class ShelfNet(nn.Module):
    """ShelfNet on a ResNet :class:`ResNetBackbone` (ImageNet weights from ``weights/`` with ``pretrained``, as
    the reference always loads them); returns logits (B, num_class, H, W). ``n_channel`` is kept for the reference's
    signature: the encoder takes 3 bands."""

    input_rule = InputRule(multiple=32, min_train_batch=2)

    def __init__(
        self,
        num_class: int = 1,
        n_channel: int = 3,
        backbone_type: str = "resnet18",
        hid_channels: tuple[int, ...] | list[int] = (32, 64, 128, 256),
        act_type: str = "relu",
        pretrained: bool = True,
    ) -> None:
        super().__init__()
        if not backbone_type.startswith("resnet"):
            raise ValueError(f"ShelfNet supports torchvision ResNet backbones, not {backbone_type!r}")
        hid_channels = list(hid_channels)
        self.backbone = ResNetBackbone(backbone_type, pretrained)
        channels = self.backbone.channels
        self.conv_A = ConvBNAct(channels[0], hid_channels[0], 1, act_type=act_type)
        self.conv_B = ConvBNAct(channels[1], hid_channels[1], 1, act_type=act_type)
        self.conv_C = ConvBNAct(channels[2], hid_channels[2], 1, act_type=act_type)
        self.conv_D = ConvBNAct(channels[3], hid_channels[3], 1, act_type=act_type)
        self.decoder2 = DecoderBlock(hid_channels, act_type)
        self.encoder3 = EncoderBlock(hid_channels, act_type)
        self.decoder4 = DecoderBlock(hid_channels, act_type)
        self.classifier = nn.Conv2d(hid_channels[0], num_class, kernel_size=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Segment an image batch (B, 3, H, W), H and W multiples of 32, into logits (B, num_class, H, W)."""
        self.input_rule.require(x, "ShelfNet")
        c1, c2, c3, c4 = self.backbone(x)
        column1 = (self.conv_A(c1), self.conv_B(c2), self.conv_C(c3), self.conv_D(c4))
        column2 = self.decoder2(*column1)
        column3 = self.encoder3(*column2)
        finest = self.decoder4(*column3)[0]
        logits = self.classifier(finest)
        return F.interpolate(logits, x.shape[2:], mode="bilinear", align_corners=True)
