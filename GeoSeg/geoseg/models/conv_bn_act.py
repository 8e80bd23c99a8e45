"""Indexed convolution/BatchNorm/activation stacks shared by FANet and ShelfNet.

Their children are numbered (``0`` conv, ``1`` BatchNorm, ``2`` activation) so that state_dict keys
read ``<name>.0.weight`` / ``<name>.1.running_mean`` as in the reference checkpoints.
"""

from __future__ import annotations

import torch
from torch import nn

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "leakyrelu": nn.LeakyReLU,
    "silu": nn.SiLU,
    "hardswish": nn.Hardswish,
}


def make_activation(act_type: str, inplace: bool = False) -> nn.Module:
    """Activation layer named by ``act_type`` (``"none"`` gives an identity)."""
    name = act_type.lower()
    if name == "none":
        return nn.Identity()
    if name not in _ACTIVATIONS:
        raise ValueError(f"unsupported activation {act_type!r}; choose 'none' or one of {sorted(_ACTIVATIONS)}")
    return _ACTIVATIONS[name](inplace=inplace)


class ConvBNAct(nn.Sequential):
    """``kernel_size`` convolution with "same" padding (bias-free by default), BatchNorm, activation."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        dilation: int = 1,
        bias: bool = False,
        act_type: str = "relu",
        inplace: bool = False,
    ) -> None:
        padding = dilation * (kernel_size - 1) // 2
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation, bias=bias),
            nn.BatchNorm2d(out_channels),
            make_activation(act_type, inplace),
        )


class DeConvBNAct(nn.Module):
    """Transposed convolution that upsamples exactly ``scale_factor`` times, then BatchNorm and activation.

    The layers live in ``up_conv`` (kernel ``2*scale_factor - 1``, with bias).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        scale_factor: int = 2,
        act_type: str = "relu",
        inplace: bool = False,
    ) -> None:
        super().__init__()
        kernel_size = 2 * scale_factor - 1
        self.up_conv = nn.Sequential(
            nn.ConvTranspose2d(
                in_channels,
                out_channels,
                kernel_size,
                stride=scale_factor,
                padding=scale_factor - 1,
                output_padding=scale_factor - 1,
            ),
            nn.BatchNorm2d(out_channels),
            make_activation(act_type, inplace),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Upsample ``x`` (B, C, H, W) to (B, out_channels, s*H, s*W)."""
        return self.up_conv(x)
