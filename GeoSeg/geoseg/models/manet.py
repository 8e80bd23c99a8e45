"""MANet: a timm ResNet encoder whose skip features pass through kernel (linear) position attention plus
channel attention, decoded by transposed-convolution blocks (Li et al., "Multiattention network for
semantic segmentation of fine-resolution remote sensing images", IEEE TGRS 2021).

Attribute names follow the paper's repository so that its checkpoints load with ``strict=True``.
"""

from __future__ import annotations

from pathlib import PurePosixPath

import timm
import torch
import torch.nn.functional as F
from torch import nn

from .input_size import InputRule
from .pretrained import load_pretrained_backbone


def timm_weight_file(backbone_name: str) -> tuple[str, str]:
    """File name and official URL of the ImageNet weights timm publishes for ``backbone_name``.

    For ``resnet50`` this is ``resnet50_a1_0-14fe96d1.pth``, the file the reference loads.
    """
    cfg = timm.models.get_pretrained_cfg(backbone_name)
    url = getattr(cfg, "url", None) if cfg is not None else None
    if not url:
        return f"{backbone_name}.pth", f"the timm model hub ({backbone_name})"
    return PurePosixPath(url).name, url


class PAM_Module(nn.Module):
    """Position attention with a softplus kernel: linear in the number of pixels.

    ``out = x + gamma * (V K^T Q) / (Q . sum(K))`` with ``Q = softplus(q(x))`` and ``K = softplus(k(x))``.
    """

    def __init__(self, in_places: int, scale: int = 8, eps: float = 1e-6) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1))
        self.in_places = in_places
        self.eps = eps
        self.query_conv = nn.Conv2d(in_places, in_places // scale, kernel_size=1)
        self.key_conv = nn.Conv2d(in_places, in_places // scale, kernel_size=1)
        self.value_conv = nn.Conv2d(in_places, in_places, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(B, C, H, W)`` -> same shape."""
        query = F.softplus(self.query_conv(x)).flatten(2)  # B, m, N
        key = F.softplus(self.key_conv(x)).flatten(2)  # B, m, N
        value = self.value_conv(x).flatten(2)  # B, C, N
        key_value = torch.bmm(key, value.transpose(1, 2))  # B, m, C
        key_total = key.sum(dim=-1, keepdim=True) + self.eps  # B, m, 1
        normaliser = (query * key_total).sum(dim=1, keepdim=True)  # B, 1, N
        attended = torch.bmm(key_value.transpose(1, 2), query) / normaliser  # B, C, N
        return x + self.gamma * attended.view_as(x)


class CAM_Module(nn.Module):
    """Channel attention: each channel becomes a softmax-weighted mix of all channels (DANet style)."""

    def __init__(self) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(B, C, H, W)`` -> same shape."""
        flat = x.flatten(2)  # B, C, N
        energy = torch.bmm(flat, flat.transpose(1, 2))  # B, C, C
        weights = torch.softmax(energy.amax(dim=-1, keepdim=True) - energy, dim=-1)
        mixed = torch.bmm(weights, flat).view_as(x)
        return self.gamma * mixed + x


class PAM_CAM_Layer(nn.Module):
    """Sum of the position-attention and channel-attention views of the same feature map."""

    def __init__(self, in_ch: int) -> None:
        super().__init__()
        self.PAM = PAM_Module(in_ch)
        self.CAM = CAM_Module()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(B, C, H, W)`` -> same shape."""
        return self.PAM(x) + self.CAM(x)


class DecoderBlock(nn.Module):
    """1x1 squeeze to a quarter of the channels, stride-2 transposed 3x3, 1x1 expand; each with BN + ReLU."""

    def __init__(self, in_channels: int, n_filters: int) -> None:
        super().__init__()
        mid = in_channels // 4
        self.conv1 = nn.Conv2d(in_channels, mid, 1)
        self.norm1 = nn.BatchNorm2d(mid)
        self.deconv2 = nn.ConvTranspose2d(mid, mid, 3, stride=2, padding=1, output_padding=1)
        self.norm2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, n_filters, 1)
        self.norm3 = nn.BatchNorm2d(n_filters)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_channels, H, W)`` -> ``(B, n_filters, 2H, 2W)``."""
        x = F.relu(self.norm1(self.conv1(x)))
        x = F.relu(self.norm2(self.deconv2(x)))
        return F.relu(self.norm3(self.conv3(x)))


class MANet(nn.Module):
    """Multi-attention network; returns logits ``(B, num_classes, H, W)`` for an input ``(B, 3, H, W)``.

    ``pretrained`` reads timm's ImageNet weights for ``backbone_name`` from ``weights/`` (for resnet50:
    ``resnet50_a1_0-14fe96d1.pth``); a missing file is an error naming it.
    ``num_channels`` is the number of input bands given to the timm stem.
    """

    input_rule = InputRule(multiple=32, min_train_batch=2)

    def __init__(
        self, num_channels: int = 3, num_classes: int = 5, backbone_name: str = "resnet50", pretrained: bool = True
    ) -> None:
        super().__init__()
        self.name = "MANet"
        self.backbone = timm.create_model(
            backbone_name,
            in_chans=num_channels,
            features_only=True,
            output_stride=32,
            out_indices=(1, 2, 3, 4),
            pretrained=False,
        )
        if pretrained:
            load_pretrained_backbone(self.backbone, *timm_weight_file(backbone_name))
        filters = self.backbone.feature_info.channels()

        self.attention4 = PAM_CAM_Layer(filters[3])
        self.attention3 = PAM_CAM_Layer(filters[2])
        self.attention2 = PAM_CAM_Layer(filters[1])
        self.attention1 = PAM_CAM_Layer(filters[0])

        self.decoder4 = DecoderBlock(filters[3], filters[2])
        self.decoder3 = DecoderBlock(filters[2], filters[1])
        self.decoder2 = DecoderBlock(filters[1], filters[0])
        self.decoder1 = DecoderBlock(filters[0], filters[0])

        self.finaldeconv1 = nn.ConvTranspose2d(filters[0], 32, 4, 2, 1)
        self.finalconv2 = nn.Conv2d(32, 32, 3, padding=1)
        self.finalconv3 = nn.Conv2d(32, num_classes, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(B, num_channels, H, W)`` with H, W multiples of 32 -> logits ``(B, num_classes, H, W)``."""
        self.input_rule.require(x, "MANet")
        skip1, skip2, skip3, deepest = self.backbone(x)
        d4 = self.decoder4(self.attention4(deepest)) + self.attention3(skip3)
        d3 = self.decoder3(d4) + self.attention2(skip2)
        d2 = self.decoder2(d3) + self.attention1(skip1)
        d1 = self.decoder1(d2)
        out = F.relu(self.finaldeconv1(d1))
        out = F.relu(self.finalconv2(out))
        return self.finalconv3(out)
