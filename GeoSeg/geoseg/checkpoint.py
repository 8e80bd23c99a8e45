"""Read a Lightning checkpoint (ours or the paper's released ones) into a bare network."""
from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import torch
from torch import nn

NET_PREFIX = "net."


def read_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint file on the CPU, tensors only when possible.

    Lightning checkpoints written by other versions may hold pickled objects; those are loaded with a
    warning, so only load checkpoints you trust.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        warnings.warn(f"{path} holds pickled Python objects; loading it in full (only do this for trusted files)",
                      stacklevel=2)
        return torch.load(path, map_location="cpu", weights_only=False)


def load_net_weights(net: nn.Module, path: str | Path) -> None:
    """Load the ``net.*`` entries of a Lightning checkpoint (or a bare state_dict) into ``net``, strictly."""
    state = read_checkpoint(path)
    state = state.get("state_dict", state)
    if any(key.startswith(NET_PREFIX) for key in state):
        state = {key[len(NET_PREFIX):]: value for key, value in state.items() if key.startswith(NET_PREFIX)}
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ValueError(f"checkpoint {path} does not fit {type(net).__name__}: {error}") from error
