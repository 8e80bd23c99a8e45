"""DC-Swin (Wang et al., IEEE GRSL 2022): a Swin encoder with the densely connected feature aggregation module.

``dcswin_small`` (the GeoSeg configs' choice), ``dcswin_tiny`` and ``dcswin_base`` differ only in the Swin
size. The first two backbone stages are frozen, as in the reference. State_dict keys match the reference
checkpoints (``backbone.*``, ``decoder.dcfam.down34.convbn2.1.weight``, ``decoder.dcfam.pa.gamma``, ...).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from geoseg.models.conv_bn_act import ConvBNAct
from geoseg.models.input_size import InputRule
from geoseg.models.seg_layers import Conv, SeparableConvBN
from geoseg.models.swin import SwinTransformer, load_swin_segmentation_weights


def channel_l2_normalize(x: torch.Tensor) -> torch.Tensor:
    """Divide each position's channel vector of x (B, C, N) by its L2 norm."""
    return x * (1.0 / torch.linalg.vector_norm(x, dim=-2)).unsqueeze(-2)


class SharedSpatialAttention(nn.Module):
    """Linear-complexity position attention with L2-normalised queries/keys (a first-order softmax kernel).

    ``out = x + gamma * (sum(V) + (V K^T) Q) / (N + Q . (sum(K) + eps))`` per position, with 1x1 conv
    projections (queries/keys reduced 8x).
    """

    def __init__(self, in_places: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1))
        self.eps = eps
        self.query_conv = nn.Conv2d(in_places, in_places // 8, kernel_size=1)
        self.key_conv = nn.Conv2d(in_places, in_places // 8, kernel_size=1)
        self.value_conv = nn.Conv2d(in_places, in_places, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        b, c, h, w = x.shape
        q = channel_l2_normalize(self.query_conv(x).flatten(2))
        k = channel_l2_normalize(self.key_conv(x).flatten(2))
        v = self.value_conv(x).flatten(2)
        norm = 1.0 / (h * w + torch.einsum("bmn,bm->bn", q, k.sum(dim=-1) + self.eps))
        context = torch.einsum("bmn,bcn->bmc", k, v)
        attended = v.sum(dim=-1, keepdim=True) + torch.einsum("bmn,bmc->bcn", q, context)
        return x + self.gamma * (attended * norm.unsqueeze(1)).view(b, c, h, w)


class SharedChannelAttention(nn.Module):
    """Linear-complexity channel attention on the L2-normalised input (queries = keys, values = input).

    ``out = x + gamma * (sum_c(V) + (V K^T) Q) / (N + sum_n K (sum_c Q + eps))`` per channel.
    """

    def __init__(self, eps: float = 1e-6) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        b, c, h, w = x.shape
        v = x.flatten(2)
        qk = channel_l2_normalize(v)
        norm = 1.0 / (h * w + torch.einsum("bcn,bn->bc", qk, qk.sum(dim=-2) + self.eps))
        context = torch.einsum("bcn,bmn->bcm", v, qk)
        attended = v.sum(dim=-2, keepdim=True) + torch.einsum("bcm,bmn->bcn", context, qk)
        return x + self.gamma * (attended * norm.unsqueeze(-1)).view(b, c, h, w)


def conv_bn(in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1) -> ConvBNAct:
    """Bias-free convolution and BatchNorm."""
    return ConvBNAct(in_channels, out_channels, kernel_size, stride, act_type="none")


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int = 3) -> ConvBNAct:
    """Bias-free convolution, BatchNorm and ReLU."""
    return ConvBNAct(in_channels, out_channels, kernel_size, act_type="relu")


def separable_bn_relu(in_channels: int, out_channels: int, dilation: int) -> SeparableConvBN:
    """Dilated depthwise 3x3, pointwise 1x1, BatchNorm, ReLU."""
    return SeparableConvBN(in_channels, out_channels, 3, dilation, norm_between=False, act=nn.ReLU)


class DownConnection(nn.Module):
    """Residual stride-2 downsampling: two 3x3 conv-BN (ReLU between) plus a strided 3x3 conv-BN shortcut."""

    def __init__(self, inplanes: int, planes: int, stride: int = 2) -> None:
        super().__init__()
        self.convbn1 = conv_bn(inplanes, planes, 3, stride=1)
        self.convbn2 = conv_bn(planes, planes, 3, stride=stride)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = conv_bn(inplanes, planes, 3, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, inplanes, H, W) -> (B, planes, H/2, W/2)."""
        return self.relu(self.convbn2(self.relu(self.convbn1(x))) + self.downsample(x))


class DCFAM(nn.Module):
    """Densely connected feature aggregation over the four Swin stages; returns maps at strides 4 and 8.

    Downward paths pass stage features through the shared spatial/channel attention and strided residual
    convs; upward paths (``lf4``, ``lf3``) are dilated separable convs with 2x nearest upsampling.
    """

    def __init__(self, encoder_channels: Sequence[int] = (96, 192, 384, 768), atrous_rates: Sequence[int] = (6, 12)):
        super().__init__()
        c1, c2, c3, c4 = encoder_channels
        rate1, rate2 = atrous_rates
        self.conv4 = Conv(c4, c4, kernel_size=1)
        self.conv1 = Conv(c1, c1, kernel_size=1)
        self.lf4 = nn.Sequential(
            separable_bn_relu(c4, c3, rate1),
            nn.UpsamplingNearest2d(scale_factor=2),
            separable_bn_relu(c3, c2, rate2),
            nn.UpsamplingNearest2d(scale_factor=2),
        )
        self.lf3 = nn.Sequential(
            separable_bn_relu(c3, c2, rate1),
            nn.UpsamplingNearest2d(scale_factor=2),
            separable_bn_relu(c2, c1, rate2),
            nn.UpsamplingNearest2d(scale_factor=2),
        )
        self.ca = SharedChannelAttention()
        self.pa = SharedSpatialAttention(in_places=c3)
        self.down12 = DownConnection(c1, c2)
        self.down231 = DownConnection(c2, c3)
        self.down232 = DownConnection(c2, c3)
        self.down34 = DownConnection(c3, c4)

    def forward(
        self, x1: torch.Tensor, x2: torch.Tensor, x3: torch.Tensor, x4: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Stage features (strides 4, 8, 16, 32) -> aggregated maps at strides 4 and 8."""
        out4 = self.conv4(x4) + self.down34(self.pa(self.down232(x2)))
        out3 = self.pa(x3) + self.down231(self.ca(self.down12(x1)))
        out2 = self.ca(x2) + self.lf4(out4)
        out1 = self.lf3(out3) + self.conv1(x1)
        return out1, out2


class Decoder(nn.Module):
    """DCFAM, fusion of its two outputs, dropout and a conv head upsampled 4x (bilinear, corners aligned)."""

    def __init__(
        self,
        encoder_channels: Sequence[int] = (96, 192, 384, 768),
        dropout: float = 0.05,
        atrous_rates: Sequence[int] = (6, 12),
        num_classes: int = 6,
    ) -> None:
        super().__init__()
        c1, c2 = encoder_channels[0], encoder_channels[1]
        self.dcfam = DCFAM(encoder_channels, atrous_rates)
        self.dropout = nn.Dropout2d(p=dropout, inplace=True)
        self.segmentation_head = nn.Sequential(
            conv_bn_relu(c1, c1), Conv(c1, num_classes, kernel_size=1), nn.UpsamplingBilinear2d(scale_factor=4)
        )
        self.up = nn.Sequential(conv_bn_relu(c2, c1), nn.UpsamplingNearest2d(scale_factor=2))

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, x3: torch.Tensor, x4: torch.Tensor) -> torch.Tensor:
        """Stage features -> logits at 4x the stride-4 resolution."""
        out1, out2 = self.dcfam(x1, x2, x3, x4)
        return self.segmentation_head(self.dropout(out1 + self.up(out2)))


class DCSwin(nn.Module):
    """Swin backbone (first stages frozen) and the DCFAM decoder. Input sides must be multiples of 32."""

    input_rule = InputRule(multiple=32, min_train_batch=2)

    def __init__(
        self,
        encoder_channels: Sequence[int] = (96, 192, 384, 768),
        dropout: float = 0.05,
        atrous_rates: Sequence[int] = (6, 12),
        num_classes: int = 6,
        embed_dim: int = 128,
        depths: Sequence[int] = (2, 2, 18, 2),
        num_heads: Sequence[int] = (4, 8, 16, 32),
        frozen_stages: int = 2,
    ) -> None:
        super().__init__()
        self.backbone = SwinTransformer(
            embed_dim=embed_dim, depths=depths, num_heads=num_heads, frozen_stages=frozen_stages
        )
        self.decoder = Decoder(encoder_channels, dropout, atrous_rates, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Image batch (B, 3, H, W) -> logits (B, num_classes, H, W)."""
        self.input_rule.require(x, "DCSwin")
        return self.decoder(*self.backbone(x))


def _build(
    embed_dim: int,
    depths: Sequence[int],
    num_heads: Sequence[int],
    pretrained: bool,
    num_classes: int,
    weight_path: str | None,
) -> DCSwin:
    channels = tuple(embed_dim * 2**i for i in range(4))
    model = DCSwin(
        encoder_channels=channels,
        num_classes=num_classes,
        embed_dim=embed_dim,
        depths=depths,
        num_heads=num_heads,
        frozen_stages=2,
    )
    if pretrained and weight_path is not None:
        load_swin_segmentation_weights(model, weight_path)
    return model


def dcswin_base(
    pretrained: bool = True, num_classes: int = 4, weight_path: str | None = "pretrain_weights/stseg_base.pth"
) -> DCSwin:
    """DC-Swin with Swin-B (embed 128, depths 2-2-18-2); weights from ``weights/stseg_base.pth`` if present."""
    return _build(128, (2, 2, 18, 2), (4, 8, 16, 32), pretrained, num_classes, weight_path)


def dcswin_small(
    pretrained: bool = True, num_classes: int = 4, weight_path: str | None = "pretrain_weights/stseg_small.pth"
) -> DCSwin:
    """DC-Swin with Swin-S (embed 96, depths 2-2-18-2); weights from ``weights/stseg_small.pth`` if present."""
    return _build(96, (2, 2, 18, 2), (3, 6, 12, 24), pretrained, num_classes, weight_path)


def dcswin_tiny(
    pretrained: bool = True, num_classes: int = 4, weight_path: str | None = "pretrain_weights/stseg_tiny.pth"
) -> DCSwin:
    """DC-Swin with Swin-T (embed 96, depths 2-2-6-2); weights from ``weights/stseg_tiny.pth`` if present."""
    return _build(96, (2, 2, 6, 2), (3, 6, 12, 24), pretrained, num_classes, weight_path)
