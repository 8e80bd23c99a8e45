"""Numbered convolution stacks used by the UNetFormer family and DCSwin.

Children are indexed (``0``, ``1``, ...) so state_dict keys read ``<name>.0.weight`` as in the reference
checkpoints. Padding keeps the spatial size for stride 1 ("same" padding, dilation aware).
"""

from __future__ import annotations

from torch import nn


def same_padding(kernel_size: int, dilation: int = 1, stride: int = 1) -> int:
    """Padding that keeps ``H`` for stride 1 and gives ``ceil(H / 2)`` for stride 2 with odd kernels."""
    return ((stride - 1) + dilation * (kernel_size - 1)) // 2


class Conv(nn.Sequential):
    """A single convolution (bias-free by default) wrapped as ``<name>.0``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        dilation: int = 1,
        stride: int = 1,
        bias: bool = False,
    ) -> None:
        super().__init__(
            nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size,
                stride=stride,
                padding=same_padding(kernel_size, dilation, stride),
                dilation=dilation,
                bias=bias,
            )
        )


class SeparableConvBN(nn.Sequential):
    """Depthwise ``kernel_size`` conv and pointwise 1x1 conv with a BatchNorm, optionally an activation.

    ``norm_between=True`` gives depthwise, BatchNorm, pointwise (UNetFormer's order, where the norm sees the
    depthwise output); otherwise depthwise, pointwise, BatchNorm. ``act`` is appended when given.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        dilation: int = 1,
        norm_between: bool = False,
        act: type[nn.Module] | None = None,
    ) -> None:
        depthwise = nn.Conv2d(
            in_channels,
            in_channels,
            kernel_size,
            padding=same_padding(kernel_size, dilation),
            dilation=dilation,
            groups=in_channels,
            bias=False,
        )
        pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        if norm_between:
            layers = [depthwise, nn.BatchNorm2d(in_channels), pointwise]
        else:
            layers = [depthwise, pointwise, nn.BatchNorm2d(out_channels)]
        if act is not None:
            layers.append(act())
        super().__init__(*layers)
