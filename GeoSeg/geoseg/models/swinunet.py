"""Swin-UNet (Cao et al., ECCV-W 2022): a pure Swin Transformer U-Net for a fixed input size.

Encoder stages with patch merging, a mirrored decoder with patch expanding and skip connections, and a final
4x patch expansion to pixel logits. The network is built for one ``img_size`` (its shift masks are
``attn_mask`` buffers); other input sizes are rejected. State_dict keys match the reference checkpoints
(``swin_unet.layers_up.1.blocks.0.attn.qkv.weight``, ``swin_unet.up.expand.weight``, ...).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from geoseg.models.input_size import InputRule
from geoseg.models.swin import PatchEmbed, SwinStage, init_transformer_weights, stochastic_depth
from rscommon.paths import require_weights

SWIN_TINY_URL = "https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_tiny_patch4_window7_224.pth"


class FixedSizePatchEmbed(PatchEmbed):
    """Patch embedding that accepts only ``img_size x img_size`` inputs and returns tokens (B, L, C)."""

    def __init__(self, img_size: int, patch: int = 4, in_chans: int = 3, embed_dim: int = 96) -> None:
        super().__init__(patch, in_chans, embed_dim)
        self.img_size = img_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, S, S) with S = img_size -> (B, (S/p)^2, embed_dim)."""
        if tuple(x.shape[-2:]) != (self.img_size, self.img_size):
            raise ValueError(
                f"SwinUNet was built for {self.img_size}x{self.img_size} inputs, got "
                f"{x.shape[-2]}x{x.shape[-1]}; build it with img_size matching the input"
            )
        return super().forward(x).flatten(2).transpose(1, 2)


class PatchExpand(nn.Module):
    """Linear expansion of each token into ``scale x scale`` tokens of ``out_dim`` channels, then LayerNorm."""

    def __init__(self, resolution: tuple[int, int], dim: int, out_dim: int, scale: int = 2) -> None:
        super().__init__()
        self.resolution = resolution
        self.scale = scale
        self.expand = nn.Linear(dim, out_dim * scale * scale, bias=False)
        self.norm = nn.LayerNorm(out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H*W, dim) -> (B, sH*sW, out_dim); channel groups are laid out row by row within each patch."""
        (h, w), s = self.resolution, self.scale
        x = self.expand(x)
        b, c = x.shape[0], x.shape[-1] // (s * s)
        x = x.view(b, h, w, s, s, c).permute(0, 1, 3, 2, 4, 5).reshape(b, h * s * w * s, c)
        return self.norm(x)


class SwinDecoderStage(SwinStage):
    """Decoder stage: Swin blocks at a fixed resolution, then an optional 2x :class:`PatchExpand`."""

    def __init__(
        self,
        dim: int,
        resolution: tuple[int, int],
        depth: int,
        num_heads: int,
        window: int,
        drop_path: Sequence[float],
        upsample: bool,
        **kwargs,
    ) -> None:
        super().__init__(dim, depth, num_heads, window, drop_path, downsample=False, resolution=resolution, **kwargs)
        self.upsample = PatchExpand(resolution, dim, dim // 2) if upsample else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H*W, dim) -> (B, 4*H*W, dim/2) with upsampling, else (B, H*W, dim)."""
        x = self.run_blocks(x, self.resolution)
        return x if self.upsample is None else self.upsample(x)


class SwinTransformerSys(nn.Module):
    """The Swin-UNet encoder-decoder on ``img_size x img_size`` inputs (sides multiples of 32)."""

    def __init__(
        self,
        img_size: int = 224,
        patch_size: int = 4,
        in_chans: int = 3,
        num_classes: int = 1000,
        embed_dim: int = 96,
        depths: Sequence[int] = (2, 2, 2, 2),
        num_heads: Sequence[int] = (3, 6, 12, 24),
        window_size: int = 7,
        mlp_ratio: float = 4.0,
        drop_path_rate: float = 0.1,
        use_checkpoint: bool = False,
    ) -> None:
        super().__init__()
        stages = len(depths)
        side = img_size // patch_size
        self.patch_embed = FixedSizePatchEmbed(img_size, patch_size, in_chans, embed_dim)
        rates = stochastic_depth(drop_path_rate, depths)
        dims = [embed_dim * 2**i for i in range(stages)]
        sides = [(side // 2**i, side // 2**i) for i in range(stages)]
        common = dict(mlp_ratio=mlp_ratio, checkpointing=use_checkpoint)
        self.layers = nn.ModuleList(
            SwinStage(
                dims[i],
                depths[i],
                num_heads[i],
                window_size,
                rates[i],
                downsample=i < stages - 1,
                resolution=sides[i],
                **common,
            )
            for i in range(stages)
        )
        deepest = stages - 1
        self.layers_up = nn.ModuleList([PatchExpand(sides[deepest], dims[deepest], dims[deepest] // 2)])
        self.layers_up.extend(
            SwinDecoderStage(
                dims[i], sides[i], depths[i], num_heads[i], window_size, rates[i], upsample=i > 0, **common
            )
            for i in reversed(range(deepest))
        )
        self.concat_back_dim = nn.ModuleList(
            [nn.Identity()] + [nn.Linear(2 * dims[i], dims[i]) for i in reversed(range(deepest))]
        )
        self.norm = nn.LayerNorm(dims[deepest])
        self.norm_up = nn.LayerNorm(embed_dim)
        self.up = PatchExpand(sides[0], embed_dim, embed_dim, scale=patch_size)
        self.output = nn.Conv2d(embed_dim, num_classes, kernel_size=1, bias=False)
        self.apply(init_transformer_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_chans, S, S) -> logits (B, num_classes, S, S)."""
        x = self.patch_embed(x)
        skips = []
        for stage in self.layers:
            skips.append(x)
            _, x, _ = stage(x, stage.resolution)
        x = self.layers_up[0](self.norm(x))
        for skip, fuse, stage in zip(reversed(skips[:-1]), self.concat_back_dim[1:], self.layers_up[1:]):
            x = stage(fuse(torch.cat([x, skip], dim=-1)))
        x = self.up(self.norm_up(x))
        h, w = (n * self.up.scale for n in self.up.resolution)
        return self.output(x.view(x.shape[0], h, w, -1).permute(0, 3, 1, 2))


class SwinUnet(nn.Module):
    """Swin-UNet (Swin-T sized: depths 2-2-6-2) under ``swin_unet``; grey inputs are repeated to 3 channels.

    Blocks are recomputed in the backward pass (activation checkpointing) to save memory in training.
    """

    def __init__(
        self, img_size: int = 224, num_classes: int = 21843, zero_head: bool = False, window_size: int = 7
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.zero_head = zero_head
        self.img_size = img_size
        self.input_rule = InputRule(exact=img_size, channels=(1, 3))
        self.swin_unet = SwinTransformerSys(
            img_size=img_size,
            in_chans=3,
            num_classes=num_classes,
            depths=(2, 2, 6, 2),
            window_size=window_size,
            use_checkpoint=True,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1 or 3, S, S) -> logits (B, num_classes, S, S)."""
        self.input_rule.require(x, "SwinUNet")
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        return self.swin_unet(x)


def mirror_encoder_weights(state: dict[str, torch.Tensor], stages: int = 4) -> dict[str, torch.Tensor]:
    """Add decoder copies of encoder weights: ``layers.<i>.*`` also becomes ``layers_up.<stages-1-i>.*``."""
    mirrored = dict(state)
    for name, value in state.items():
        parts = name.split(".", 2)
        if parts[0] == "layers" and len(parts) == 3 and parts[1].isdigit():
            mirrored[f"layers_up.{stages - 1 - int(parts[1])}.{parts[2]}"] = value
    return mirrored


def load_swin_classification_weights(net: SwinTransformerSys, weight_path: str) -> None:
    """Initialise encoder and mirrored decoder stages from an ImageNet Swin checkpoint (its ``model`` entry).

    Entries are matched by name after :func:`mirror_encoder_weights`; entries whose shape differs (e.g. bias
    tables and masks for another window size) are skipped. The file is looked up in ``weights/`` by the base
    name of ``weight_path``; a missing file is an error naming it and where it is published.
    """
    file_name = weight_path.replace("\\", "/").rsplit("/", 1)[-1]
    path = require_weights(file_name, SWIN_TINY_URL)
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    own = net.state_dict()
    compatible = {
        k: v
        for k, v in mirror_encoder_weights(checkpoint.get("model", checkpoint)).items()
        if k in own and own[k].shape == v.shape
    }
    if not compatible:
        raise ValueError(f"{path}: no entry matches the SwinUNet encoder (expected a Swin classification checkpoint)")
    net.load_state_dict(compatible, strict=False)


def swin_unet(
    img_size: int = 1024,
    pretrained: bool = True,
    num_classes: int = 6,
    window_size: int = 7,
    weight_path: str | None = "pretrain_weights/swin_tiny_patch4_window7_224.pth",
) -> SwinUnet:
    """SwinUNet for ``img_size`` inputs; with ``pretrained`` the Swin-T ImageNet weights are read from
    ``weights/swin_tiny_patch4_window7_224.pth`` (missing = an error naming it)."""
    model = SwinUnet(img_size=img_size, num_classes=num_classes, window_size=window_size)
    if pretrained and weight_path is not None:
        load_swin_classification_weights(model.swin_unet, weight_path)
    return model
