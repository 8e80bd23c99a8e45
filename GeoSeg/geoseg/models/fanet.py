"""FANet: real-time semantic segmentation with fast attention (Hu et al., arXiv:2007.03815).

Checkpoint-compatible with the FANet of the SESSRS/GeoSeg code base (ResNet-18 trunk whose first
residual block also halves the resolution, so the four stages sit at strides 8, 16, 32 and 64).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import BasicBlock

from geoseg.models.conv_bn_act import ConvBNAct, DeConvBNAct
from geoseg.models.input_size import InputRule
from geoseg.models.resnet_backbone import ResNetBackbone


class FastAttention(nn.Module):
    """Cosine-similarity linear attention over all positions, with a conv-refined residual."""

    def __init__(self, in_channels: int, out_channels: int, act_type: str) -> None:
        super().__init__()
        self.conv_q = ConvBNAct(in_channels, out_channels, 3, act_type="none")
        self.conv_k = ConvBNAct(in_channels, out_channels, 3, act_type="none")
        self.conv_v = ConvBNAct(in_channels, out_channels, 3, act_type="none")
        self.conv_fuse = ConvBNAct(out_channels, out_channels, 3, act_type=act_type)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (B, in_channels, H, W) to (B, out_channels, H, W)."""
        value = self.conv_v(x)
        batch, channels, height, width = value.shape
        positions = height * width
        query = F.normalize(self.conv_q(x).flatten(2), dim=1)
        key = F.normalize(self.conv_k(x).flatten(2), dim=1)
        # Q (K^T V) / n, evaluated as (Q K^T) V: a C x C product instead of an n x n one.
        affinity = torch.bmm(query, key.transpose(1, 2))
        attended = torch.bmm(affinity, value.flatten(2)) / positions
        return self.conv_fuse(attended.view(batch, channels, height, width)) + value


class FuseUp(nn.Module):
    """Add the (optionally 2x transposed-conv upsampled) coarser map, then a 3x3 conv."""

    def __init__(self, in_channels: int, out_channels: int, has_up: bool = True, act_type: str = "relu") -> None:
        super().__init__()
        self.has_up = has_up
        if has_up:
            self.up = DeConvBNAct(in_channels, in_channels, act_type=act_type, inplace=True)
        self.conv = ConvBNAct(in_channels, out_channels, 3, act_type=act_type, inplace=True)

    def forward(self, x_fa: torch.Tensor, x_up: torch.Tensor | None = None) -> torch.Tensor:
        """Fuse attention features ``x_fa`` with the coarser stage ``x_up`` (required when ``has_up``)."""
        if self.has_up:
            if x_up is None:
                raise ValueError("FuseUp with has_up=True needs the coarser feature map x_up")
            x_fa = x_fa + self.up(x_up)
        return self.conv(x_fa)


class SegHead(nn.Sequential):
    """3x3 ConvBNAct to ``hid_channels`` followed by a bias-free 1x1 classifier."""

    def __init__(self, in_channels: int, num_class: int, act_type: str, hid_channels: int = 128) -> None:
        super().__init__(
            ConvBNAct(in_channels, hid_channels, 3, act_type=act_type),
            nn.Conv2d(in_channels=hid_channels, out_channels=num_class, kernel_size=1, bias=False),
        )


class FANet(nn.Module):
    """FANet on a ResNet-18/34 :class:`ResNetBackbone` (ImageNet weights from ``weights/`` with ``pretrained``, as
    the reference always loads them); returns logits (B, num_class, H, W). ``n_channel`` is kept for the reference's
    signature: the encoder takes 3 bands."""

    input_rule = InputRule(multiple=64, min_train_batch=2)

    def __init__(
        self,
        num_class: int = 1,
        n_channel: int = 3,
        att_channel: int = 32,
        backbone_type: str = "resnet18",
        cat_feat: bool = True,
        act_type: str = "relu",
        pretrained: bool = True,
    ) -> None:
        super().__init__()
        if backbone_type not in ("resnet18", "resnet34"):
            raise ValueError(f"FANet supports resnet18 and resnet34 backbones, not {backbone_type!r}")
        self.backbone = ResNetBackbone(backbone_type, pretrained)
        channels = self.backbone.channels
        stem_width = channels[0]
        # The first residual block also downsamples (with a strided 1x1 shortcut); it starts untrained.
        self.backbone.layer1[0] = BasicBlock(
            stem_width, stem_width, stride=2, downsample=ConvBNAct(stem_width, stem_width, 1, 2, act_type="none")
        )
        self.cat_feat = cat_feat
        self.fast_attention = nn.ModuleList(FastAttention(c, att_channel, act_type) for c in channels)
        deepest = len(channels) - 1
        self.fuse_up = nn.ModuleList(
            FuseUp(att_channel, att_channel, has_up=stage < deepest, act_type=act_type)
            for stage in range(len(channels))
        )
        head_in = att_channel * len(channels) if cat_feat else att_channel
        self.seg_head = SegHead(head_in, num_class, act_type)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Segment images (B, 3, H, W), H and W multiples of 64, into logits (B, num_class, H, W)."""
        self.input_rule.require(x, "FANet")
        stages = self.backbone(x)
        fused: list[torch.Tensor] = []
        coarser = None
        for stage in reversed(range(len(stages))):
            coarser = self.fuse_up[stage](self.fast_attention[stage](stages[stage]), coarser)
            fused.insert(0, coarser)
        finest = fused[0]
        if self.cat_feat:
            size = finest.shape[2:]
            resized = [F.interpolate(f, size, mode="bilinear", align_corners=True) for f in fused[1:]]
            finest = torch.cat([finest, *resized], dim=1)
        logits = self.seg_head(finest)
        return F.interpolate(logits, x.shape[2:], mode="bilinear", align_corners=True)
