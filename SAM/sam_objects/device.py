"""Device choice and the CUDA-only fp16 autocast."""
from __future__ import annotations

import contextlib
from typing import ContextManager

import torch
from rscommon.files import InputError


def resolve_device(name: str | None) -> torch.device:
    """``name`` as a torch device; CUDA when available if ``name`` is None."""
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device {name}: CUDA is not available on this machine")
    return device


def autocast_for(device: torch.device) -> ContextManager:
    """fp16 autocast on CUDA (as the reference runs); a no-op elsewhere."""
    if device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.float16)
    return contextlib.nullcontext()
