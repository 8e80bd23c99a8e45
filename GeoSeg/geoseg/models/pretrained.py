"""Locate ImageNet-pretrained backbone weights under ``weights/`` without ever downloading them."""
from __future__ import annotations

import warnings

import torch
from torch import nn

from rscommon.paths import find_weights, weights_dir


def load_pretrained_backbone(
    module: nn.Module, file_name: str, source: str, *, strict: bool = False, key: str | None = None
) -> bool:
    """Load ``weights/<file_name>`` into ``module``; warn once and keep random weights when it is missing.

    ``source`` says where the file is officially published. ``key`` selects a sub-dictionary of the
    checkpoint (for example ``"state_dict"`` or ``"model"``). Returns whether weights were loaded.
    """
    path = find_weights(file_name)
    if path is None:
        warnings.warn(
            f"pretrained backbone weights {weights_dir() / file_name} not found (published at {source}); "
            f"{type(module).__name__} starts from random weights",
            stacklevel=2,
        )
        return False
    state = torch.load(path, map_location="cpu", weights_only=True)
    if key is not None and key in state:
        state = state[key]
    missing, unexpected = module.load_state_dict(state, strict=strict)
    if strict is False and len(missing) == len(module.state_dict()):
        raise ValueError(f"{path}: none of its {len(state)} entries match {type(module).__name__}")
    return True
