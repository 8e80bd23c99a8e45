"""UNetFormer (Wang et al., ISPRS J. 2022): a CNN encoder with a global-local transformer decoder.

The decoder here is shared with FTUNetFormer (``ftunetformer.py``), which swaps the encoder for a Swin
Transformer and changes a few decoder details (see :class:`Decoder`). State_dict keys match the reference
checkpoints (``backbone.*`` from timm, ``decoder.b4.attn.qkv.0.weight``, ``decoder.p1.ca.1.0.weight``, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import timm
import torch
import torch.nn.functional as F
from timm.layers import trunc_normal_
from torch import nn

from geoseg.models.conv_bn_act import ConvBNAct
from geoseg.models.input_size import InputRule, window_minimum
from geoseg.models.pretrained import load_pretrained_backbone
from geoseg.models.seg_layers import Conv, SeparableConvBN
from geoseg.models.swin import relative_position_index

# timm's current name for the reference's ``swsl_resnet18`` (same weights, no deprecation warning).
TIMM_ALIASES = {"swsl_resnet18": "resnet18.fb_swsl_ig1b_ft_in1k"}


def conv_bn(in_channels: int, out_channels: int, kernel_size: int = 3) -> ConvBNAct:
    """Bias-free convolution and BatchNorm (``<name>.0`` / ``<name>.1``)."""
    return ConvBNAct(in_channels, out_channels, kernel_size, act_type="none")


def conv_bn_relu6(in_channels: int, out_channels: int, kernel_size: int = 3) -> ConvBNAct:
    """Bias-free convolution, BatchNorm and ReLU6."""
    return ConvBNAct(in_channels, out_channels, kernel_size, act_type="relu6")


class GlobalLocalAttention(nn.Module):
    """Window self-attention (global branch) plus 3x3 and 1x1 conv-BN (local branch).

    The attention runs on non-overlapping ``window x window`` windows (input reflect-padded to whole windows)
    with a relative position bias; its output is smoothed across window borders by 1-D average pools along
    each axis, added to the local branch, and projected by a separable ``window x window`` convolution.
    """

    def __init__(self, dim: int = 256, num_heads: int = 16, window_size: int = 8, norm_between: bool = True) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.ws = window_size
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = Conv(dim, 3 * dim, kernel_size=1)
        self.local1 = conv_bn(dim, dim, 3)
        self.local2 = conv_bn(dim, dim, 1)
        self.proj = SeparableConvBN(dim, dim, window_size, norm_between=norm_between)
        half = window_size // 2 - 1
        self.attn_x = nn.AvgPool2d(kernel_size=(window_size, 1), stride=1, padding=(half, 0))
        self.attn_y = nn.AvgPool2d(kernel_size=(1, window_size), stride=1, padding=(0, half))
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))
        self.register_buffer("relative_position_index", relative_position_index(window_size))
        trunc_normal_(self.relative_position_bias_table, std=0.02)

    def window_attention(self, x: torch.Tensor) -> torch.Tensor:
        """Multi-head attention inside each window of x (B, C, Hp, Wp), Hp and Wp multiples of the window."""
        b, c, hp, wp = x.shape
        ws, heads = self.ws, self.num_heads
        nh, nw = hp // ws, wp // ws
        qkv = self.qkv(x).view(b, 3, heads, c // heads, nh, ws, nw, ws)
        q, k, v = qkv.permute(1, 0, 4, 6, 2, 5, 7, 3).reshape(3, b * nh * nw, heads, ws * ws, c // heads).unbind(0)
        n = ws * ws
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)].view(n, n, heads)
        scores = (q @ k.transpose(-2, -1)) * self.scale + bias.permute(2, 0, 1).unsqueeze(0)
        out = scores.softmax(dim=-1) @ v
        out = out.view(b, nh, nw, heads, ws, ws, c // heads).permute(0, 3, 6, 1, 4, 2, 5)
        return out.reshape(b, c, hp, wp)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        h, w = x.shape[-2:]
        local = self.local2(x) + self.local1(x)
        padded = F.pad(x, (0, (-w) % self.ws, 0, (-h) % self.ws), mode="reflect")
        attn = self.window_attention(padded)[:, :, :h, :w]
        out = self.attn_x(F.pad(attn, (0, 0, 0, 1), mode="reflect")) + self.attn_y(
            F.pad(attn, (0, 1, 0, 0), mode="reflect")
        )
        out = self.proj(F.pad(out + local, (0, 1, 0, 1), mode="reflect"))
        return out[:, :, :h, :w]


class ConvMlp(nn.Module):
    """Pointwise MLP on feature maps: 1x1 conv, ReLU6, 1x1 conv."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.act = nn.ReLU6()
        self.fc2 = nn.Conv2d(hidden, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, dim, H, W) -> (B, dim, H, W)."""
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Transformer block on feature maps: BatchNorm, global-local attention, BatchNorm, MLP (residuals)."""

    def __init__(
        self,
        dim: int = 256,
        num_heads: int = 16,
        mlp_ratio: float = 4.0,
        window_size: int = 8,
        norm_between: bool = True,
    ) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(dim)
        self.attn = GlobalLocalAttention(dim, num_heads, window_size, norm_between)
        self.mlp = ConvMlp(dim, int(dim * mlp_ratio))
        self.norm2 = nn.BatchNorm2d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class WF(nn.Module):
    """Weighted fusion: upsample the decoder map 2x and mix it with a projected skip feature.

    The two ReLU'd, normalised ``weights`` blend ``pre_conv(skip)`` and the upsampled map; ``post_conv``
    (conv-BN-ReLU6) follows.
    """

    def __init__(
        self, in_channels: int, decode_channels: int, pre_conv: Callable[[int, int], nn.Module], eps: float = 1e-8
    ) -> None:
        super().__init__()
        self.pre_conv = pre_conv(in_channels, decode_channels)
        self.weights = nn.Parameter(torch.ones(2))
        self.eps = eps
        self.post_conv = conv_bn_relu6(decode_channels, decode_channels, 3)

    def forward(self, x: torch.Tensor, res: torch.Tensor) -> torch.Tensor:
        """x (B, D, h, w) and skip res (B, C_in, 2h, 2w) -> (B, D, 2h, 2w)."""
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        weights = F.relu(self.weights)
        weights = weights / (weights.sum(dim=0) + self.eps)
        return self.post_conv(weights[0] * self.pre_conv(res) + weights[1] * x)


class FeatureRefinementHead(WF):
    """Weighted fusion followed by spatial (depthwise conv) and channel (squeeze-excite) attention."""

    def __init__(
        self,
        in_channels: int,
        decode_channels: int,
        pre_conv: Callable[[int, int], nn.Module],
        norm_between: bool = True,
    ) -> None:
        super().__init__(in_channels, decode_channels, pre_conv)
        d = decode_channels
        self.pa = nn.Sequential(nn.Conv2d(d, d, kernel_size=3, padding=1, groups=d), nn.Sigmoid())
        self.ca = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            Conv(d, d // 16, kernel_size=1),
            nn.ReLU6(),
            Conv(d // 16, d, kernel_size=1),
            nn.Sigmoid(),
        )
        self.shortcut = conv_bn(d, d, 1)
        self.proj = SeparableConvBN(d, d, 3, norm_between=norm_between)
        self.act = nn.ReLU6()

    def forward(self, x: torch.Tensor, res: torch.Tensor) -> torch.Tensor:
        """x (B, D, h, w) and skip res (B, C_in, 2h, 2w) -> (B, D, 2h, 2w)."""
        x = super().forward(x, res)
        attended = self.pa(x) * x + self.ca(x) * x
        return self.act(self.proj(attended) + self.shortcut(x))


class AuxHead(nn.Module):
    """Auxiliary training head: conv-BN-ReLU6, dropout, 1x1 classifier, bilinear resize to the input size."""

    def __init__(self, in_channels: int = 64, num_classes: int = 8) -> None:
        super().__init__()
        self.conv = conv_bn_relu6(in_channels, in_channels)
        self.drop = nn.Dropout(0.1)
        self.conv_out = Conv(in_channels, num_classes, kernel_size=1)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """(B, C, h', w') -> logits (B, num_classes, h, w)."""
        x = self.conv_out(self.drop(self.conv(x)))
        return F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)


class Decoder(nn.Module):
    """UNetFormer decoder over four encoder stages (strides 4, 8, 16, 32).

    UNetFormer: ``num_heads=8``, 1x1 skip projections, separable convs with the norm between depthwise and
    pointwise, and an auxiliary head (used in training). FTUNetFormer: ``num_heads=16``, 3x3 conv-BN skip
    projections (``fuse_norm``), norm after the pointwise conv, no auxiliary head.
    """

    def __init__(
        self,
        encoder_channels: Sequence[int] = (64, 128, 256, 512),
        decode_channels: int = 64,
        dropout: float = 0.1,
        window_size: int = 8,
        num_classes: int = 6,
        num_heads: int = 8,
        norm_between: bool = True,
        fuse_norm: bool = False,
        aux_head: bool = True,
    ) -> None:
        super().__init__()
        d = decode_channels

        def pre_conv(i: int, o: int) -> nn.Module:
            return conv_bn(i, o, 3) if fuse_norm else Conv(i, o, kernel_size=1)

        def block() -> Block:
            return Block(d, num_heads, window_size=window_size, norm_between=norm_between)

        self.pre_conv = conv_bn(encoder_channels[-1], d, 1)
        self.b4 = block()
        self.b3 = block()
        self.p3 = WF(encoder_channels[-2], d, pre_conv)
        self.b2 = block()
        self.p2 = WF(encoder_channels[-3], d, pre_conv)
        if aux_head:
            self.up4 = nn.UpsamplingBilinear2d(scale_factor=4)
            self.up3 = nn.UpsamplingBilinear2d(scale_factor=2)
            self.aux_head = AuxHead(d, num_classes)
        else:
            self.aux_head = None
        self.p1 = FeatureRefinementHead(encoder_channels[-4], d, pre_conv, norm_between)
        self.segmentation_head = nn.Sequential(
            conv_bn_relu6(d, d), nn.Dropout2d(p=dropout, inplace=True), Conv(d, num_classes, kernel_size=1)
        )

    def forward(
        self, res1: torch.Tensor, res2: torch.Tensor, res3: torch.Tensor, res4: torch.Tensor, h: int, w: int
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, num_classes, h, w); in training with an aux head, ``(logits, aux_logits)``."""
        x4 = self.b4(self.pre_conv(res4))
        x3 = self.b3(self.p3(x4, res3))
        x2 = self.b2(self.p2(x3, res2))
        x = self.segmentation_head(self.p1(x2, res1))
        x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
        if self.training and self.aux_head is not None:
            return x, self.aux_head(self.up4(x4) + self.up3(x3) + x2, h, w)
        return x


class UNetFormer(nn.Module):
    """UNetFormer with a timm ResNet encoder (``swsl_resnet18`` by default).

    With ``pretrained`` the encoder reads the timm checkpoint file (for ``swsl_resnet18``:
    ``semi_weakly_supervised_resnet18-118f1556.pth``) from ``weights/``; a missing file is an error naming
    it. Eval returns logits (B, num_classes, H, W); training returns
    ``(logits, aux_logits)``.
    """

    def __init__(
        self,
        decode_channels: int = 64,
        dropout: float = 0.1,
        backbone_name: str = "swsl_resnet18",
        pretrained: bool = True,
        window_size: int = 8,
        num_classes: int = 6,
    ) -> None:
        super().__init__()
        self.input_rule = InputRule(multiple=32, minimum=window_minimum(window_size))
        self.backbone = timm.create_model(
            TIMM_ALIASES.get(backbone_name, backbone_name),
            features_only=True,
            output_stride=32,
            out_indices=(1, 2, 3, 4),
            pretrained=False,
        )
        if pretrained:
            url = self.backbone.pretrained_cfg["url"]
            load_pretrained_backbone(self.backbone, url.rsplit("/", 1)[-1], url)
        encoder_channels = self.backbone.feature_info.channels()
        self.decoder = Decoder(encoder_channels, decode_channels, dropout, window_size, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Image batch (B, 3, H, W) -> logits, or ``(logits, aux_logits)`` in training mode."""
        self.input_rule.require(x, "UNetFormer")
        h, w = x.shape[-2:]
        return self.decoder(*self.backbone(x), h, w)
