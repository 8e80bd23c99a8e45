"""ABCNet: attentive bilateral contextual network (Li et al., ISPRS J. 2021).

Checkpoint-compatible with the ABCNet of the SESSRS/GeoSeg code base: a timm ResNet-18 (SWSL)
context path with linear-attention refinement, a three-conv spatial path, an attentive feature
aggregation and a pixel-shuffle output head.
"""

from __future__ import annotations

import timm
import torch
from torch import nn

from geoseg.models.input_size import InputRule
from geoseg.models.pretrained import load_pretrained_backbone

CONTEXT_BACKBONE = "resnet18.fb_swsl_ig1b_ft_in1k"


class ConvBNReLU(nn.Module):
    """Bias-free convolution, BatchNorm and ReLU (Kaiming-normal initialised, ``a=1``)."""

    def __init__(self, in_chan: int, out_chan: int, ks: int = 3, stride: int = 1, padding: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_chan, out_chan, kernel_size=ks, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_chan)
        self.relu = nn.ReLU(inplace=True)
        nn.init.kaiming_normal_(self.conv.weight, a=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply conv, BatchNorm and ReLU."""
        return self.relu(self.bn(self.conv(x)))


class LinearAttention(nn.Module):
    """Kernel (L2-normalised, first-order Taylor) attention whose cost is linear in H*W.

    Output is ``gamma`` times the attended values; ``gamma`` starts at zero.
    """

    def __init__(self, in_places: int, scale: int = 8, eps: float = 1e-6) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1))
        self.eps = eps
        self.query_conv = nn.Conv2d(in_places, in_places // scale, kernel_size=1)
        self.key_conv = nn.Conv2d(in_places, in_places // scale, kernel_size=1)
        self.value_conv = nn.Conv2d(in_places, in_places, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (B, C, H, W) to the attended (B, C, H, W) features scaled by ``gamma``."""
        batch, channels, height, width = x.shape
        positions = height * width
        query = self.query_conv(x).flatten(2)
        key = self.key_conv(x).flatten(2)
        value = self.value_conv(x).flatten(2)
        query = query / torch.linalg.vector_norm(query, dim=1, keepdim=True)
        key = key / torch.linalg.vector_norm(key, dim=1, keepdim=True)
        # sum_j (1 + q_i.k_j) v_j  /  sum_j (1 + q_i.k_j), with eps added to the key sum.
        denominator = positions + torch.einsum("bkn,bk->bn", query, key.sum(dim=2) + self.eps)
        key_value = torch.einsum("bkn,bcn->bkc", key, value)
        numerator = value.sum(dim=2, keepdim=True) + torch.einsum("bkn,bkc->bcn", query, key_value)
        attended = numerator / denominator.unsqueeze(1)
        return (self.gamma * attended.view(batch, channels, height, width)).contiguous()


class AttentionEnhancementModule(nn.Module):
    """3x3 ConvBNReLU followed by linear attention and BatchNorm."""

    def __init__(self, in_chan: int, out_chan: int) -> None:
        super().__init__()
        self.conv = ConvBNReLU(in_chan, out_chan, ks=3, stride=1, padding=1)
        self.conv_atten = LinearAttention(out_chan)
        self.bn_atten = nn.BatchNorm2d(out_chan)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return BN(attention(conv(x)))."""
        return self.bn_atten(self.conv_atten(self.conv(x)))


class ContextPath(nn.Module):
    """ResNet-18 features at strides 8/16/32 refined top-down with attention and global context."""

    def __init__(self, pretrained: bool = True) -> None:
        super().__init__()
        self.resnet = timm.create_model(
            CONTEXT_BACKBONE, features_only=True, output_stride=32, out_indices=(2, 3, 4), pretrained=False
        )
        if pretrained:
            url = self.resnet.pretrained_cfg["url"]
            load_pretrained_backbone(self.resnet, url.rsplit("/", 1)[-1], url)
        self.arm16 = AttentionEnhancementModule(256, 128)
        self.arm32 = AttentionEnhancementModule(512, 128)
        self.conv_head32 = ConvBNReLU(128, 128, ks=3, stride=1, padding=1)
        self.conv_head16 = ConvBNReLU(128, 128, ks=3, stride=1, padding=1)
        self.conv_avg = ConvBNReLU(512, 128, ks=1, stride=1, padding=0)
        self.up32 = nn.Upsample(scale_factor=2.0)
        self.up16 = nn.Upsample(scale_factor=2.0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return 128-channel context features at strides 8 and 16."""
        feat8, feat16, feat32 = self.resnet(x)
        global_context = self.conv_avg(feat32.mean(dim=(2, 3), keepdim=True))
        context16 = self.conv_head32(self.up32(self.arm32(feat32) + global_context))
        context8 = self.conv_head16(self.up16(self.arm16(feat16) + context16))
        return context8, context16


class SpatialPath(nn.Module):
    """Three strided convolutions (stride 8 overall) and a 1x1 projection to 128 channels."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = ConvBNReLU(3, 64, ks=7, stride=2, padding=3)
        self.conv2 = ConvBNReLU(64, 64, ks=3, stride=2, padding=1)
        self.conv3 = ConvBNReLU(64, 64, ks=3, stride=2, padding=1)
        self.conv_out = ConvBNReLU(64, 128, ks=1, stride=1, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return 128-channel spatial-detail features at stride 8."""
        return self.conv_out(self.conv3(self.conv2(self.conv1(x))))


class FeatureAggregationModule(nn.Module):
    """Concatenate both paths, project with a 1x1 ConvBNReLU and re-weight by linear attention."""

    def __init__(self, in_chan: int, out_chan: int) -> None:
        super().__init__()
        self.convblk = ConvBNReLU(in_chan, out_chan, ks=1, stride=1, padding=0)
        self.conv_atten = LinearAttention(out_chan)

    def forward(self, fsp: torch.Tensor, fcp: torch.Tensor) -> torch.Tensor:
        """Return ``feat * (1 + attention(feat))`` of the fused spatial and context features."""
        feat = self.convblk(torch.cat([fsp, fcp], dim=1))
        return feat * self.conv_atten(feat) + feat


class Output(nn.Module):
    """3x3 ConvBNReLU, 1x1 conv to ``n_classes * up_factor**2`` channels, then pixel shuffle."""

    def __init__(self, in_chan: int, mid_chan: int, n_classes: int, up_factor: int = 32) -> None:
        super().__init__()
        self.up_factor = up_factor
        self.conv = ConvBNReLU(in_chan, mid_chan, ks=3, stride=1, padding=1)
        self.conv_out = nn.Conv2d(mid_chan, n_classes * up_factor * up_factor, kernel_size=1, bias=True)
        self.up = nn.PixelShuffle(up_factor)
        nn.init.kaiming_normal_(self.conv_out.weight, a=1)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return class logits ``up_factor`` times larger than ``x``."""
        return self.up(self.conv_out(self.conv(x)))


class ABCNet(nn.Module):
    """ABCNet returning logits (B, n_classes, H, W) in both train and eval mode.

    ``band`` is accepted for signature compatibility (the context backbone takes 3 bands).
    ``pretrained`` loads the timm SWSL ResNet-18 checkpoint
    (``semi_weakly_supervised_resnet18-118f1556.pth``) from ``weights/`` when present.
    ``conv_out16`` / ``conv_out32`` are the reference's auxiliary heads: they are kept so the
    released checkpoints load strictly, but the forward pass does not use them, as in the reference.
    """

    input_rule = InputRule(multiple=32, min_train_batch=2)

    def __init__(self, band: int = 3, n_classes: int = 8, pretrained: bool = True) -> None:
        super().__init__()
        self.cp = ContextPath(pretrained)
        self.sp = SpatialPath()
        self.fam = FeatureAggregationModule(256, 256)
        self.conv_out = Output(256, 256, n_classes, up_factor=8)
        self.conv_out16 = Output(128, 64, n_classes, up_factor=8)
        self.conv_out32 = Output(128, 64, n_classes, up_factor=16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Segment an image batch (B, 3, H, W), H and W multiples of 32, into (B, n_classes, H, W)."""
        self.input_rule.require(x, "ABCNet")
        context8, _ = self.cp(x)
        return self.conv_out(self.fam(self.sp(x), context8))
