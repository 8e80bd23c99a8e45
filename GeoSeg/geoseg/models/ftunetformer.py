"""FTUNetFormer: the UNetFormer decoder on a Swin Transformer encoder (Wang et al., ISPRS J. 2022).

``ft_unetformer`` builds the Swin-Base variant the GeoSeg configs use. State_dict keys match the reference
checkpoints (``backbone.layers.2.blocks.17.attn.qkv.weight``, ``decoder.p1.proj.2.running_var``, ...).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from geoseg.models.input_size import InputRule, window_minimum
from geoseg.models.swin import SwinTransformer, load_swin_segmentation_weights
from geoseg.models.unetformer import Decoder


class FTUNetFormer(nn.Module):
    """Swin encoder (strides 4..32) and UNetFormer decoder (16 heads, 3x3 conv-BN skip fusion, no aux head)."""

    def __init__(
        self,
        decode_channels: int = 256,
        dropout: float = 0.2,
        embed_dim: int = 96,
        depths: Sequence[int] = (2, 2, 6, 2),
        num_heads: Sequence[int] = (3, 6, 12, 24),
        freeze_stages: int = -1,
        window_size: int = 8,
        num_classes: int = 6,
    ) -> None:
        super().__init__()
        self.input_rule = InputRule(multiple=32, minimum=window_minimum(window_size))
        self.backbone = SwinTransformer(
            embed_dim=embed_dim, depths=depths, num_heads=num_heads, frozen_stages=freeze_stages
        )
        encoder_channels = [embed_dim * 2**i for i in range(4)]
        self.decoder = Decoder(
            encoder_channels,
            decode_channels,
            dropout,
            window_size,
            num_classes,
            num_heads=16,
            norm_between=False,
            fuse_norm=True,
            aux_head=False,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Image batch (B, 3, H, W) -> logits (B, num_classes, H, W)."""
        self.input_rule.require(x, "FTUNetFormer")
        h, w = x.shape[-2:]
        return self.decoder(*self.backbone(x), h, w)


def ft_unetformer(
    pretrained: bool = True,
    num_classes: int = 6,
    freeze_stages: int = -1,
    decoder_channels: int = 256,
    weight_path: str | None = "pretrain_weights/stseg_base.pth",
) -> FTUNetFormer:
    """FTUNetFormer with a Swin-B encoder (embed 128, depths 2-2-18-2, heads 4-8-16-32).

    With ``pretrained`` the encoder weights are read from ``weights/<basename of weight_path>`` (the
    ``state_dict`` of a Swin segmentation checkpoint; entries are matched by name, e.g. ``backbone.*``);
    a missing file is an error naming it (build with ``pretrained=False`` for a random encoder).
    """
    model = FTUNetFormer(
        num_classes=num_classes,
        freeze_stages=freeze_stages,
        embed_dim=128,
        depths=(2, 2, 18, 2),
        num_heads=(4, 8, 16, 32),
        decode_channels=decoder_channels,
    )
    if pretrained and weight_path is not None:
        load_swin_segmentation_weights(model, weight_path)
    return model
