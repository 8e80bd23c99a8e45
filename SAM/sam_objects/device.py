"""Device choice and the CUDA-only autocast."""

from __future__ import annotations

import contextlib

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


def autocast_for(device: torch.device, dtype: torch.dtype | None = torch.float16) -> contextlib.AbstractContextManager:
    """Autocast to ``dtype`` on CUDA (fp16 as the reference runs SAM; bf16 for SAM 2); a no-op elsewhere or when
    ``dtype`` is None."""
    if device.type == "cuda" and dtype is not None:
        return torch.autocast(device_type="cuda", dtype=dtype)
    return contextlib.nullcontext()
