"""Input-size precondition shared by networks whose skip connections need exactly divisible sizes."""

from __future__ import annotations

import torch


def require_divisible(x: torch.Tensor, multiple: int, model_name: str) -> None:
    """Raise ``ValueError`` unless the height and width of ``x`` (B, C, H, W) are multiples of ``multiple``."""
    height, width = x.shape[-2:]
    if height % multiple or width % multiple:
        raise ValueError(
            f"{model_name} needs input height and width divisible by {multiple}, got {height}x{width}; "
            f"pad or crop the image first"
        )
