"""Object masks from SAM (``segment_anything``) or HQ-SAM (``segment_anything_hq``), the official packages."""
from __future__ import annotations

import warnings
from dataclasses import asdict
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

from .device import autocast_for
from .settings import MaskGeneratorSettings


def _package(model: str) -> ModuleType:
    if model == "sam":
        import segment_anything

        return segment_anything
    if model == "samhq":
        import segment_anything_hq

        return segment_anything_hq
    raise ValueError(f"not a SAM-family model: {model!r} (expected sam or samhq)")


def build_sam_model(model: str, model_type: str, checkpoint: str | Path | None) -> torch.nn.Module:
    """Build SAM or HQ-SAM with the package's own builder and load ``checkpoint`` onto the CPU.

    ``checkpoint=None`` leaves the weights randomly initialised: only for plumbing tests and benchmarks.
    """
    registry = _package(model).sam_model_registry
    if model_type not in registry or model_type == "default":
        choices = sorted(k for k in registry if k != "default")
        raise ValueError(f"--model {model} has no model type {model_type!r}; choose one of {choices}")
    net = registry[model_type]()
    if checkpoint is not None:
        _load_weights(net, Path(checkpoint))
    return net.eval()


def _load_weights(net: torch.nn.Module, path: Path) -> None:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"{path}: not a readable PyTorch checkpoint ({error})") from error
    missing, unexpected = net.load_state_dict(state, strict=False)
    if missing:
        raise ValueError(f"{path}: lacks {len(missing)} weights of this architecture (first: {missing[:3]}); "
                         "is it the file for this --model and --model-type?")
    if unexpected:
        warnings.warn(f"{path}: {len(unexpected)} entries not used by the model (first: {unexpected[:3]})")


class SamObjectSource:
    """Runs the package's ``SamAutomaticMaskGenerator`` on an RGB image and returns its boolean masks."""

    def __init__(self, net: torch.nn.Module, model: str, settings: MaskGeneratorSettings,
                 device: torch.device) -> None:
        self.device = device
        generator_class = _package(model).SamAutomaticMaskGenerator
        self._generator = generator_class(net.to(device), output_mode="binary_mask", **asdict(settings))

    def __call__(self, image: np.ndarray) -> list[np.ndarray]:
        """Boolean H x W masks, after the generator's own small-region removal."""
        with torch.no_grad(), autocast_for(self.device):
            records = self._generator.generate(image)
        return [record["segmentation"] for record in records]
