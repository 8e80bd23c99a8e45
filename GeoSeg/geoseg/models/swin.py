"""Swin Transformer building blocks shared by FTUNetFormer, DCSwin and SwinUNet.

Window attention with a relative position bias, (shifted-)window blocks, patch embedding and merging, one
encoder stage, and the hierarchical backbone (``SwinTransformer``) that FTUNetFormer and DCSwin use. Attribute
names follow the Swin checkpoints (``patch_embed.proj``, ``layers.<i>.blocks.<j>.attn.qkv``, ``norm<i>``, ...).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from timm.layers import DropPath, trunc_normal_
from torch import nn
from torch.utils.checkpoint import checkpoint

from geoseg.models.pretrained import load_pretrained_backbone

MASKED = -100.0
SWIN_SEGMENTATION_SOURCE = (
    "GeoSeg's pretrained-weights link (https://github.com/WangLibo1995/GeoSeg#pretrained-weights, Baidu Disk "
    "https://pan.baidu.com/s/1foJkxeUZwVi5SnKNpn6hfg code 1234); they are the UperNet Swin ImageNet-1K checkpoints "
    "of https://github.com/SwinTransformer/Swin-Transformer-Semantic-Segmentation"
)


def relative_position_index(window: int) -> torch.Tensor:
    """Index into a ``(2w-1)^2`` bias table for every pair of positions of a ``w x w`` window (int64, w²xw²)."""
    rows, cols = torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")
    rows, cols = rows.flatten(), cols.flatten()
    d_row = rows[:, None] - rows[None, :] + window - 1
    d_col = cols[:, None] - cols[None, :] + window - 1
    return d_row * (2 * window - 1) + d_col


def window_partition(x: torch.Tensor, window: int) -> torch.Tensor:
    """(B, H, W, C) -> (B * H/w * W/w, w*w, C), windows in row-major order."""
    b, h, w, c = x.shape
    x = x.view(b, h // window, window, w // window, window, c).transpose(2, 3)
    return x.reshape(-1, window * window, c)


def window_merge(windows: torch.Tensor, window: int, height: int, width: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`: (B * nW, w*w, C) -> (B, H, W, C)."""
    c = windows.shape[-1]
    x = windows.view(-1, height // window, width // window, window, window, c).transpose(2, 3)
    return x.reshape(-1, height, width, c)


def shifted_window_mask(
    height: int, width: int, window: int, shift: int, device: torch.device | None = None
) -> torch.Tensor:
    """Additive attention mask (nW, w*w, w*w) for a cyclic shift: 0 within a region, -100 across regions.

    ``height`` and ``width`` must be multiples of ``window``.
    """
    region = torch.zeros(1, height, width, 1, device=device)
    bounds = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    for label, (rows, cols) in enumerate((r, c) for r in bounds for c in bounds):
        region[:, rows, cols, :] = label
    labels = window_partition(region, window).squeeze(-1)
    different = labels[:, None, :] != labels[:, :, None]
    return torch.zeros_like(different, dtype=torch.float32).masked_fill(different, MASKED)


class Mlp(nn.Module):
    """Token MLP: ``fc1``, GELU, ``fc2`` with dropout after each."""

    def __init__(self, dim: int, hidden: int, drop: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., dim) -> (..., dim)."""
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class WindowAttention(nn.Module):
    """Multi-head self-attention inside ``window x window`` windows with a learned relative position bias."""

    def __init__(
        self,
        dim: int,
        window: int,
        num_heads: int,
        qkv_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        self.window = window
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, num_heads))
        self.register_buffer("relative_position_index", relative_position_index(window))
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        trunc_normal_(self.relative_position_bias_table, std=0.02)

    def position_bias(self) -> torch.Tensor:
        """The (heads, w*w, w*w) bias gathered from the table."""
        n = self.window * self.window
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        return bias.view(n, n, self.num_heads).permute(2, 0, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Attend within each window: x (B*nW, N, C), optional additive mask (nW, N, N) -> (B*nW, N, C)."""
        batch_windows, n, c = x.shape
        qkv = self.qkv(x).view(batch_windows, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        scores = (q * self.scale) @ k.transpose(-2, -1) + self.position_bias().unsqueeze(0)
        if mask is not None:
            n_windows = mask.shape[0]
            scores = scores.view(-1, n_windows, self.num_heads, n, n) + mask[None, :, None]
            scores = scores.view(-1, self.num_heads, n, n)
        weights = self.attn_drop(scores.softmax(dim=-1))
        out = (weights @ v).transpose(1, 2).reshape(batch_windows, n, c)
        return self.proj_drop(self.proj(out))


class SwinBlock(nn.Module):
    """Pre-norm (shifted-)window attention and MLP, each with a residual connection.

    Inputs of any size are zero-padded on the bottom/right to a multiple of the window and cropped back.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window: int = 7,
        shift: int = 0,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        if not 0 <= shift < window:
            raise ValueError(f"shift {shift} must be in [0, window={window})")
        self.window = window
        self.shift = shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window, num_heads, qkv_bias, attn_drop, drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop)

    def attend(self, x: torch.Tensor, hw: tuple[int, int], mask: torch.Tensor | None) -> torch.Tensor:
        """The (shifted-)window attention branch on normalised tokens x (B, H*W, C)."""
        (h, w), c = hw, x.shape[-1]
        x = x.view(-1, h, w, c)
        pad_h, pad_w = (-h) % self.window, (-w) % self.window
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
        hp, wp = h + pad_h, w + pad_w
        if self.shift:
            x = torch.roll(x, (-self.shift, -self.shift), dims=(1, 2))
        windows = self.attn(window_partition(x, self.window), mask if self.shift else None)
        x = window_merge(windows, self.window, hp, wp)
        if self.shift:
            x = torch.roll(x, (self.shift, self.shift), dims=(1, 2))
        return x[:, :h, :w, :].reshape(-1, h * w, c)

    def forward(self, x: torch.Tensor, hw: tuple[int, int], mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, H*W, C) at resolution ``hw``; ``mask`` is used by shifted blocks only."""
        x = x + self.drop_path(self.attend(self.norm1(x), hw, mask))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class FixedResolutionSwinBlock(SwinBlock):
    """Swin block built for one input resolution; its shift mask is the ``attn_mask`` buffer (None if unshifted).

    As in Swin-UNet, a resolution not larger than the window turns into a single unshifted window.
    """

    def __init__(
        self, dim: int, resolution: tuple[int, int], num_heads: int, window: int = 7, shift: int = 0, **kwargs
    ) -> None:
        if min(resolution) <= window:
            window, shift = min(resolution), 0
        super().__init__(dim, num_heads, window, shift, **kwargs)
        self.resolution = resolution
        mask = shifted_window_mask(*resolution, window, shift) if shift else None
        self.register_buffer("attn_mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, H*W, C) at the block's resolution."""
        return super().forward(x, self.resolution, self.attn_mask)


class PatchEmbed(nn.Module):
    """Non-overlapping ``patch x patch`` convolution, optionally followed by LayerNorm over channels."""

    def __init__(self, patch: int = 4, in_chans: int = 3, embed_dim: int = 96, norm: bool = True) -> None:
        super().__init__()
        self.patch = patch
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch, stride=patch)
        self.norm = nn.LayerNorm(embed_dim) if norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, embed_dim, ceil(H/p), ceil(W/p)); the input is zero-padded to whole patches."""
        h, w = x.shape[-2:]
        x = self.proj(F.pad(x, (0, (-w) % self.patch, 0, (-h) % self.patch)))
        if self.norm is not None:
            x = self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return x


class PatchMerging(nn.Module):
    """2x2 neighbourhood concatenation (LayerNorm over 4C) and a linear reduction to 2C; odd sizes are padded."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        """x (B, H*W, C) -> (B, ceil(H/2)*ceil(W/2), 2C)."""
        (h, w), c = hw, x.shape[-1]
        x = F.pad(x.view(-1, h, w, c), (0, 0, 0, w % 2, 0, h % 2))
        quads = [x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]]
        x = torch.cat(quads, dim=-1)
        return self.reduction(self.norm(x.reshape(x.shape[0], -1, 4 * c)))


class SwinStage(nn.Module):
    """``depth`` Swin blocks alternating unshifted/shifted windows, then an optional :class:`PatchMerging`.

    With ``resolution`` the blocks are :class:`FixedResolutionSwinBlock` (masks stored as buffers); without it
    the shift mask is computed for each input size. ``checkpointing`` recomputes blocks in the backward pass
    to save memory while training.
    """

    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        window: int,
        drop_path: Sequence[float],
        downsample: bool,
        resolution: tuple[int, int] | None = None,
        checkpointing: bool = False,
        **block_kwargs,
    ) -> None:
        super().__init__()
        self.window = window
        self.resolution = resolution
        self.fixed_resolution = resolution is not None
        self.checkpointing = checkpointing
        shifts = [0 if i % 2 == 0 else window // 2 for i in range(depth)]
        if self.fixed_resolution:
            blocks = [
                FixedResolutionSwinBlock(dim, resolution, num_heads, window, s, drop_path=p, **block_kwargs)
                for s, p in zip(shifts, drop_path)
            ]
        else:
            blocks = [
                SwinBlock(dim, num_heads, window, s, drop_path=p, **block_kwargs) for s, p in zip(shifts, drop_path)
            ]
        self.blocks = nn.ModuleList(blocks)
        self.downsample = PatchMerging(dim) if downsample else None

    def run_blocks(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        """Apply the blocks to x (B, H*W, C)."""
        if self.fixed_resolution:
            calls = [(block, ()) for block in self.blocks]
        else:
            h, w = hw
            padded = (h + (-h) % self.window, w + (-w) % self.window)
            shifted = len(self.blocks) > 1
            mask = shifted_window_mask(*padded, self.window, self.window // 2, x.device) if shifted else None
            calls = [(block, (hw, mask)) for block in self.blocks]
        for block, args in calls:
            if self.checkpointing and self.training and torch.is_grad_enabled():
                x = checkpoint(block, x, *args, use_reentrant=False)
            else:
                x = block(x, *args)
        return x

    def forward(self, x: torch.Tensor, hw: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int]]:
        """Return the stage output (B, H*W, C), the merged output (or the same tensor) and its resolution."""
        x = self.run_blocks(x, hw)
        if self.downsample is None:
            return x, x, hw
        return x, self.downsample(x, hw), ((hw[0] + 1) // 2, (hw[1] + 1) // 2)


def stochastic_depth(drop_path_rate: float, depths: Sequence[int]) -> list[list[float]]:
    """Drop-path rates rising linearly from 0 to ``drop_path_rate`` over all blocks, split per stage."""
    rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
    starts = [sum(depths[:i]) for i in range(len(depths))]
    return [rates[s : s + d] for s, d in zip(starts, depths)]


def init_transformer_weights(module: nn.Module) -> None:
    """Swin initialisation: truncated-normal (std 0.02) linear weights, zero biases, unit LayerNorms."""
    if isinstance(module, nn.Linear):
        trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


class SwinTransformer(nn.Module):
    """Hierarchical Swin backbone returning the four stage outputs (B, C_i, H/4/2^i, W/4/2^i), each LayerNormed.

    ``frozen_stages``: -1 trains everything; 0 freezes the patch embedding; ``k >= 2`` also freezes stages
    ``0 .. k-2`` (kept in eval mode), as in the Swin segmentation code.
    """

    def __init__(
        self,
        embed_dim: int = 128,
        depths: Sequence[int] = (2, 2, 18, 2),
        num_heads: Sequence[int] = (4, 8, 16, 32),
        window: int = 7,
        mlp_ratio: float = 4.0,
        drop_path_rate: float = 0.3,
        frozen_stages: int = -1,
    ) -> None:
        super().__init__()
        self.frozen_stages = frozen_stages
        self.num_features = [embed_dim * 2**i for i in range(len(depths))]
        self.patch_embed = PatchEmbed(4, 3, embed_dim)
        rates = stochastic_depth(drop_path_rate, depths)
        self.layers = nn.ModuleList(
            SwinStage(dim, depth, heads, window, rate, downsample=i < len(depths) - 1, mlp_ratio=mlp_ratio)
            for i, (dim, depth, heads, rate) in enumerate(zip(self.num_features, depths, num_heads, rates))
        )
        self.apply(init_transformer_weights)
        for i, dim in enumerate(self.num_features):
            self.add_module(f"norm{i}", nn.LayerNorm(dim))
        self._freeze_stages()

    def frozen_modules(self) -> list[nn.Module]:
        """Modules whose parameters are frozen by ``frozen_stages``."""
        modules: list[nn.Module] = [self.patch_embed] if self.frozen_stages >= 0 else []
        return modules + list(self.layers[: max(self.frozen_stages - 1, 0)])

    def _freeze_stages(self) -> None:
        for module in self.frozen_modules():
            module.eval()
            for p in module.parameters():
                p.requires_grad = False

    def train(self, mode: bool = True) -> SwinTransformer:
        """Switch mode while keeping the frozen stages in eval mode."""
        super().train(mode)
        self._freeze_stages()
        return self

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Image (B, 3, H, W) -> four feature maps (B, C_i, h_i, w_i)."""
        x = self.patch_embed(x)
        hw = (x.shape[2], x.shape[3])
        x = x.flatten(2).transpose(1, 2)
        outs = []
        for i, stage in enumerate(self.layers):
            out, x, next_hw = stage(x, hw)
            out = getattr(self, f"norm{i}")(out)
            outs.append(out.view(-1, *hw, self.num_features[i]).permute(0, 3, 1, 2).contiguous())
            hw = next_hw
        return tuple(outs)


def load_swin_segmentation_weights(model: nn.Module, weight_path: str) -> None:
    """Load the entries of a Swin segmentation checkpoint's ``state_dict`` whose names exist in ``model``.

    Only the base name of ``weight_path`` matters: the file is looked up in ``weights/`` (e.g.
    ``stseg_base.pth``); a missing file is an error naming it and where it is published.
    """
    file_name = weight_path.replace("\\", "/").rsplit("/", 1)[-1]
    load_pretrained_backbone(model, file_name, SWIN_SEGMENTATION_SOURCE, key="state_dict")
