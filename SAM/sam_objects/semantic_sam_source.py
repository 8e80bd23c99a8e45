"""Object masks from Semantic-SAM through its published package API (untested here: no package on PyPI).

The package is imported only when this source is chosen. Like the reference, the generator is run once per
granularity level with point prompts on a regular grid, and the masks of all levels are kept.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

from rscommon.files import InputError
from rscommon.objects import encode_object

from .dependencies import MissingDependencyError
from .device import autocast_for
from .settings import SemanticSamSettings

INSTALL_HINT = """Semantic-SAM is not installed (it is not published on PyPI). Install it from source:
  pip install 'git+https://github.com/MaureenZOU/detectron2-xyz.git'
  pip install 'git+https://github.com/cocodataset/panopticapi.git'
  git clone https://github.com/UX-Decoder/Semantic-SAM
  pip install -r Semantic-SAM/requirements.txt
  export PYTHONPATH="$PWD/Semantic-SAM:$PYTHONPATH"
It needs a CUDA GPU (its model builder moves the model to CUDA)."""

# Semantic-SAM's builder names its backbones 'L' and 'T'.
_BACKBONE_LETTER = {"swinl": "L", "swint": "T"}


def import_semantic_sam() -> ModuleType:
    """The ``semantic_sam`` package, or :class:`MissingDependencyError` with install instructions."""
    try:
        import semantic_sam
    except ImportError as error:
        raise MissingDependencyError(f"{INSTALL_HINT}\n  (import failed: {error})") from error
    return semantic_sam


def build_semantic_sam_model(model_type: str, checkpoint: Path, device: torch.device) -> torch.nn.Module:
    """Build Semantic-SAM with its own ``build_semantic_sam`` (which reads configs relative to its clone).

    The checkpoint must exist (the registry checks it after the package); the device must be CUDA.
    """
    package = import_semantic_sam()
    if device.type != "cuda":
        raise InputError(f"--model ssam needs a CUDA device (got {device}); its builder places the model on CUDA")
    clone_root = Path(package.__file__).resolve().parents[1]
    previous = os.getcwd()
    os.chdir(clone_root)
    try:
        return package.build_semantic_sam(model_type=_BACKBONE_LETTER[model_type], ckpt=str(checkpoint))
    finally:
        os.chdir(previous)


class SemanticSamObjectSource:
    """One ``SemanticSamAutomaticMaskGenerator`` per granularity level; the masks of all levels are returned."""

    def __init__(self, net: torch.nn.Module, settings: SemanticSamSettings, device: torch.device) -> None:
        generator_class = import_semantic_sam().SemanticSamAutomaticMaskGenerator
        arguments = asdict(settings)
        levels = arguments.pop("levels")
        self.device = device
        self._generators = [
            generator_class(net, level=[level], output_mode="binary_mask", **arguments) for level in levels
        ]

    def __call__(self, image: np.ndarray) -> list[dict]:
        """``{"rles", "area"}`` records of the masks at the image's own resolution, level by level."""
        tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).to(self.device)
        records = []
        with torch.no_grad(), autocast_for(self.device):
            for generator in self._generators:
                records.extend(
                    encode_object(np.asarray(found["segmentation"], dtype=bool)) for found in generator.generate(tensor)
                )
        return records
