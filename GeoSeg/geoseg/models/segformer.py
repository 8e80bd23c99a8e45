"""SegFormer: a Mix Transformer (MiT) encoder and the all-MLP decoder (Xie et al., NeurIPS 2021).

timm has no MiT encoder, so it is written here. Module names follow the paper's repository so that its
checkpoints and the ``segformer_b?_backbone_weights.pth`` backbone files load unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from timm.layers import DropPath
from torch import nn

from .input_size import InputRule
from .pretrained import load_pretrained_backbone
from .swin import init_transformer_weights

BACKBONE_WEIGHTS_URL = "https://github.com/bubbliiiing/segformer-pytorch/releases/download/v1.0/{file_name}"


@dataclass(frozen=True)
class MiTVariant:
    """Width, depth and decoder size of one SegFormer variant (b0 .. b5)."""

    embed_dims: tuple[int, int, int, int]
    depths: tuple[int, int, int, int]
    decoder_dim: int


WIDE = (64, 128, 320, 512)
VARIANTS = {
    "b0": MiTVariant((32, 64, 160, 256), (2, 2, 2, 2), 256),
    "b1": MiTVariant(WIDE, (2, 2, 2, 2), 256),
    "b2": MiTVariant(WIDE, (3, 4, 6, 3), 768),
    "b3": MiTVariant(WIDE, (3, 4, 18, 3), 768),
    "b4": MiTVariant(WIDE, (3, 8, 27, 3), 768),
    "b5": MiTVariant(WIDE, (3, 6, 40, 3), 768),
}
NUM_HEADS = (1, 2, 5, 8)
SR_RATIOS = (8, 4, 2, 1)
MLP_RATIO = 4
DROP_PATH_RATE = 0.1
BLOCK_NORM_EPS = 1e-6


def tokens_to_map(tokens: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``(B, H*W, C)`` tokens -> ``(B, C, H, W)`` feature map."""
    return tokens.transpose(1, 2).reshape(tokens.shape[0], -1, height, width)


class OverlapPatchEmbed(nn.Module):
    """Strided convolution with overlapping windows, then LayerNorm over the channel tokens."""

    def __init__(self, patch_size: int, stride: int, in_chans: int, embed_dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, patch_size, stride=stride, padding=patch_size // 2)
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        """``(B, C, H, W)`` -> tokens ``(B, h*w, embed_dim)`` and the token grid ``h, w``."""
        x = self.proj(x)
        height, width = x.shape[2:]
        return self.norm(x.flatten(2).transpose(1, 2)), height, width


class EfficientSelfAttention(nn.Module):
    """Multi-head attention whose keys and values come from a grid shrunk ``sr_ratio`` times by a strided conv."""

    def __init__(self, dim: int, num_heads: int, sr_ratio: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.sr_ratio = sr_ratio
        self.q = nn.Linear(dim, dim)
        if sr_ratio > 1:
            self.sr = nn.Conv2d(dim, dim, kernel_size=sr_ratio, stride=sr_ratio)
            self.norm = nn.LayerNorm(dim)
        self.kv = nn.Linear(dim, dim * 2)
        self.proj = nn.Linear(dim, dim)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, N, C)`` -> ``(B, heads, N, C / heads)``."""
        return x.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)

    def forward(self, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """Tokens ``(B, height*width, C)`` -> attended tokens of the same shape."""
        context = x
        if self.sr_ratio > 1:
            reduced = self.sr(tokens_to_map(x, height, width))
            context = self.norm(reduced.flatten(2).transpose(1, 2))
        key, value = self.kv(context).chunk(2, dim=-1)
        attended = F.scaled_dot_product_attention(
            self.split_heads(self.q(x)),
            self.split_heads(key),
            self.split_heads(value),
        )
        return self.proj(attended.transpose(1, 2).flatten(2))


class DWConv(nn.Module):
    """Depth-wise 3x3 convolution applied to a token sequence laid out on its grid."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)

    def forward(self, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """Tokens ``(B, height*width, C)`` -> tokens of the same shape."""
        return self.dwconv(tokens_to_map(x, height, width)).flatten(2).transpose(1, 2)


class MixFFN(nn.Module):
    """Linear -> depth-wise conv -> GELU (tanh form) -> linear: the position-aware MiT feed-forward."""

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.dwconv = DWConv(hidden_dim)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """Tokens ``(B, height*width, C)`` -> tokens of the same shape."""
        return self.fc2(self.act(self.dwconv(self.fc1(x), height, width)))


class Block(nn.Module):
    """Pre-norm transformer block: efficient self-attention and Mix-FFN, each residual with stochastic depth."""

    def __init__(self, dim: int, num_heads: int, sr_ratio: int, drop_path: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=BLOCK_NORM_EPS)
        self.attn = EfficientSelfAttention(dim, num_heads, sr_ratio)
        self.norm2 = nn.LayerNorm(dim, eps=BLOCK_NORM_EPS)
        self.mlp = MixFFN(dim, dim * MLP_RATIO)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """Tokens ``(B, height*width, C)`` -> tokens of the same shape."""
        x = x + self.drop_path(self.attn(self.norm1(x), height, width))
        return x + self.drop_path(self.mlp(self.norm2(x), height, width))


def init_mit_weights(module: nn.Module) -> None:
    """MiT initialisation: the transformer one (linears, LayerNorms) plus He-normal (fan-out) convs."""
    init_transformer_weights(module)
    if isinstance(module, nn.Conv2d):
        fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels // module.groups
        nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / fan_out))
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class MixVisionTransformer(nn.Module):
    """Four-stage hierarchical encoder; stage ``s`` has ``patch_embed{s}``, ``block{s}`` and ``norm{s}``."""

    def __init__(self, embed_dims: tuple[int, ...], depths: tuple[int, ...], in_chans: int = 3) -> None:
        super().__init__()
        self.depths = depths
        drop_rates = torch.linspace(0, DROP_PATH_RATE, sum(depths)).tolist()
        previous_dim = in_chans
        for stage, (dim, depth) in enumerate(zip(embed_dims, depths), start=1):
            first = sum(depths[: stage - 1])
            patch, stride = (7, 4) if stage == 1 else (3, 2)
            setattr(self, f"patch_embed{stage}", OverlapPatchEmbed(patch, stride, previous_dim, dim))
            blocks = [
                Block(dim, NUM_HEADS[stage - 1], SR_RATIOS[stage - 1], drop_rates[first + j]) for j in range(depth)
            ]
            setattr(self, f"block{stage}", nn.ModuleList(blocks))
            setattr(self, f"norm{stage}", nn.LayerNorm(dim, eps=BLOCK_NORM_EPS))
            previous_dim = dim
        self.apply(init_mit_weights)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``(B, 3, H, W)`` -> four maps at strides 4, 8, 16, 32."""
        features = []
        for stage in range(1, len(self.depths) + 1):
            tokens, height, width = getattr(self, f"patch_embed{stage}")(x)
            for block in getattr(self, f"block{stage}"):
                tokens = block(tokens, height, width)
            x = tokens_to_map(getattr(self, f"norm{stage}")(tokens), height, width).contiguous()
            features.append(x)
        return features


class MLP(nn.Module):
    """Per-pixel linear embedding of a feature map: ``(B, C, H, W)`` -> ``(B, embed_dim, H, W)``."""

    def __init__(self, input_dim: int, embed_dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(input_dim, embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the projection to every pixel's channel vector."""
        return self.proj(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ConvModule(nn.Module):
    """Convolution without bias, BatchNorm (eps 1e-3, momentum 0.03) and ReLU."""

    def __init__(self, c1: int, c2: int, k: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, padding=k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=0.001, momentum=0.03)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, c1, H, W)`` -> ``(B, c2, H, W)``."""
        return self.act(self.bn(self.conv(x)))


class SegFormerHead(nn.Module):
    """All-MLP decoder: embed each stage, upsample to stride 4, fuse with a 1x1 conv, classify."""

    def __init__(
        self, num_classes: int, in_channels: tuple[int, ...], embedding_dim: int, dropout_ratio: float = 0.1
    ) -> None:
        super().__init__()
        self.linear_c4 = MLP(in_channels[3], embedding_dim)
        self.linear_c3 = MLP(in_channels[2], embedding_dim)
        self.linear_c2 = MLP(in_channels[1], embedding_dim)
        self.linear_c1 = MLP(in_channels[0], embedding_dim)
        self.linear_fuse = ConvModule(embedding_dim * 4, embedding_dim)
        self.linear_pred = nn.Conv2d(embedding_dim, num_classes, kernel_size=1)
        self.dropout = nn.Dropout2d(dropout_ratio)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        """Four encoder maps (fine to coarse) -> logits at the finest map's size."""
        c1, c2, c3, c4 = features
        size = c1.shape[2:]
        embedded = [
            F.interpolate(embed(feature), size=size, mode="bilinear", align_corners=False)
            for embed, feature in ((self.linear_c4, c4), (self.linear_c3, c3), (self.linear_c2, c2))
        ]
        embedded.append(self.linear_c1(c1))
        fused = self.linear_fuse(torch.cat(embedded, dim=1))
        return self.linear_pred(self.dropout(fused))


class SegFormer(nn.Module):
    """SegFormer-``phi`` (b0 .. b5); returns logits ``(B, num_classes, H, W)`` for an input ``(B, 3, H, W)``.

    ``pretrained`` reads ``weights/segformer_<phi>_backbone_weights.pth`` into the encoder; when the file is
    absent model building stops with an error naming it.
    """

    input_rule = InputRule(minimum=29)

    def __init__(self, num_classes: int = 21, phi: str = "b0", pretrained: bool = False) -> None:
        super().__init__()
        if phi not in VARIANTS:
            raise ValueError(f"unknown SegFormer variant {phi!r}; expected one of {sorted(VARIANTS)}")
        variant = VARIANTS[phi]
        self.in_channels = list(variant.embed_dims)
        self.embedding_dim = variant.decoder_dim
        self.backbone = MixVisionTransformer(variant.embed_dims, variant.depths)
        if pretrained:
            file_name = f"segformer_{phi}_backbone_weights.pth"
            load_pretrained_backbone(self.backbone, file_name, BACKBONE_WEIGHTS_URL.format(file_name=file_name))
        self.decode_head = SegFormerHead(num_classes, variant.embed_dims, variant.decoder_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` -> logits ``(B, num_classes, H, W)`` (bilinear, corners aligned, from stride 4)."""
        self.input_rule.require(x, "SegFormer")
        logits = self.decode_head(self.backbone(x))
        return F.interpolate(logits, size=x.shape[2:], mode="bilinear", align_corners=True)
