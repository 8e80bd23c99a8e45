"""Object masks from SAM (``segment_anything``) or HQ-SAM (``segment_anything_hq``), the official packages, and
the runner of any SAM-family automatic mask generator (SAM 2's too, see :mod:`sam_objects.sam2_source`).

The generators are asked for COCO RLE (``output_mode="coco_rle"``), so masks are never held densely here; each RLE
becomes an object record as it is.
"""

from __future__ import annotations

import importlib
import warnings
from dataclasses import asdict
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch

from rscommon.files import InputError
from rscommon.objects import object_record

from .device import autocast_for
from .settings import MaskGeneratorSettings

PACKAGES = {"sam": "segment_anything", "samhq": "segment_anything_hq"}


def sam_package(model: str) -> ModuleType:
    """The official package of ``model`` (``sam`` or ``samhq``), imported on first use."""
    if model not in PACKAGES:
        raise InputError(f"not a SAM-family model: {model!r} (expected sam or samhq)")
    with warnings.catch_warnings():
        # segment_anything_hq registers its TinyViT under names timm already has, through timm's deprecated
        # module paths, when imported: noise about the package's own code, shown to every user otherwise.
        warnings.filterwarnings("ignore", message="Overwriting tiny_vit_", category=UserWarning)
        warnings.filterwarnings("ignore", message="Importing from timm.models", category=FutureWarning)
        return importlib.import_module(PACKAGES[model])


def build_sam_model(model: str, model_type: str, checkpoint: str | Path | None) -> torch.nn.Module:
    """Build SAM or HQ-SAM with the package's own builder and load ``checkpoint`` onto the CPU.

    ``checkpoint=None`` leaves the weights randomly initialised: only for plumbing tests and benchmarks.
    """
    registry = sam_package(model).sam_model_registry
    if model_type not in registry or model_type == "default":
        choices = sorted(k for k in registry if k != "default")
        raise InputError(f"--model {model} has no model type {model_type!r}; choose one of {choices}")
    net = registry[model_type]()
    if checkpoint is not None:
        load_weights(net, Path(checkpoint), f"--model {model} --model-type {model_type}")
    return net.eval()


def load_weights(net: torch.nn.Module, path: Path, model_name: str, key: str | None = None) -> None:
    """Load the state dict at ``path`` (under ``key`` when the file holds it in a dict, as SAM 2's do) into
    ``net``; one line naming the file if it does not fit ``net``."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise InputError(f"{path}: not a readable PyTorch checkpoint ({error})") from error
    if key is not None:
        if not isinstance(state, dict) or key not in state:
            raise InputError(f"{path}: has no {key!r} entry, so it is not a checkpoint of {model_name}")
        state = state[key]
    if not isinstance(state, dict) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise InputError(f"{path}: not a state dict of tensors, so it does not fit {model_name}")
    expected = net.state_dict()
    missing = [name for name in expected if name not in state]
    reshaped = [
        f"{name} {list(state[name].shape)} (needs {list(tensor.shape)})"
        for name, tensor in expected.items()
        if name in state and state[name].shape != tensor.shape
    ]
    if missing or reshaped:
        problems = []
        if missing:
            problems.append(f"lacks {len(missing)} of its {len(expected)} weights (first: {missing[:3]})")
        if reshaped:
            problems.append(f"{len(reshaped)} weights of another shape (first: {reshaped[0]})")
        raise InputError(
            f"{path}: does not fit {model_name}: {'; '.join(problems)}. "
            "Is it the file for this --model and --model-type?"
        )
    unexpected = [name for name in state if name not in expected]
    if unexpected:
        warnings.warn(
            f"{path}: {len(unexpected)} entries not used by the model (first: {unexpected[:3]})", stacklevel=2
        )
    net.load_state_dict(state, strict=False)


def sam_object_source(
    model: str, model_type: str, checkpoint: Path | None, settings: MaskGeneratorSettings, device: torch.device
) -> SamObjectSource:
    """SAM or HQ-SAM (``model``) with its package's ``SamAutomaticMaskGenerator`` at ``settings`` on ``device``;
    fp16 autocast on CUDA, as the reference runs. ``checkpoint=None``: random weights (tests, benchmarks)."""
    net = build_sam_model(model, model_type, checkpoint).to(device)
    generator = sam_package(model).SamAutomaticMaskGenerator(net, output_mode="coco_rle", **asdict(settings))
    return SamObjectSource(generator, device, torch.float16)


class SamObjectSource:
    """Runs a SAM-family automatic mask generator (made with ``output_mode="coco_rle"``) on an RGB image and
    returns its objects as records; on CUDA under autocast to ``autocast_dtype`` (None: full precision)."""

    def __init__(self, generator: Any, device: torch.device, autocast_dtype: torch.dtype | None) -> None:
        self.generator = generator
        self.device = device
        self.autocast_dtype = autocast_dtype

    def __call__(self, image: np.ndarray) -> list[dict]:
        """``{"rles", "area"}`` records of the masks, after the generator's own small-region removal."""
        with torch.no_grad(), autocast_for(self.device, self.autocast_dtype):
            found = self.generator.generate(image)
        return [object_record(record["segmentation"]) for record in found]
